"""Synthetic Freddie-Mac-like loan tape with a known data-generating process (docs/DATA.md).

Deterministic: rows are produced in blocks of `BLOCK` loans, block b drawn from
`numpy.random.default_rng([seed, b])`, so a tape of n loans is the first n loans of any longer tape
with the same seed, whatever the chunking of the writer.

CLI: /usr/bin/python3 -m scripts.loanmodel.generate --n 1000000 --seed 7 --out tape.csv
     [--format csv|freddie|json] [--with-label]
"""

import argparse
import sys

import numpy as np
import pandas as pd

from .schema import LABEL, MODELLED_STATES, STATES

BLOCK = 50_000

# --- Vintage mix (first-payment year) and the market ------------------------------------------------
YEARS = np.arange(2001, 2011)
YEAR_SHARE = np.array([0.11, 0.15, 0.19, 0.10, 0.10, 0.09, 0.09, 0.09, 0.05, 0.03])
# Average 30-year fixed note rate by year (Freddie Mac PMMS, rounded).
MARKET_RATE = np.array([7.0, 6.5, 5.8, 5.8, 5.85, 6.4, 6.35, 6.05, 5.05, 4.7])
CONFORMING_LIMIT = np.array([275_000, 300_700, 322_700, 333_700, 359_650, 417_000, 417_000, 417_000,
                             417_000, 417_000])
PURCHASE_SHARE = np.array([0.35, 0.28, 0.22, 0.42, 0.45, 0.48, 0.45, 0.38, 0.22, 0.25])
CASHOUT_SHARE_OF_REFI = np.array([0.40, 0.38, 0.33, 0.50, 0.58, 0.62, 0.58, 0.45, 0.25, 0.22])
BROKER_SHARE = np.array([0.18, 0.18, 0.19, 0.21, 0.22, 0.22, 0.20, 0.12, 0.08, 0.08])
DTI_MISSING = np.array([0.035, 0.03, 0.025, 0.015, 0.015, 0.01, 0.01, 0.003, 0.003, 0.003])
# House-price path after origination, in default log-odds (boom vintages < 0, 2005-2008 crash > 0).
VINTAGE_SHOCK = np.array([-0.15, -0.2, -0.25, -0.05, 0.35, 0.75, 0.8, 0.45, -0.35, -0.5])

# --- Geography --------------------------------------------------------------------------------------
# Shares of the modelled states; the other states share the rest in proportion to POPULATION.
MODELLED_SHARE = {"CA": 0.13, "FL": 0.07, "NV": 0.012, "AZ": 0.03, "MI": 0.045, "OH": 0.04, "GA": 0.035,
                  "IL": 0.05, "TX": 0.06, "NY": 0.04, "NJ": 0.035, "PA": 0.04}
POPULATION = {"AK": 0.7, "AL": 4.6, "AR": 2.8, "CO": 4.7, "CT": 3.5, "DC": 0.55, "DE": 0.85, "GU": 0.05,
              "HI": 1.3, "IA": 3.0, "ID": 1.4, "IN": 6.3, "KS": 2.7, "KY": 4.2, "LA": 4.5, "MA": 6.4,
              "MD": 5.6, "ME": 1.3, "MN": 5.1, "MO": 5.8, "MS": 2.9, "MT": 0.93, "NC": 8.7, "ND": 0.64,
              "NE": 1.75, "NH": 1.3, "NM": 1.9, "OK": 3.5, "OR": 3.6, "PR": 0.5, "RI": 1.07, "SC": 4.2,
              "SD": 0.78, "TN": 5.9, "UT": 2.5, "VA": 7.6, "VI": 0.02, "VT": 0.62, "WA": 6.3, "WI": 5.5,
              "WV": 1.8, "WY": 0.51}
# How strongly a state's defaults follow the vintage's house-price shock (sand states most).
HPI_SENSITIVITY = {"CA": 2.4, "FL": 2.6, "NV": 3.2, "AZ": 2.8, "MI": 1.8, "OH": 1.4, "GA": 1.2, "IL": 1.2,
                   "TX": 0.2, "NY": 0.6, "NJ": 0.8, "PA": 0.5}
# Persistent regional economy, all vintages (rust belt weak, Texas strong).
STATE_BASE = {"MI": 0.45, "OH": 0.35, "GA": 0.1, "TX": -0.1}
HIGH_COST = {"CA": 1.5, "NY": 1.25, "NJ": 1.25, "MA": 1.25, "DC": 1.3, "HI": 1.4, "MD": 1.15, "VA": 1.1,
             "WA": 1.1}

INTERCEPT = -5.55  # set once so that the base mix defaults at about 3 % within 36 months
FRAILTY_SD = 1.0

# --- Missing values ---------------------------------------------------------------------------------
# Probability that a value is missing (the DTI rate depends on the vintage, see DTI_MISSING).
MISSING_RATE = {"credit_score": 0.002, "mi_percent": 0.0005, "number_of_units": 0.0002,
                "occupancy_status": 0.0003, "cltv": 0.001, "ltv": 0.0002, "channel": 0.0005,
                "first_time_homebuyer_flag": 0.004, "property_type": 0.0003, "loan_purpose": 0.0005,
                "number_of_borrowers": 0.0005}
SENTINEL = {"credit_score": 9999, "mi_percent": 999, "number_of_units": 99, "cltv": 999, "dti": 999,
            "ltv": 999, "number_of_borrowers": 99, "occupancy_status": "9", "channel": "9",
            "first_time_homebuyer_flag": "9", "property_type": "99", "loan_purpose": "9"}
NULL_SHARE = 0.3  # share of missing values written as null/empty instead of the sentinel


def _state_tables():
    states = np.array(STATES)
    share = np.zeros(len(STATES))
    other = sum(POPULATION.values())
    rest = 1.0 - sum(MODELLED_SHARE.values())
    for i, s in enumerate(STATES):
        share[i] = MODELLED_SHARE[s] if s in MODELLED_SHARE else rest * POPULATION[s] / other
    sens = np.array([HPI_SENSITIVITY.get(s, 0.7) for s in STATES])
    base = np.array([STATE_BASE.get(s, 0.0) for s in STATES])
    cost = np.array([HIGH_COST.get(s, 1.0) for s in STATES])
    assert set(MODELLED_SHARE) == set(MODELLED_STATES) and set(POPULATION) | set(MODELLED_SHARE) == set(STATES)
    return states, share / share.sum(), sens, base, cost


_STATES, _STATE_SHARE, _STATE_SENS, _STATE_BASE, _STATE_COST = _state_tables()


def _choice(rng, n, values, p):
    return np.asarray(values)[rng.choice(len(values), size=n, p=p)]


def _latent(rng, n):
    """True loan characteristics (before missing values are introduced)."""
    yi = rng.choice(len(YEARS), size=n, p=YEAR_SHARE)
    year = YEARS[yi]
    month = rng.integers(1, 13, size=n)
    state_i = rng.choice(len(_STATES), size=n, p=_STATE_SHARE)
    boom = (year >= 2004) & (year <= 2007)

    u = rng.random(n)
    purchase = u < PURCHASE_SHARE[yi]
    refi_u = rng.random(n)
    cashout = ~purchase & (refi_u < CASHOUT_SHARE_OF_REFI[yi] * 0.985)
    refi_unspecified = ~purchase & ~cashout & (refi_u > 0.985)
    purpose = np.where(purchase, "P", np.where(cashout, "C", np.where(refi_unspecified, "R", "N")))

    occ_u = rng.random(n)
    p_investor = (0.05 + 0.02 * boom) * np.where(purpose == "N", 0.8, 1.0)
    investor = occ_u < p_investor
    second = ~investor & (occ_u < p_investor + 0.04)
    occupancy = np.where(investor, "I", np.where(second, "S", "P"))

    fthb = purchase & ~investor & ~second & (rng.random(n) < 0.35)
    units = np.where(investor, _choice(rng, n, [1, 2, 3, 4], [0.80, 0.12, 0.04, 0.04]),
                     _choice(rng, n, [1, 2, 3, 4], [0.985, 0.01, 0.0025, 0.0025]))
    ptype = np.where(units > 1, "SF", _choice(rng, n, ["SF", "PU", "CO", "MH", "CP"],
                                             [0.685, 0.19, 0.095, 0.02, 0.01]))
    t_u = rng.random(n)
    channel = np.where(t_u < BROKER_SHARE[yi], "B",
                       np.where(t_u < BROKER_SHARE[yi] + 0.30, "C",
                                np.where(t_u < BROKER_SHARE[yi] + 0.30 + np.where(year >= 2008, 0.08, 0.01),
                                         "T", "R")))
    arm = rng.random(n) < np.where(boom, 0.05, 0.02)
    term = np.where(purchase, _choice(rng, n, [360, 180, 240, 300, 120], [0.87, 0.08, 0.03, 0.01, 0.01]),
                    _choice(rng, n, [360, 180, 240, 300, 120], [0.70, 0.22, 0.05, 0.01, 0.02]))
    term = np.where(arm, 360, term)
    borrowers = np.where(fthb, _choice(rng, n, [1, 2, 3], [0.55, 0.44, 0.01]),
                         _choice(rng, n, [1, 2, 3, 4], [0.43, 0.55, 0.015, 0.005]))

    # Credit score: a prime and a near-prime population, shifted by purpose and occupancy.
    prime = rng.random(n) < 0.76
    fico = np.where(prime, rng.normal(744, 40, n), rng.normal(652, 38, n))
    fico += -10 * cashout + 10 * investor - 8 * fthb + 12 * (year >= 2008) - 5 * (channel == "B")
    fico = np.clip(np.rint(fico), 300, 850)

    # LTV: purchases bunch at 80 and at the MI bands; refinances spread below 80; cash-out capped ~85.
    ltv = np.empty(n)
    r = rng.random(n)
    low = np.rint(30 + 49 * rng.beta(3.0, 1.6, n))
    p_ltv = np.where(r < 0.30, low,
                     np.where(r < 0.68, 80,
                              np.where(r < 0.78, _choice(rng, n, [82, 85, 87, 89], [0.15, 0.55, 0.15, 0.15]),
                                       np.where(r < 0.85, 90,
                                                np.where(r < 0.97, _choice(rng, n, [93, 95], [0.2, 0.8]),
                                                         _choice(rng, n, [97, 100], [0.8, 0.2]))))))
    n_ltv = np.where(r < 0.90, np.rint(15 + 65 * rng.beta(3.2, 1.6, n)),
                     np.where(r < 0.96, _choice(rng, n, [85, 88, 90], [0.5, 0.2, 0.3]),
                              _choice(rng, n, [90, 95], [0.5, 0.5])))
    c_ltv = np.where(r < 0.88, np.rint(20 + 60 * rng.beta(3.6, 1.4, n)),
                     np.where(r < 0.98, rng.integers(81, 86, n), rng.integers(86, 91, n)))
    ltv[:] = np.where(purchase, p_ltv, np.where(cashout, c_ltv, n_ltv))
    ltv = np.where(investor, np.minimum(np.rint(ltv * 0.92), 80), ltv)

    # CLTV: piggyback second liens on 80-LTV purchases (common in the boom), some refi seconds.
    piggy = purchase & (ltv == 80) & ~investor & (rng.random(n) < np.where(boom, 0.20, 0.06))
    cltv = np.where(piggy, 80 + _choice(rng, n, [5, 10, 15, 20], [0.2, 0.45, 0.1, 0.25]), ltv)
    refi_second = ~purchase & (rng.random(n) < 0.05)
    cltv = np.where(refi_second, ltv + rng.integers(3, 21, n), cltv)

    # Mortgage insurance: required above 80 LTV (a few lender-paid without), rare below.
    band = np.select([ltv <= 80, ltv <= 85, ltv <= 90, ltv <= 95], [0, 1, 2, 3], 4)
    standard = np.array([0, 12, 25, 30, 35])[band]
    reduced = np.array([0, 6, 17, 25, 30])[band]
    mi = np.where(rng.random(n) < 0.25, reduced, standard)
    mi = np.where((ltv > 80) & (rng.random(n) < 0.06), 0, mi)
    mi = np.where((ltv <= 80) & (rng.random(n) < 0.002), _choice(rng, n, [6, 12], [0.5, 0.5]), mi)

    dti = rng.normal(33 + 3 * fthb + 2 * cashout - 2 * investor + 2 * boom + 0.02 * (720 - fico), 9.5)
    dti = np.clip(np.rint(dti), 1, 64)

    # Note rate: market + term + risk-based pricing + noise, in eighths. The noise is partly
    # information the lender had (it enters the default model as the rate spread).
    expected_rate = (MARKET_RATE[yi] + np.select([term == 180, term == 240, term == 120, term == 300],
                                                 [-0.45, -0.25, -0.6, -0.1], 0.0)
                     - 0.8 * arm + 0.004 * np.maximum(0, 740 - fico) + 0.15 * (ltv > 80) + 0.25 * investor
                     + 0.1 * cashout)
    rate = np.maximum(np.rint((expected_rate + rng.normal(0, 0.25, n)) * 8) / 8, 1.0)

    upb = np.exp(rng.normal(np.log(145_000 * 1.05 ** np.minimum(year - 2001, 6) * _STATE_COST[state_i]), 0.5))
    upb = np.rint(np.clip(upb, 20_000, CONFORMING_LIMIT[yi]) / 1000) * 1000

    return pd.DataFrame({
        "year": year, "month": month, "state_i": state_i, "purpose": purpose, "occupancy": occupancy,
        "fthb": fthb, "units": units, "ptype": ptype, "channel": channel, "arm": arm, "term": term,
        "borrowers": borrowers, "fico": fico, "ltv": ltv, "cltv": cltv, "mi": mi, "dti": dti, "rate": rate,
        "rate_spread": rate - expected_rate, "upb": upb,
    })


def default_log_odds(L, dti_missing):
    """The true log-odds of default within 36 months (documented formula by formula in docs/DATA.md)."""
    yi = L["year"].to_numpy() - YEARS[0]
    fico, cltv, dti = L["fico"].to_numpy(), L["cltv"].to_numpy(), L["dti"].to_numpy()
    occ, purpose = L["occupancy"].to_numpy(), L["purpose"].to_numpy()
    investor, cashout = occ == "I", purpose == "C"
    year = L["year"].to_numpy()
    term, ptype, channel = L["term"].to_numpy(), L["ptype"].to_numpy(), L["channel"].to_numpy()

    lf = np.clip((700 - fico) / 60, 0, 1.5)  # low-score, high-leverage, high-DTI intensities
    hl = np.clip((cltv - 85) / 10, 0, 1.5)
    hd = np.clip((dti - 40) / 10, 0, 1.5)
    equity = np.clip((cltv - 75) / 15, 0, 1)
    z = (INTERCEPT
         - 0.011 * (fico - 720) + 0.012 * np.maximum(0, 660 - fico)
         + 0.01 * np.minimum(cltv - 80, 0) + 0.035 * np.maximum(cltv - 80, 0)
         + 0.02 * np.maximum(dti - 36, 0) + 0.05 * np.maximum(dti - 45, 0)
         + 0.9 * lf * hl + 0.7 * lf * hd + 0.6 * hl * hd + 0.8 * lf * hl * hd
         + 0.45 * investor + 0.15 * (occ == "S") + 0.55 * investor * cashout
         + 0.25 * cashout + 0.10 * (purpose == "R") - 0.05 * (purpose == "N")
         + VINTAGE_SHOCK[yi] * _STATE_SENS[L["state_i"].to_numpy()] * (0.5 + 1.5 * equity)
         + _STATE_BASE[L["state_i"].to_numpy()]
         + 0.25 * (L["units"].to_numpy() > 1) + 0.5 * (ptype == "MH") + 0.2 * (ptype == "CP")
         + 0.12 * (ptype == "CO") * ((year >= 2005) & (year <= 2008))
         + 0.1 * (channel == "B") + 0.25 * (channel == "B") * ((year >= 2004) & (year <= 2007))
         + 0.05 * (channel == "C") + 0.1 * (channel == "T")
         + 0.35 * (L["borrowers"].to_numpy() == 1)
         + 0.9 * np.maximum(L["rate_spread"].to_numpy(), 0)
         + 0.4 * (L["upb"].to_numpy() < 60_000)
         + np.select([term <= 120, term <= 180, term <= 240, term <= 300], [-1.0, -0.8, -0.4, -0.1], 0.0)
         + L["arm"].to_numpy() * (0.35 + 0.3 * ((year >= 2005) & (year <= 2007)))
         + 0.1 * L["fthb"].to_numpy()
         + 0.3 * dti_missing)
    return z


def _observe(rng, L):
    """The loan record as a lender reports it: codes, sentinels and (some) nulls."""
    n = len(L)
    yi = L["year"].to_numpy() - YEARS[0]
    purchase = L["purpose"].to_numpy() == "P"
    rec = {
        "credit_score": L["fico"].to_numpy(float, copy=True),
        "first_payment_date": (L["year"] * 100 + L["month"]).to_numpy(float, copy=True),
        "first_time_homebuyer_flag": np.where(L["fthb"], "Y", "N").astype(object),
        "mi_percent": L["mi"].to_numpy(float, copy=True),
        "number_of_units": L["units"].to_numpy(float, copy=True),
        "occupancy_status": L["occupancy"].to_numpy(object, copy=True),
        "cltv": L["cltv"].to_numpy(float, copy=True),
        "dti": L["dti"].to_numpy(float, copy=True),
        "original_upb": L["upb"].to_numpy(float, copy=True),
        "ltv": L["ltv"].to_numpy(float, copy=True),
        "original_interest_rate": L["rate"].to_numpy(float, copy=True),
        "channel": L["channel"].to_numpy(object, copy=True),
        "amortization_type": np.where(L["arm"], "ARM", "FRM").astype(object),
        "property_state": _STATES[L["state_i"].to_numpy()].astype(object),
        "property_type": L["ptype"].to_numpy(object, copy=True),
        "loan_purpose": L["purpose"].to_numpy(object, copy=True),
        "original_loan_term": L["term"].to_numpy(float, copy=True),
        "number_of_borrowers": L["borrowers"].to_numpy(float, copy=True),
    }
    missing = {f: rng.random(n) < p for f, p in MISSING_RATE.items()}
    # Refinances have no first-time-buyer status to report more often than purchases.
    missing["first_time_homebuyer_flag"] |= ~purchase & (rng.random(n) < 0.004)
    missing["dti"] = rng.random(n) < DTI_MISSING[yi]
    null = rng.random(n) < NULL_SHARE
    for f, m in missing.items():
        v = rec[f]
        v[m] = SENTINEL[f]
        v[m & null] = np.nan if v.dtype.kind == "f" else None
    return pd.DataFrame(rec), missing["dti"]


def _sequence_numbers(L, block, offset):
    q = (L["month"].to_numpy() - 1) // 3 + 1
    yy = L["year"].to_numpy() % 100
    idx = block * BLOCK + offset + np.arange(len(L))
    return [f"F{y:02d}Q{qq}{i:07d}" for y, qq, i in zip(yy, q, idx)]


def generate_block(seed, block, size=BLOCK):
    """Loans block*BLOCK .. block*BLOCK+size-1 of the tape for `seed`, with the label."""
    rng = np.random.default_rng([seed, block])
    L = _latent(rng, BLOCK)
    df, dti_missing = _observe(rng, L)
    # Unobserved heterogeneity (job loss, divorce, ...): what no origination model can see.
    z = default_log_odds(L, dti_missing) + rng.normal(0, FRAILTY_SD, BLOCK)
    p = 1 / (1 + np.exp(-z))
    label = (rng.random(BLOCK) < p).astype(np.int8)
    df["loan_sequence_number"] = _sequence_numbers(L, block, 0)
    df[LABEL] = label
    return df.iloc[:size].reset_index(drop=True)


def iter_blocks(n, seed):
    for b in range((n + BLOCK - 1) // BLOCK):
        yield generate_block(seed, b, min(BLOCK, n - b * BLOCK))


def generate(n, seed):
    """The first n loans of the tape for `seed`, as a DataFrame (loan record fields + label)."""
    return pd.concat(list(iter_blocks(n, seed)), ignore_index=True)


def main(argv=None):
    from .tape import write_tape

    ap = argparse.ArgumentParser(prog="python3 -m scripts.loanmodel.generate", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, required=True, help="number of loans")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True, help="output path ('-' for stdout)")
    ap.add_argument("--format", choices=("csv", "freddie", "json"), default="csv")
    ap.add_argument("--with-label", action="store_true", help=f"add the {LABEL} column (0/1)")
    args = ap.parse_args(argv)
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8", newline="")
    try:
        write_tape(out, iter_blocks(args.n, args.seed), args.format, args.with_label)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
