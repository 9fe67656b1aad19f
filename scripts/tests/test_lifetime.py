"""The Python reference of the lifetime-loss engine (scripts/loanmodel/lifetime.py): the fixture both
languages check is current (test/fixtures/lifetime.json, scripts/lifetime_fixture.py; test/loss/reference.test.ts
is the TypeScript side), and the reference's own properties: PD calibration, the published curves, competing
risks, conservation of principal and amortisation as history.py does it."""

import unittest

import numpy as np

from scripts import lifetime_fixture, lifetime_seasoned_fixture
from scripts.loanmodel import history, lifetime

LOAN = {"balance": 250_000.0, "rate": 6.5, "term": 360, "age": 0, "pd": 0.03, "value": 312_500.0, "mi_pct": 0.0}


def run(loans, timing="seasoning", prepayment=None, lag=12, hpis=None):
    options = {"timing": timing, "prepayment": prepayment or {"kind": "none"}, "recovery_lag": lag}
    months = max(int(loan["term"]) for loan in loans) + lag
    return lifetime.project(loans, hpis or [np.ones(1)] * len(loans), options, months)


class LifetimeTest(unittest.TestCase):
    def test_fixture_is_current(self):
        self.assertEqual(lifetime_fixture.main(["--check"]), 0)

    def test_seasoned_fixture_is_current(self):
        self.assertEqual(lifetime_seasoned_fixture.main(["--check"]), 0)

    def test_seasoned_loan_on_the_schedule_is_the_tail_of_its_origination_projection(self):
        record = {"original_upb": 250_000.0, "original_interest_rate": 4.25, "original_loan_term": 360, "ltv": 80,
                  "cltv": 90}
        path = np.exp(np.linspace(0, -0.4, 481))
        for hazard in ("timing_only", "house_prices"):
            options = {"timing": "seasoning", "hazard": hazard, "prepayment": {"kind": "none"}, "recovery_lag": 0}
            r0, v0, _ = lifetime.project([lifetime.loan_terms(record, 0.05)], [path], options, 360)
            for k in (1, 12, 40, 120):
                balance = lifetime_seasoned_fixture.scheduled_balance(record, k)
                terms = lifetime.loan_terms({**record, "loan_age": k, "current_upb": balance}, 0.05)
                terms, hpi = lifetime.seasoned_inputs(terms, path)
                r, v, _ = lifetime.project([terms], [hpi], options, 360 - k)
                self.assertEqual(r["scale"][0], r0["scale"][0])  # λ of the original window (ages 1–36)
                np.testing.assert_array_equal(v["scheduled_balance"], v0["scheduled_balance"][k:])
                # Survival to age k, then the seasoned loan's defaults: cumulative default over ages 1–36 = PD.
                if k < 36:
                    before = v0["defaults"][:k].sum()
                    after = v["defaults"][:36 - k].sum()
                    self.assertAlmostEqual(1 - (1 - before) * (1 - after), 0.05, delta=1e-12)

    def test_cumulative_default_at_36_is_the_pd(self):
        pds = [1e-6, 1e-3, 0.05, 0.5, 0.999]
        for timing in ("seasoning", "sda", "flat"):
            for age, term in ((0, 360), (40, 200), (0, 24)):
                r, _, _ = run([{**LOAN, "pd": pd, "age": age, "term": term} for pd in pds], timing)
                np.testing.assert_allclose(r["pd36"], pds, rtol=0, atol=1e-12)

    def test_published_curves(self):
        ages = np.array([1, 10, 30, 31, 60, 61, 90, 120, 121, 360])
        np.testing.assert_allclose(lifetime.psa_cpr(ages), [0.002, 0.02, 0.06, 0.06, 0.06, 0.06, 0.06, 0.06, 0.06, 0.06])
        np.testing.assert_allclose(lifetime.sda_cdr(ages),
                                   [0.0002, 0.002, 0.006, 0.006, 0.006, 0.005905, 0.00315, 0.0003, 0.0003, 0.0003])
        self.assertAlmostEqual(float(lifetime.monthly_from_annual(0.12)), 0.0106, places=4)

    def test_principal_is_conserved_and_prepaid_loans_do_not_default(self):
        _, V, b0 = run([LOAN, {**LOAN, "pd": 0.4, "term": 180}], "sda", {"kind": "psa", "multiple": 2})
        total = V["scheduled_principal"].sum() + V["prepaid"].sum() + V["defaulted"].sum()
        self.assertAlmostEqual(total / b0, 1.0, places=12)
        r, V, _ = run([{**LOAN, "pd": 0.5}], prepayment={"kind": "cpr", "cpr": 1.0})
        self.assertEqual(V["defaults"][1:].sum(), 0.0)
        self.assertEqual(r["lifetime_pd"][0], V["defaults"][0])

    def test_scheduled_balance_follows_history_amortise(self):
        _, V, _ = run([{**LOAN, "pd": 0.0}], lag=0)
        cents = np.array([25_000_000])
        pmt = history._payment_cents(cents, np.array([6500]), np.array([360]))
        for t in range(1, 360):
            cents = history.amortise(cents, np.array([6500]), pmt)
            self.assertEqual(round(V["scheduled_balance"][t - 1] * 100), int(cents[0]))
        self.assertEqual(V["scheduled_balance"][359], 0.0)

    def test_a_house_price_fall_raises_the_loss_and_mi_lowers_it(self):
        flat, _, _ = run([LOAN])
        fall, _, _ = run([LOAN], hpis=[np.array([1.0, 0.7])])
        mi, _, _ = run([{**LOAN, "mi_pct": 30.0}], hpis=[np.array([1.0, 0.7])])
        self.assertGreater(fall["expected_loss_lifetime"][0], flat["expected_loss_lifetime"][0])
        self.assertLess(mi["expected_loss_lifetime"][0], fall["expected_loss_lifetime"][0])


if __name__ == "__main__":
    unittest.main()


class ScenarioProcessTest(unittest.TestCase):
    """The `house_prices` hazard and the `scenario` prepayment are history.py's own process: the same constants
    (src/contract/loan-behaviour.json, read by history.py, lifetime.py and src/loss/engine.ts) and the same
    formulas as Batch.current_rates, checked on a grid of CLTVs, ages, rates and FICOs."""

    def rates(self, age, cltv, note, market, fico):
        from types import SimpleNamespace
        n = len(cltv)
        batch = SimpleNamespace(lp_static=np.full(n, -6.0), rate=np.asarray(note, float), fico=np.asarray(fico, float))
        cal = np.full(n, 60)
        return history.Batch.current_rates(batch, np.arange(n), age, np.asarray(cltv, float), cal, np.asarray(market))

    def test_prepayment_is_current_rates(self):
        cltv = np.array([20, 60, 80, 95, 100, 105, 110, 130, 170, 250], float)
        for age in (1, 12, 30, 31, 200):
            for fico in (600, 720):
                note, market = np.full(len(cltv), 6.5), np.linspace(3, 8, len(cltv))
                _, smm = self.rates(age, cltv, note, market, np.full(len(cltv), fico))
                ours = lifetime.scenario_smm(np.full(len(cltv), age), cltv, note, market, np.full(len(cltv), fico))
                np.testing.assert_allclose(ours, smm, rtol=1e-15, atol=0)

    def test_hazard_multiplier_is_current_rates(self):
        cltv = np.array([20, 60, 80, 95, 130, 160, 170, 250], float)
        h, _ = self.rates(40, cltv, np.full(len(cltv), 6.0), np.full(len(cltv), 6.0), np.full(len(cltv), 700))
        log_hazard = np.log(-np.log1p(-h))
        ref = log_hazard[cltv == 80][0]
        np.testing.assert_allclose(np.exp(log_hazard - ref), lifetime.cltv_multiplier(cltv), rtol=1e-9)

    def test_house_prices_hazard_keeps_the_pd(self):
        pds = [1e-6, 1e-3, 0.05, 0.5, 0.999]
        falling = np.exp(-0.01 * np.arange(481))
        for age, term in ((0, 360), (40, 200), (0, 24)):
            loans = [{**LOAN, "pd": pd, "age": age, "term": term, "second_lien": 20_000.0} for pd in pds]
            options = {"timing": "seasoning", "hazard": "house_prices", "prepayment": {"kind": "none"},
                       "recovery_lag": 0}
            r, _, _ = lifetime.project(loans, [falling] * len(loans), options, term)
            np.testing.assert_allclose(r["pd36"], pds, rtol=0, atol=1e-12)
