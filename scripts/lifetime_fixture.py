"""Writes test/fixtures/lifetime.json: a generated tape (the generator's loans with random PDs and loan ages)
and what the Python reference of the lifetime-loss engine (scripts/loanmodel/lifetime.py) answers for it under
several scenarios, timing curves, prepayment assumptions and recovery lags: per-loan figures and the pool's
monthly vectors.

test/loss/reference.test.ts runs the TypeScript engine (src/loss) on the same loans and compares (1e-10
relative); scripts/tests/test_lifetime.py checks the file is current. Regenerate after changing either side:

    /usr/bin/python3 scripts/lifetime_fixture.py [--check]
"""

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from scripts.loanmodel import fixtures, lifetime, scenario  # noqa: E402
from scripts.loanmodel.fixtures import compact, lines  # noqa: E402
from scripts.loanmodel.generate import generate  # noqa: E402
from scripts.loanmodel.reference import loan_records  # noqa: E402

FIXTURE = os.path.join(ROOT, "test", "fixtures", "lifetime.json")
SEED = 2222
N = 40
KEEP = ("original_upb", "original_interest_rate", "original_loan_term", "ltv", "cltv", "credit_score", "mi_percent",
        "property_state", "first_payment_date")

CASES = [
    {"scenario": "baseline", "timing": "seasoning", "prepayment": {"kind": "none"}, "recovery_lag": 12},
    {"scenario": "adverse", "timing": "sda", "prepayment": {"kind": "psa", "multiple": 1.5}, "recovery_lag": 12},
    {"scenario": "severely_adverse", "timing": "seasoning", "prepayment": {"kind": "psa", "multiple": 1},
     "recovery_lag": 24},
    {"scenario": "historical", "timing": "seasoning", "prepayment": {"kind": "cpr", "cpr": 0.08}, "recovery_lag": 18},
    {"scenario": {"name": "sand_bust", "national": [-0.03] * 8 + [0.01] * 8, "states": {"CA": [-0.08] * 6 + [0.0] * 6}},
     "timing": "flat", "prepayment": {"kind": "cpr", "cpr": [0.02, 0.04, 0.06, 0.1, 0.3]}, "recovery_lag": 0},
    {"scenario": "adverse", "timing": "seasoning", "prepayment": {"kind": "psa", "multiple": 1}, "recovery_lag": 12,
     "defaults": {"kind": "sda", "multiple": 2}},
    {"scenario": "baseline", "timing": "seasoning", "prepayment": {"kind": "cpr", "cpr": 0.1}, "recovery_lag": 6,
     "defaults": {"kind": "cdr", "cdr": [0.001, 0.004, 0.01, 0.02]}},
    # The hazard on the scenario's house prices (mark-to-market CLTV multiplier) and the scenario prepayment.
    {"scenario": "severely_adverse", "timing": "seasoning", "hazard": "house_prices",
     "prepayment": {"kind": "psa", "multiple": 1}, "recovery_lag": 12},
    {"scenario": "baseline", "timing": "sda", "hazard": "house_prices", "prepayment": {"kind": "scenario"},
     "recovery_lag": 6},
    {"scenario": "historical", "timing": "seasoning", "hazard": "house_prices", "prepayment": {"kind": "scenario"},
     "recovery_lag": 12},
    {"scenario": {"name": "sand_bust", "national": [-0.03] * 8 + [0.01] * 8, "states": {"CA": [-0.08] * 6 + [0.0] * 6}},
     "timing": "flat", "hazard": "timing_only", "prepayment": {"kind": "scenario"}, "recovery_lag": 0},
    {"scenario": "adverse", "timing": "seasoning", "hazard": "house_prices", "prepayment": {"kind": "scenario"},
     "recovery_lag": 12, "defaults": {"kind": "sda", "multiple": 1}},
    # The market-rate path: a preset's (the Fed's severely adverse mortgage rate) and a custom one rising.
    {"scenario": "severely_adverse", "timing": "seasoning", "hazard": "house_prices",
     "prepayment": {"kind": "scenario"}, "recovery_lag": 12},
    {"scenario": {"name": "rates_up", "national": [0.01] * 12, "rates": [1.0, 0.75, 0.5, -0.25, 0.4]},
     "timing": "sda", "hazard": "timing_only", "prepayment": {"kind": "scenario"}, "recovery_lag": 6},
]


def tape():
    rng = np.random.default_rng(SEED)
    records = [{k: r.get(k) for k in KEEP} for r in loan_records(generate(N, SEED), rng)]
    pds = np.exp(rng.uniform(np.log(1e-6), np.log(0.9), N)).tolist()
    ages = [int(a) for a in rng.choice([0, 0, 0, 6, 30, 75, 130], N)]
    base = {"original_upb": 150000.0, "original_interest_rate": 0.0, "original_loan_term": 120, "ltv": 999,
            "cltv": 999, "credit_score": 9999, "mi_percent": 999, "property_state": None, "first_payment_date": None}
    edges = [base, {**base, "original_interest_rate": 12.875, "original_loan_term": 24, "ltv": None, "mi_percent": 35},
             {**base, "original_interest_rate": 7.25, "original_loan_term": 480, "ltv": 97, "cltv": 105,
              "credit_score": 640, "mi_percent": 30, "property_state": "NV", "first_payment_date": 200601}]
    records += edges
    pds += [0.0, 0.999, 0.35]
    ages += [0, 0, 0]
    loans = []
    for record, pd, age in zip(records, pds, ages):
        terms = lifetime.loan_terms(record, pd)
        if terms is None:
            continue
        age = min(age, int(terms["term"]) - 1)
        loans.append({"record": record, "pd": pd, "age": age})
    return loans


def run(loans, case):
    sc = scenario.resolve(case["scenario"])
    terms, hpis, markets = [], [], []
    for loan in loans:
        t = lifetime.loan_terms(loan["record"], loan["pd"])
        t["age"] = loan["age"]
        t["term"] = t["term"] - loan["age"]
        terms.append(t)
        path = lifetime.monthly_hpi(loan["record"], sc, int(t["term"]))
        hpis.append(np.ones(1) if path is None else path)
        markets.append(lifetime.monthly_market_rate(loan["record"], sc, int(t["term"])))
    lag = case["recovery_lag"]
    months = int(max(t["term"] for t in terms)) + lag
    result, V, b0 = lifetime.project(terms, hpis, case, months, markets)
    per_loan = [[float(result[k][i]) for k in RESULT_KEYS] for i in range(len(terms))]
    vectors = lifetime.pool_vectors(V, b0, months)
    return {"loans": per_loan,
            "vectors": [[v[k] for k in VECTOR_KEYS] for v in vectors]}


RESULT_KEYS = ("expected_loss_12m", "expected_loss_36m", "expected_loss_lifetime", "discounted_loss_12m",
               "discounted_loss_36m", "discounted_loss_lifetime", "lifetime_pd", "pd36", "wal", "scale")
VECTOR_KEYS = ("month", "balance", "defaulted_balance", "prepayment", "loss", "smm", "mdr", "cumulative_default_rate",
               "cumulative_loss_rate")


def build():
    loans = tape()
    return {
        "$comment": "Generated by scripts/lifetime_fixture.py with scripts/loanmodel/lifetime.py; do not edit.",
        "result_keys": list(RESULT_KEYS),
        "vector_keys": list(VECTOR_KEYS),
        "loans": loans,
        "cases": [{**case, **run(loans, case)} for case in CASES],
    }


def render(doc):
    cases = ",\n".join(
        "  {" + ", ".join(f"{compact(k)}: {compact(c[k])}" for k in ("scenario", "timing", "hazard", "prepayment", "recovery_lag", "defaults")
                      if k in c)
        + f',\n   "loans": {lines(c["loans"], "    ")},\n   "vectors": {lines(c["vectors"], "    ")}}}'
        for c in doc["cases"])
    return ("{\n"
            f' "$comment": {compact(doc["$comment"])},\n'
            f' "result_keys": {compact(doc["result_keys"])},\n'
            f' "vector_keys": {compact(doc["vector_keys"])},\n'
            f' "loans": {lines(doc["loans"], "  ")},\n'
            f' "cases": [\n{cases}\n ]\n'
            "}\n")


def main(argv=None):
    return fixtures.main(argv, __doc__.splitlines()[0], FIXTURE, "scripts/lifetime_fixture.py", lambda: render(build()))


if __name__ == "__main__":
    sys.exit(main())
