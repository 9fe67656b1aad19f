"""Python reference of the lifetime-loss engine (issue 22; src/loss/*.ts, docs/LOSS.md).

The same conventions and recursion as src/loss/engine.ts, written independently: vectorised over loans
month by month with numpy (the TypeScript engine loops loan by loan), amortisation by history.py's own
`_payment_cents`/`amortise`, and the severity constants derived from history.py's loss rules.
scripts/lifetime_fixture.py writes test/fixtures/lifetime.json from it; test/loss/reference.test.ts holds the
TypeScript engine to it (1e-10 relative).

Month t of the projection (t = 1 … term), loan age a = age0 + t:
  MDR_t = 1 − exp(−λ h(a)), λ = −log(1 − PD) / Σ_{t ≤ min(36, term)} h(age0 + t)   (cumulative default at
          month 36 with no prepayment = PD exactly); for a seasoned loan (an "origin": loan_age and
          current_upb on the tape, docs/LOSS.md "Seasoned loans") λ is the same loan's at origination: the
          window is ages 1 … min(36, original term) of the original schedule, on the prices since origination,
          and the level payment is the original one
  h = seasoning (history.py's curve), −log(1 − CDR_SDA)/12 (SDA) or 1 (flat); with hazard "house_prices"
      h(a) × exp(B_CLTV (min(CLTV_t, 160) − 80)), CLTV_t = (B_{t−1} + second lien) / (value × HPI_t) × 100
  or, with options["defaults"] prescribing the default rate, MDR_t = x % SDA by age or a CDR by month
  SMM_t from a CPR (vector by projection month, last value held) or a PSA multiple by age, or ("scenario")
      history.py's process: TURNOVER min(a, 30)/30 equity(CLTV_t) + refi(note − market_t) × refi equity × FICO
  defaults first: D_t = S_{t−1} MDR_t, on the start-of-month balance B_{t−1}; survivors pay the schedule,
  then prepay SMM_t of B_t; S_t = S_{t−1} (1 − MDR_t)(1 − SMM_t)
  loss of D_t: severity schedule at the house price of month t, realised at t + lag, discounted (1 + r/12)^−(t+lag)
"""

import math

import numpy as np

from . import history, hpi
from . import scenario as scen
from .schema import STATES

B = history.BEHAVIOUR
PREPAY = B["prepayment"]

PD_HORIZON = 36
MAX_TERM = 480
AGES = 2 * MAX_TERM + 1

# The severity schedule: expected values of history.py's loss rules (docs/DATA.md "Loss").
SALE_FACTOR = (sum(share * history.SALE_DISCOUNT[code] for code, share in history.DISPOSITION)
               * (history.DAMAGED[0] * history.DAMAGED[1] + 1 - history.DAMAGED[0]) * (1 - history.SELLING_COST))
REO_SHARE = dict(history.DISPOSITION)[history.ZB_REO]


def monthly_from_annual(x):
    with np.errstate(divide="ignore"):  # a CPR of 100 % is an SMM of 100 %: log1p(−1) = −inf
        return -np.expm1(np.log1p(-np.asarray(x, float)) / 12)


def annual_from_monthly(x):
    return -np.expm1(12 * np.log1p(-np.asarray(x, float)))


def psa_cpr(age, multiple=1.0):
    return np.minimum(1.0, multiple * 0.06 * np.minimum(np.maximum(age, 0), 30) / 30)


def sda_cdr(age):
    a = np.maximum(np.asarray(age, float), 0)
    return np.interp(a, [0, 30, 60, 120], [0, 0.006, 0.006, 0.0003])


def seasoning(age):
    a = np.maximum(np.asarray(age, float), 0)
    return np.minimum(a, history.SEASONING_MONTHS) / history.SEASONING_MONTHS \
        * np.exp(-np.maximum(a - 60, 0) / history.SEASONING_DECLINE)


def hazard_shape(timing):
    ages = np.arange(AGES, dtype=float)
    if timing == "sda":
        h = -np.log1p(-sda_cdr(ages)) / 12
    elif timing == "flat":
        h = np.ones(AGES)
    else:
        h = seasoning(ages)
    h[0] = 0.0
    return h


def mdr_table(defaults):
    """(by_age, prescribed MDR by age or projection month, index 0 unused) or None for the model-calibrated
    hazard. `sda`: the market's x % SDA, MDR from min(1, x × CDR_SDA(age)); `cdr`: one CDR or a vector by
    projection month (the last value holds)."""
    kind = (defaults or {"kind": "model"})["kind"]
    if kind == "sda":
        cdr = np.minimum(1.0, defaults["multiple"] * sda_cdr(np.arange(1, AGES)))
        return True, np.concatenate([[0.0], monthly_from_annual(cdr)])
    if kind == "cdr":
        v = np.atleast_1d(np.asarray(defaults["cdr"], float))
        t = np.arange(1, AGES)
        return False, np.concatenate([[0.0], monthly_from_annual(v[np.minimum(t, len(v)) - 1])])
    return None


def smm_table(prepayment):
    """(by_age, SMM by age or projection month, index 0 unused)."""
    kind = prepayment["kind"]
    if kind == "psa":
        return True, np.concatenate([[0.0], monthly_from_annual(psa_cpr(np.arange(1, AGES), prepayment["multiple"]))])
    if kind == "cpr":
        v = np.atleast_1d(np.asarray(prepayment["cpr"], float))
        t = np.arange(1, AGES)
        return False, np.concatenate([[0.0], monthly_from_annual(v[np.minimum(t, len(v)) - 1])])
    return False, np.zeros(AGES)


def mtm_cltv(balance, second, value, ratio):
    return (balance + second) / (value * ratio) * 100


def cltv_multiplier(cltv):
    return np.exp(history.B_CLTV * (np.minimum(cltv, history.CLTV_CAP) - history.CLTV_PIVOT))


def scenario_smm(age, cltv, note, market, fico):
    """history.py current_rates' prepayment probability (fico NaN: not low)."""
    equity = np.clip((PREPAY["equity_full"] - cltv) / PREPAY["equity_width"], PREPAY["equity_floor"], 1)
    refi = (PREPAY["refi_max"] / (1 + np.exp(-(note - market - PREPAY["refi_mid"]) / PREPAY["refi_width"]))
            * np.clip((PREPAY["refi_equity_full"] - cltv) / PREPAY["refi_equity_width"], 0, 1)
            * np.where(fico < PREPAY["low_fico"], PREPAY["low_fico_factor"], 1.0))
    seasoned = PREPAY["seasoning_months"]
    return PREPAY["turnover"] * np.minimum(age, seasoned) / seasoned * equity + refi


def default_loss(upb, value, ratio, rate, mi_pct, lag):
    sale = value * ratio * SALE_FACTOR
    interest = upb * rate / 1200 * lag
    expenses = (history.LEGAL_COST[0] + history.LEGAL_COST[1] * upb + history.MAINTENANCE_PER_MONTH * REO_SHARE * lag
                + history.TAX_INSURANCE_PER_YEAR * value * lag / 12 + history.MISC_EXPENSES)
    claim = upb + interest + expenses
    before = np.maximum(claim - sale, 0)
    return before - np.minimum(mi_pct / 100 * claim, before)


DEFAULT_LTV = 80


LOAN_AGE, CURRENT_UPB = "loan_age", "current_upb"


def level_payment(cents, rate_milli, term):
    """The level payment in cents (src/loss/engine.ts paymentCents), vectorised."""
    cents, rate_milli, term = (np.asarray(x) for x in (cents, rate_milli, term))
    return np.where(rate_milli == 0, np.rint(cents / term),
                    history._payment_cents(cents, np.maximum(rate_milli, 1), term)).astype(np.int64)


def loan_terms(record, pd):
    """A tape record and its PD → engine inputs (src/loss/loan.ts loanTerms); None when UPB, rate or term is
    missing. An origination record: age 0. A seasoned one (loan_age and current_upb): its age and balance, an
    "origin" (original balance, term and value; its "hpi" set by seasoned_inputs), the remaining term the
    original − age or the month the original payment clears a balance below the schedule."""
    def num(name, sentinel=None):
        v = record.get(name)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v != sentinel
        return float(v) if ok else None
    balance, rate, term = num("original_upb"), num("original_interest_rate"), num("original_loan_term")
    if balance is None or rate is None or term is None:
        return None
    ltv = num("ltv", 999)
    known = ltv is not None and ltv > 0
    ratio = (ltv if known else DEFAULT_LTV) / 100
    cltv = num("cltv", 999)
    second = balance * (cltv - ltv) / ltv if known and cltv is not None and cltv > ltv else 0.0
    mi = num("mi_percent", 999)
    fico = num("credit_score", 9999)
    terms = {"balance": balance, "rate": rate, "term": term, "age": 0, "pd": pd, "value": balance / ratio,
             "mi_pct": mi if mi is not None else 0.0, "second_lien": second,
             "fico": fico if fico is not None else math.nan}
    age, current = num(LOAN_AGE), num(CURRENT_UPB)
    if age is None or current is None:
        return terms
    rate_milli = int(np.rint(rate * 1000))
    pmt = int(level_payment(int(np.rint(balance * 100)), rate_milli, int(term)))
    c = np.array([int(np.rint(current * 100))], dtype=np.int64)
    remaining = int(term) - int(age)
    for t in range(1, remaining):
        c = history.amortise(c, rate_milli, pmt)
        if c[0] <= 0:
            remaining = t
            break
    return {**terms, "balance": current, "age": int(age), "term": remaining,
            "origin": {"balance": balance, "term": term, "value": terms["value"], "hpi": np.ones(1)}}


def seasoned_inputs(terms, history_path, future=None):
    """A seasoned loan's terms and house-price path under a scenario (src/loss/loan.ts seasonedInputs):
    history_path the historical market's ratio to the first-payment quarter by age, future a preset's path
    from now (None: historical). Value marked to history(age); the path is the ratio to now; the λ window's
    prices by age are the history to the loan's age, then the preset's path."""
    if terms.get("origin") is None:
        return terms, (history_path if future is None else future)
    o, k = terms["origin"], terms["age"]
    H = np.asarray(history_path, float)
    mark = H[min(k, len(H) - 1)]
    window = H
    if future is None:
        t = np.arange(int(terms["term"]) + 1)
        hpi_now = H[np.minimum(k + t, len(H) - 1)] / mark
    else:
        hpi_now = np.asarray(future, float)
        n = int(min(PD_HORIZON, o["term"]))
        if k < n:
            a = np.arange(n + 1)
            window = np.where(a <= k, H[np.minimum(a, len(H) - 1)],
                              mark * hpi_now[np.minimum(np.maximum(a - k, 0), len(hpi_now) - 1)])
    return {**terms, "value": o["value"] * mark, "origin": {**o, "hpi": window}}, hpi_now


def monthly_market_rate(loan, scenario, months, age=0):
    """Market rate by projection month (src/loss/loan.ts monthlyMarketRate): historical follows the table from
    the month of the projection's first payment (first payment month + age; docs/LOSS.md "Seasoned loans"); a
    path scenario starts at that month's rate r0 and adds its `rates` (quarterly changes in points, cumulated,
    linear between quarter ends as monthly_hpi, flat after the path), or holds r0 without them; None without a
    first-payment date."""
    fpd = loan.get("first_payment_date")
    if not isinstance(fpd, (int, float)) or isinstance(fpd, bool) or not math.isfinite(fpd):
        return None
    m0 = math.floor(fpd / 100) * 12 + fpd % 100 - 1 - hpi.MONTH0 + age
    if scenario["kind"] != scen.HISTORICAL:
        r0 = float(scen.market_rate(m0))
        path = scenario.get("rates")
        if not path:
            return np.array([r0])
        quarters = math.ceil(months / 3)
        steps = np.zeros(quarters)
        n = min(quarters, len(path))
        steps[:n] = np.asarray(path, float)[:n]
        D = np.zeros(quarters + 1)
        D[1:] = np.cumsum(steps)
        t = np.arange(months + 1)
        k = t // 3
        frac = (t % 3) / 3
        return r0 + np.where(t % 3 == 0, D[k], D[k] + frac * (D[np.minimum(k + 1, quarters)] - D[k]))
    return np.asarray(scen.market_rate(m0 + np.maximum(np.arange(months + 1), 1) - 1), float)


def monthly_hpi(loan, scenario, months):
    """House-price ratio to now by projection month 0…months (src/loss/loan.ts monthlyHpi); None if unplaced."""
    quarters = math.ceil(months / 3)
    state = loan.get("property_state")
    state = state if state in STATES else None
    C = np.zeros(quarters + 1)
    if scenario["kind"] == scen.HISTORICAL:
        fpd = loan.get("first_payment_date")
        if not isinstance(fpd, (int, float)) or fpd is None:
            return None
        q0 = math.floor((math.floor(fpd / 100) * 12 + fpd % 100 - 1 - hpi.MONTH0) / 3)
        if q0 < 0 or q0 > hpi.QUARTERS - 1:
            return None
        row = scen._NATIONAL_LOG_HPI if state is None else hpi.LOG_HPI[STATES.index(state)]
        idx = np.minimum(q0 + np.arange(quarters + 1), hpi.QUARTERS - 1)
        C = row[idx] - row[q0]
    else:
        own = scenario["states"].get(state) if state is not None else None
        if own is not None:
            path = np.asarray(own, float)
        elif state is not None and scenario["beta"] is not None:
            path = np.asarray(scenario["national"], float) * scenario["beta"][state]
        else:
            path = np.asarray(scenario["national"], float)
        steps = np.zeros(quarters)
        n = min(quarters, len(path))
        steps[:n] = path[:n]
        C[1:] = np.cumsum(steps)
    t = np.arange(months + 1)
    k = t // 3
    frac = (t % 3) / 3
    c = np.where(t % 3 == 0, C[k], C[k] + frac * (C[np.minimum(k + 1, quarters)] - C[k]))
    return np.exp(c)


def project(loans, hpis, options, months, markets=None):
    """Loans (dicts: balance, rate, term, age, pd, value, mi_pct, optional second_lien, fico and a seasoned loan's
    origin: balance, term, value and hpi by age since origination, from loan_terms and seasoned_inputs) and their
    house-price ratio paths (and market-rate paths, None: the note rate, for prepayment "scenario") → per-loan
    results (dict of arrays) and the pool's monthly vectors (dict of arrays of length `months`)."""
    n = len(loans)
    g = lambda k, d=0.0: np.array([loan.get(k, d) for loan in loans], float)  # noqa: E731
    term = g("term").astype(np.int64)
    age = g("age").astype(np.int64)
    pd_, rate, value, mi = g("pd"), g("rate"), g("value"), g("mi_pct")
    second, fico = g("second_lien"), g("fico", math.nan)
    lag = int(options["recovery_lag"])
    h = hazard_shape(options["timing"])
    by_age, smm = smm_table(options["prepayment"])
    scenario_prepay = options["prepayment"]["kind"] == "scenario"
    prescribed = mdr_table(options.get("defaults"))
    house = prescribed is None and options.get("hazard") == "house_prices"
    rate_milli = np.rint(rate * 1000).astype(np.int64)
    cents = np.rint(g("balance") * 100).astype(np.int64)
    # The PD's window: a seasoned loan's origination (age 0, original balance, term, value and prices since
    # origination), another loan's own start. The level payment is the window's loan's.
    origin = [loan.get("origin") for loan in loans]
    w = lambda k: np.array([loan[k] if o is None else o[k] for loan, o in zip(loans, origin)], float)  # noqa: E731
    w_term = w("term").astype(np.int64)
    w_age = np.where([o is None for o in origin], age, 0)
    w_value = w("value")
    w_cents = np.rint(w("balance") * 100).astype(np.int64)
    w_hpis = [p if o is None else o["hpi"] for p, o in zip(hpis, origin)]
    pmt = level_payment(w_cents, rate_milli, w_term)
    hpi_at = lambda t: np.array([p[min(t, len(p) - 1)] for p in hpis])  # noqa: E731
    w_hpi_at = lambda t: np.array([p[min(t, len(p) - 1)] for p in w_hpis])  # noqa: E731
    market_at = lambda t: np.array([rate[i] if m is None else m[min(t, len(m) - 1)]  # noqa: E731
                                    for i, m in enumerate(markets or [None] * n)])

    def hazard(t, c):
        """The hazard shape of month t for loans at start-of-month balance c (cents): h(age) × the CLTV multiplier."""
        base = h[np.minimum(age + t, AGES - 1)]
        if not house:
            return base
        return base * cltv_multiplier(mtm_cltv(c / 100, second, value, hpi_at(t)))

    window = np.minimum(w_term, PD_HORIZON)
    if house:  # Σ h_t over the window's min(36, term) months on its schedule (known in advance)
        hsum = np.zeros(n)
        c = w_cents.copy()
        for t in range(1, PD_HORIZON + 1):
            ht = h[np.minimum(w_age + t, AGES - 1)] * cltv_multiplier(mtm_cltv(c / 100, second, w_value, w_hpi_at(t)))
            hsum += np.where(t <= window, ht, 0.0)
            c = np.where(w_term == t, 0, np.where(t <= w_term, history.amortise(c, rate_milli, pmt), c))
    else:
        hsum = np.array([h[a + 1:a + k + 1].sum() for a, k in zip(w_age, window)])
    lam = np.where(pd_ == 0, 0.0, -np.log1p(-pd_) / np.where(hsum > 0, hsum, 1))
    if prescribed is not None:
        lam = np.zeros(n)
    b0 = cents / 100
    v = 1 / (1 + rate / 1200)
    alive = np.ones(n)
    names = ("scheduled_balance", "begin_balance", "balance", "interest", "scheduled_principal", "prepaid",
             "defaulted", "defaults", "loss", "recovery")
    V = {k: np.zeros(months) for k in names}
    el = {k: np.zeros(n) for k in ("el12", "el36", "el", "dl12", "dl36", "dl")}
    cum = np.zeros(n)
    pd36 = np.zeros(n)
    wal = np.zeros(n)
    # Prescribed per-loan monthly vectors (n × W, by projection month, 0 after month W) replace the calibrated
    # hazard and the pool's prepayment when given (lifetime_backtest.py projects the history's true curves).
    mdr_given, smm_given = options.get("mdr"), options.get("smm")
    for t in range(1, int(term.max()) + 1):
        on = term >= t
        a = age + t
        if mdr_given is not None:
            d = np.where(on, mdr_given[:, t - 1] if t <= mdr_given.shape[1] else 0.0, 0.0)
        elif prescribed is not None:
            by_age_d, table = prescribed
            d = np.where(on, table[np.minimum(a, AGES - 1)] if by_age_d else table[min(t, AGES - 1)], 0.0)
        else:
            d = np.where(on, -np.expm1(-lam * hazard(t, cents)), 0.0)
        if smm_given is not None:
            q = np.where(on, smm_given[:, t - 1] if t <= smm_given.shape[1] else 0.0, 0.0)
        elif scenario_prepay:
            cltv = mtm_cltv(cents / 100, second, value, hpi_at(t))
            q = np.where(on, scenario_smm(a, cltv, rate, market_at(t), fico), 0.0)
        else:
            q = np.where(on, smm[np.minimum(a, AGES - 1)] if by_age else smm[min(t, AGES - 1)], 0.0)
        before = cents / 100
        interest = (cents * rate_milli + 600_000) // 1_200_000
        nxt = history.amortise(cents, rate_milli, pmt)
        cents = np.where(term == t, 0, np.where(on, nxt, cents))
        after = np.where(on, cents / 100, 0.0)
        before = np.where(on, before, 0.0)
        defaulting = alive * d
        survivors = alive - defaulting
        prepaying = survivors * q
        ratio = hpi_at(t)
        loss = defaulting * default_loss(before, value, ratio, rate, mi, lag)
        dloss = loss * v ** t * v ** lag
        for key, on_k in (("el12", t <= 12), ("el36", t <= PD_HORIZON), ("el", True)):
            if on_k:
                el[key] += loss
                el["d" + key[1:]] += dloss
        cum += defaulting
        if t == PD_HORIZON:
            pd36 = cum.copy()
        wal += t * (defaulting * before + survivors * (before - after) + prepaying * after)
        i = t - 1
        V["scheduled_balance"][i] += after.sum()
        V["begin_balance"][i] += (alive * before).sum()
        V["balance"][i] += ((survivors - prepaying) * after).sum()
        V["interest"][i] += (np.where(on, survivors * interest, 0.0) / 100).sum()
        V["scheduled_principal"][i] += (survivors * (before - after)).sum()
        V["prepaid"][i] += (prepaying * after).sum()
        V["defaulted"][i] += (defaulting * before).sum()
        V["defaults"][i] += defaulting.sum()
        V["loss"][i + lag] += loss.sum()
        V["recovery"][i + lag] += (defaulting * before - loss).sum()
        alive = np.where(on, survivors - prepaying, alive)
    pd36 = np.where(term < PD_HORIZON, cum, pd36)
    result = {"expected_loss_12m": el["el12"], "expected_loss_36m": el["el36"], "expected_loss_lifetime": el["el"],
              "discounted_loss_12m": el["dl12"], "discounted_loss_36m": el["dl36"],
              "discounted_loss_lifetime": el["dl"], "lifetime_pd": cum, "pd36": pd36,
              "wal": np.where(b0 > 0, wal / np.where(b0 > 0, b0, 1) / 12, 0.0), "scale": lam}
    return result, V, float(b0.sum())


def pool_vectors(V, initial_balance, horizon):
    """The pool's per-month answer (src/loss/pool.ts PoolLoss.answer().vectors)."""
    out = []
    cum_d = cum_l = 0.0
    for i in range(horizon):
        begin, defaulted = V["begin_balance"][i], V["defaulted"][i]
        sched, prepaid = V["scheduled_principal"][i], V["prepaid"][i]
        mdr = defaulted / begin if begin > 0 else 0.0
        after = begin - defaulted - sched
        smm = prepaid / after if after > 0 else 0.0
        cum_d += defaulted
        cum_l += V["loss"][i]
        out.append({"month": i + 1, "balance": V["balance"][i], "defaulted_balance": defaulted, "loss": V["loss"][i],
                    "prepayment": prepaid, "smm": smm, "mdr": mdr, "cpr": float(annual_from_monthly(smm)),
                    "cdr": float(annual_from_monthly(mdr)),
                    "cumulative_default_rate": cum_d / initial_balance if initial_balance > 0 else 0.0,
                    "cumulative_loss_rate": cum_l / initial_balance if initial_balance > 0 else 0.0})
    return out
