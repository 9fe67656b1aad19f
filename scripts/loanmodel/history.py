"""SYNTHETIC monthly loan history in Freddie Mac's Single-Family Loan-Level Dataset layout.

Origination records come from the generator's origination draw (generate._latent/_observe, same random
stream, so with `vintages="generator"` the records equal `generate.generate`'s without the label); by
default the first-payment year is re-drawn over 1999–2010 (the years of the calibration targets) and the
note rate moved with the market. Each loan is then simulated month by month (docs/DATA.md "Simulated
loan history"): a state house-price path (hpi.py), a default (delinquency-entry) hazard by loan age scaled
by score, DTI, mark-to-market CLTV, rate spread, occupancy..., roll rates 30→60→90+→liquidation with cures,
prepayment from rate incentive and turnover (competing risks), amortisation in integer cents, and a
loss from the liquidation value and MI.

CLI: /usr/bin/python3 -m scripts.loanmodel.history --n 300000 --seed 1 --out-dir DIR [--horizon 36]
writes DIR/synthetic_orig.txt and DIR/synthetic_svcg.txt (pipe-delimited, no header); then
`freddie.load([orig], [svcg])` labels them.

Deterministic: origination in the generator's blocks of 50,000 loans; the history of each 10,000-loan
batch draws from default_rng([seed, 21, batch]) with array sizes that do not depend on n or the horizon,
so n loans are the first n loans of a longer history, and a horizon-h file is the prefix (by age) of the
full-life one.
"""

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd

from . import generate, hpi
from .contract import BEHAVIOUR
from .schema import ID_FIELD
from .tape import write_tape

# Monthly performance file, Single-Family Loan-Level Dataset General User Guide, fields 1–32 in order.
PERFORMANCE_FIELDS = (
    "loan_sequence_number", "monthly_reporting_period", "current_actual_upb", "current_loan_delinquency_status",
    "loan_age", "remaining_months_to_legal_maturity", "defect_settlement_date", "modification_flag",
    "zero_balance_code", "zero_balance_effective_date", "current_interest_rate", "current_deferred_upb",
    "due_date_of_last_paid_installment", "mi_recoveries", "net_sales_proceeds", "non_mi_recoveries", "expenses",
    "legal_costs", "maintenance_and_preservation_costs", "taxes_and_insurance", "miscellaneous_expenses",
    "actual_loss_calculation", "modification_cost", "step_modification_flag", "deferred_payment_plan",
    "estimated_ltv", "zero_balance_removal_upb", "delinquent_accrued_interest", "delinquency_due_to_disaster",
    "borrower_assistance_status_code", "current_month_modification_cost", "interest_bearing_upb",
)
ZB_PREPAID, ZB_THIRD_PARTY, ZB_SHORT_SALE, ZB_REO = "01", "02", "03", "09"

BATCH = 10_000
DATA_END = (2019, 12)  # last reporting period of a full-life history

# --- Vintages ------------------------------------------------------------------------------------------
VINTAGES = np.arange(1999, 2011)
VINTAGE_SHARE = np.array([0.07, 0.04, 0.11, 0.14, 0.16, 0.08, 0.08, 0.07, 0.07, 0.08, 0.06, 0.04])
# Unobserved overstatement of the appraised value at origination (the true value is lower by this
# share), the one vintage-level effect: boom-era appraisal inflation, which no origination field records.
APPRAISAL_BIAS = {2004: 0.02, 2005: 0.0, 2006: 0.04, 2007: 0.10, 2008: 0.09, 2009: -0.08, 2010: -0.1}

# Unobserved underwriting quality by vintage, in log hazard: looser pre-2001 agency underwriting (before
# automated underwriting was universal), post-crisis overlays (verified income, lender overlays) from 2009.
UNDERWRITING = {1999: 0.25, 2000: 0.55, 2001: 0.25, 2002: 0.25, 2003: -0.2, 2004: -0.1, 2009: -0.5, 2010: -0.8}

# --- Default (delinquency-entry) hazard: log monthly hazard of a current loan becoming 30 days late --------
H_BASE = -6.25  # at age ≥ 30 months, FICO 716, CLTV 80, DTI 37, spread 0, primary, purchase, 2 borrowers
SEASONING_MONTHS = 30  # the hazard ramps up linearly (in level) to its plateau, then declines slowly
SEASONING_DECLINE = 240  # e-folding months of the decline after age 60
B_FICO = -0.0100  # per point
# The mark-to-market CLTV term and the prepayment process are written once, in src/contract/loan-behaviour.json
# (the lifetime-loss engine projects with the same constants): B_CLTV per point of CLTV, capped at CLTV_CAP.
B_CLTV = BEHAVIOUR["default"]["b_cltv"]
CLTV_CAP, CLTV_PIVOT = BEHAVIOUR["default"]["cltv_cap"], BEHAVIOUR["default"]["cltv_pivot"]
B_DTI = 0.024  # per point
B_SPREAD = 0.41  # per percentage point of note-rate spread over the expected rate
B_OTHER = {"investor": 0.35, "second_home": 0.15, "cashout": 0.2, "single_borrower": 0.3, "multi_unit": 0.2,
           "manufactured": 0.4, "broker": 0.1, "fthb": 0.05}
FRAILTY_SD = 0.6  # lognormal unobserved heterogeneity per loan
# Calendar (unemployment-like) log factor: 0 before mid-2007, peak in 2009–2010, back to 0 by 2014.
MACRO_KNOTS = ((2000.3, 0.0), (2001.5, 0.9), (2002.8, 0.9), (2004.0, 0.0), (2006.3, 0.0), (2007.3, 0.5), (2008.3, 0.8),
               (2009.8, 1.0), (2011.5, 0.9), (2013.0, 0.45), (2015.0, 0.0), (2016.0, -0.6), (2020.0, -0.6))

# --- Delinquency roll rates --------------------------------------------------------------------------
ROLL_30_60, ROLL_60_90 = 0.33, 0.55  # + UNDERWATER_ROLL when mark-to-market CLTV > 100
UNDERWATER_ROLL = 0.15
STAY = 0.10  # pays one installment but stays as far behind
FORECLOSURE_START = 6  # months behind before a liquidation can happen
LIQUIDATION = 0.07  # monthly liquidation probability once FORECLOSURE_START months behind
LIQUIDATION_BACKLOG = 0.04  # in 2009–2013 (foreclosure moratoria, robo-signing backlog)
CURE_90 = 0.05  # monthly cure from 90+ with equity (0.01 underwater)
DISPOSITION = (("09", 0.65), ("03", 0.27), ("02", 0.08))  # REO, short sale, third-party sale

# --- Prepayment --------------------------------------------------------------------------------------
PREPAY = BEHAVIOUR["prepayment"]
TURNOVER = PREPAY["turnover"]  # monthly at full seasoning (30 months), scaled down as equity vanishes
REFI_MAX = PREPAY["refi_max"]  # monthly, at a large rate incentive
REFI_MID, REFI_WIDTH = PREPAY["refi_mid"], PREPAY["refi_width"]  # logistic in (note rate − market rate), points

# --- Loss severity -----------------------------------------------------------------------------------
SALE_DISCOUNT = {"09": 0.85, "03": 0.92, "02": 0.95}  # distressed-sale value / market value
VALUE_NOISE_SD = 0.05  # idiosyncratic property value at liquidation (lognormal)
DAMAGED = (0.2, 0.65)  # share of liquidated properties in poor condition, and their value factor
SELLING_COST = 0.07
LEGAL_COST = (1_500.0, 0.012)  # fixed + share of the UPB
MAINTENANCE_PER_MONTH = 60.0  # REO only, per month delinquent
TAX_INSURANCE_PER_YEAR = 0.02  # of the original value, per year delinquent
MISC_EXPENSES = 300.0


def _vintage_mix(seed, block, n):
    rng = np.random.default_rng([seed, block, 21])
    return VINTAGES[rng.choice(len(VINTAGES), size=n, p=VINTAGE_SHARE / VINTAGE_SHARE.sum())]


def origination_block(seed, block, vintages="1999-2010"):
    """Origination records of generator block `block` (all 50,000 loans) + the latent values the history uses."""
    rng = np.random.default_rng([seed, block])
    L = generate._latent(rng, generate.BLOCK)
    df, _ = generate._observe(rng, L)
    if vintages == "1999-2010":
        year = _vintage_mix(seed, block, len(L))
        pmms = np.array([hpi.PMMS[y] for y in range(hpi.START_YEAR, hpi.END_YEAR + 1)])
        rate = L["rate"].to_numpy() - generate.MARKET_RATE[L["year"].to_numpy() - generate.YEARS[0]] \
            + pmms[year - hpi.START_YEAR]
        L["rate"] = np.maximum(np.rint(rate * 8) / 8, 1.0)  # in eighths, as note rates are
        L["year"] = year
        df["first_payment_date"] = (year * 100 + L["month"].to_numpy()).astype(float)
        df["original_interest_rate"] = L["rate"].to_numpy(float)
    elif vintages != "generator":
        raise ValueError(f"unknown vintage option {vintages!r}")
    df[ID_FIELD] = generate._sequence_numbers(L, block, 0)
    return df, L


def _macro(cal):
    """Calendar log factor for month index `cal` (months since January 1999)."""
    t = hpi.START_YEAR + cal / 12
    x, y = zip(*MACRO_KNOTS)
    return np.interp(t, x, y, left=y[0], right=y[-1])


def _payment_cents(upb_cents, rate_milli, term):
    r = rate_milli / 1_200_000.0
    p = upb_cents * r / (1 - (1 + r) ** -term)
    return np.rint(p).astype(np.int64)


def amortise(upb_cents, rate_milli, pmt_cents):
    """One scheduled payment, integer cents: interest rounded half up, principal capped at the balance."""
    interest = (upb_cents * rate_milli + 600_000) // 1_200_000
    principal = np.minimum(np.maximum(pmt_cents - interest, 0), upb_cents)
    return upb_cents - principal


def _cents(x):
    sign, x = ("-", -x) if x < 0 else ("", x)
    return f"{sign}{x // 100}.{x % 100:02d}"


def _period(m):
    return f"{m // 12}{m % 12 + 1:02d}"


class Batch:
    """The history of one batch of loans (arrays over loans), month by month."""

    def __init__(self, L, seed, batch, horizon, hazard_factor=1.0):
        n = len(L)
        self.rng = np.random.default_rng([seed, 21, batch])
        self.n = n
        g = lambda c: L[c].to_numpy()  # noqa: E731
        self.fpm = (g("year") * 12 + g("month") - 1).astype(np.int64)  # month index of the first payment
        self.term = g("term").astype(np.int64)
        self.rate = g("rate").astype(float)
        self.rate_milli = np.rint(self.rate * 1000).astype(np.int64)
        self.upb0 = np.rint(g("upb") * 100).astype(np.int64)
        self.pmt = _payment_cents(self.upb0, self.rate_milli, self.term)
        self.state = g("state_i")
        self.mi = g("mi").astype(float)
        ltv, cltv = g("ltv").astype(float), g("cltv").astype(float)
        bias = np.array([APPRAISAL_BIAS.get(int(y), 0.0) for y in range(1990, 2030)])[g("year") - 1990]
        self.value0 = g("upb") / (ltv / 100) * (1 - bias)
        self.second = g("upb") * (cltv - ltv) / ltv
        uw = np.array([UNDERWRITING.get(int(y), 0.0) for y in range(1990, 2030)])[g("year") - 1990]
        q0 = np.clip((self.fpm - hpi.MONTH0) // 3, 0, hpi.QUARTERS - 1)
        self.log_hpi0 = hpi.LOG_HPI[self.state, q0]
        occ, purpose, ptype = g("occupancy"), g("purpose"), g("ptype")
        self.fico = g("fico").astype(float)
        self.true_dti, self.true_spread = g("dti").astype(float), g("rate_spread").astype(float)
        self.lp_static = (H_BASE + B_FICO * (self.fico - 716) + B_DTI * (g("dti") - 37) + B_SPREAD * g("rate_spread")
                          + B_OTHER["investor"] * (occ == "I") + B_OTHER["second_home"] * (occ == "S")
                          + B_OTHER["cashout"] * (purpose == "C") + B_OTHER["single_borrower"] * (g("borrowers") == 1)
                          + B_OTHER["multi_unit"] * (g("units") > 1) + B_OTHER["manufactured"] * (ptype == "MH")
                          + B_OTHER["broker"] * (g("channel") == "B") + B_OTHER["fthb"] * g("fthb")
                          + uw + self.rng.normal(0, FRAILTY_SD, n))
        if hazard_factor != 1.0:  # a shifted intercept (backtest_tape.py): every default hazard's rate × factor
            self.lp_static = self.lp_static + np.log(hazard_factor)
        end = DATA_END[0] * 12 + DATA_END[1] - 1
        self.last_age = np.minimum(end - self.fpm + 1, self.term)
        if horizon is not None:
            self.last_age = np.minimum(self.last_age, horizon)
        self.max_age = int(self.last_age.max())
        # State.
        self.upb = self.upb0.copy()
        self.paid = np.zeros(n, np.int64)  # installments paid
        self.active = np.ones(n, bool)
        # Summary per loan (for calibration): first age 60+ (or liquidated), exit, loss.
        self.first60 = np.full(n, -1, np.int64)
        self.first90 = np.full(n, -1, np.int64)
        self.exit_age = np.full(n, -1, np.int64)
        self.exit_code = np.full(n, "", dtype="<U2")
        self.loss = np.full(n, np.nan)
        self.removal_upb = np.zeros(n, np.int64)
        self.yearly_cltv = np.full((n, 25), np.nan, np.float32)  # mark-to-market CLTV at ages 1, 13, 25, ...

    def run(self, want_rows=True):
        rows = []
        for age in range(1, self.max_age + 1):
            r = self.step(age, want_rows)
            if want_rows and r is not None:
                rows.append(r)
        return rows

    def market(self, live, age, upb_cents):
        """Calendar month index (months since hpi.MONTH0), property value, mark-to-market CLTV and market rate
        of the loans `live` at loan age `age` with balances `upb_cents`."""
        cal = self.fpm[live] + age - 1 - hpi.MONTH0
        q = np.clip(cal // 3, 0, hpi.QUARTERS - 1)
        value = self.value0[live] * np.exp(hpi.LOG_HPI[self.state[live], q] - self.log_hpi0[live])
        cltv = (upb_cents / 100 + self.second[live]) / value * 100
        return cal, value, cltv, hpi.MARKET_RATE[np.clip(cal, 0, len(hpi.MARKET_RATE) - 1)]

    def current_rates(self, live, age, cltv, cal, mkt):
        """Monthly default (delinquency-entry) probability h and prepayment probability smm of the current loans
        `live` at loan age `age`, given their mark-to-market CLTV, calendar month index and market rate: a
        current loan misses this payment with probability h and prepays with probability smm (u < h, then
        h ≤ u < h + smm). The true curves of the history (lifetime_backtest.py projects with them)."""
        seasoning = np.log(np.minimum(age, SEASONING_MONTHS) / SEASONING_MONTHS) - np.maximum(age - 60, 0) / SEASONING_DECLINE
        lp = self.lp_static[live] + seasoning + B_CLTV * (np.minimum(cltv, CLTV_CAP) - CLTV_PIVOT) + _macro(cal)
        h = 1 - np.exp(-np.exp(lp))
        equity = np.clip((PREPAY["equity_full"] - cltv) / PREPAY["equity_width"], PREPAY["equity_floor"], 1)
        incentive = self.rate[live] - mkt
        refi = REFI_MAX / (1 + np.exp(-(incentive - REFI_MID) / REFI_WIDTH)) \
            * np.clip((PREPAY["refi_equity_full"] - cltv) / PREPAY["refi_equity_width"], 0, 1) \
            * np.where(self.fico[live] < PREPAY["low_fico"], PREPAY["low_fico_factor"], 1.0)
        seasoned = PREPAY["seasoning_months"]
        smm = TURNOVER * min(age, seasoned) / seasoned * equity + refi
        return h, smm

    def step(self, age, want_rows):
        live = np.flatnonzero(self.active & (age <= self.last_age))
        if len(live) == 0:
            return None
        rng = self.rng
        u = rng.random(self.n)[live]  # full-size draws: the stream does not depend on who is alive
        u2 = rng.random(self.n)[live]
        noise = rng.normal(0, 1, self.n)[live]
        u3 = rng.random(self.n)[live]
        upb = self.upb[live]
        cal, value, cltv, mkt = self.market(live, age, upb)
        if (age - 1) % 12 == 0 and (age - 1) // 12 < self.yearly_cltv.shape[1]:
            self.yearly_cltv[live, (age - 1) // 12] = cltv
        behind = age - 1 - self.paid[live]  # installments missed before this month's due date
        underwater = cltv > 100

        # Current loans: default (miss this payment) vs prepay vs pay.
        h, smm = self.current_rates(live, age, cltv, cal, mkt)
        cur = behind == 0
        miss = cur & (u < h)
        prepay = cur & ~miss & (u < h + smm)
        pays = cur & ~miss & ~prepay

        # Delinquent loans: roll, stay, cure, or (far behind) liquidate.
        roll = np.where(behind == 1, ROLL_30_60, ROLL_60_90) + UNDERWATER_ROLL * underwater
        early = (behind >= 1) & (behind <= 2)
        cal_year = hpi.START_YEAR + cal / 12
        liq_p = np.where((cal_year >= 2009) & (cal_year < 2014), LIQUIDATION_BACKLOG, LIQUIDATION)
        deep = behind >= 3
        liquidate = deep & (behind >= FORECLOSURE_START) & (u < liq_p)
        cure_p = np.where(underwater, 0.01, CURE_90)
        cure = (early & (u >= roll + STAY)) | (deep & ~liquidate & (u >= 1 - cure_p))
        stay = early & (u >= roll) & (u < roll + STAY)
        pays |= stay
        matured = pays & (self.paid[live] + 1 >= self.term[live])

        # Balances: one installment for payers, all missed ones for cures (at most `behind` + 1 steps).
        idx = live[pays]
        self.upb[idx] = amortise(self.upb[idx], self.rate_milli[idx], self.pmt[idx])
        self.paid[idx] += 1
        todo = live[cure]
        while len(todo):
            self.upb[todo] = amortise(self.upb[todo], self.rate_milli[todo], self.pmt[todo])
            self.paid[todo] += 1
            todo = todo[self.paid[todo] < age]
        status = np.where(prepay, 0, age - self.paid[live])  # months behind after this month (a payoff pays all)
        newly60 = (status >= 2) | liquidate
        f60 = live[newly60 & (self.first60[live] < 0)]
        self.first60[f60] = age
        f90 = live[((status >= 3) | liquidate) & (self.first90[live] < 0)]
        self.first90[f90] = age

        # Exits.
        exits = prepay | matured | liquidate
        zb = np.full(len(live), "", dtype="<U2")
        zb[prepay | matured] = ZB_PREPAID
        disp = np.array([c for c, _ in DISPOSITION])
        cum = np.cumsum([p for _, p in DISPOSITION])
        zb[liquidate] = disp[np.searchsorted(cum, u2[liquidate] * cum[-1], side="right").clip(0, len(disp) - 1)]
        removal = np.where(prepay, upb, np.where(liquidate, self.upb[live], 0))  # matured: 0 left
        removal = np.where(matured, 0, removal)
        ex = live[exits]
        self.active[ex] = False
        self.exit_age[ex] = age
        self.exit_code[ex] = zb[exits]
        self.removal_upb[ex] = removal[exits]

        # Losses on liquidations.
        L = np.flatnonzero(liquidate)
        loss_fields = None
        if len(L):
            li = live[L]
            d_upb = self.upb[li] / 100
            months = status[L]
            code = zb[L]
            discount = np.array([SALE_DISCOUNT[c] for c in code])
            proceeds = value[L] * np.exp(VALUE_NOISE_SD * noise[L] - VALUE_NOISE_SD ** 2 / 2) * discount \
                * np.where(u3[L] < DAMAGED[0], DAMAGED[1], 1.0) * (1 - SELLING_COST)
            dai = d_upb * self.rate[li] / 1200 * months
            legal = LEGAL_COST[0] + LEGAL_COST[1] * d_upb
            maint = np.where(code == ZB_REO, MAINTENANCE_PER_MONTH * months, 0.0)
            taxes = TAX_INSURANCE_PER_YEAR * self.value0[li] * months / 12
            misc = np.full(len(L), MISC_EXPENSES)
            cents = lambda x: np.rint(x * 100).astype(np.int64)  # noqa: E731
            legal, maint, taxes, misc, dai, proceeds = map(cents, (legal, maint, taxes, misc, dai, proceeds))
            expenses = legal + maint + taxes + misc
            claim = self.upb[li] + dai + expenses
            mi_rec = np.minimum(np.rint(self.mi[li] / 100 * claim).astype(np.int64), np.maximum(claim - proceeds, 0))
            non_mi = np.zeros(len(L), np.int64)
            loss = claim - proceeds - mi_rec - non_mi
            self.loss[li] = loss / 100
            loss_fields = dict(zip(L.tolist(), zip(mi_rec.tolist(), proceeds.tolist(), non_mi.tolist(), expenses.tolist(),
                                                   legal.tolist(), maint.tolist(), taxes.tolist(), misc.tolist(),
                                                   loss.tolist(), dai.tolist())))
        if not want_rows:
            return None
        cur_upb = np.where(exits, 0, self.upb[live])
        eltv = np.rint(np.minimum(cur_upb / 100 / value * 100, 998)).astype(np.int64)
        return (live, self.fpm[live] + age - 1, cur_upb, np.where(zb == ZB_REO, -1, status), age,
                self.term[live] - age, zb, self.fpm[live] + self.paid[live] - 1, eltv, removal, loss_fields)


def _format_rows(parts, seq, rate_text):
    """Rows of one batch, loan-major then by period, as text lines."""
    loan = np.concatenate([p[0] for p in parts])
    order = np.argsort(loan, kind="stable")
    col = lambda i: np.concatenate([p[i] for p in parts])[order]  # noqa: E731
    age = np.concatenate([np.full(len(p[0]), p[4]) for p in parts])[order]
    loss = {}
    offset = 0
    row_ids = np.empty(len(loan), np.int64)
    for p in parts:
        if p[10]:
            for k, v in p[10].items():
                loss[offset + k] = v
        offset += len(p[0])
    row_ids[:] = np.arange(len(loan))[order]
    loan, period, upb, status, rem, zb, ddlpi, eltv, removal = (
        col(0), col(1), col(2), col(3), col(5), col(6), col(7), col(8), col(9))
    lines = []
    for ln, pe, up, st, ag, re, z, dd, el, rm, rid in zip(
            loan.tolist(), period.tolist(), upb.tolist(), status.tolist(), age.tolist(), rem.tolist(), zb.tolist(),
            ddlpi.tolist(), eltv.tolist(), removal.tolist(), row_ids.tolist()):
        lf = loss.get(rid)
        if lf is None:
            money = "||||||||"  # fields 14–22 empty
            dai = ""
        else:
            money = "|".join(_cents(x) for x in lf[:9])
            dai = _cents(lf[9])
        lines.append(f"{seq[ln]}|{_period(pe)}|{_cents(up)}|{'RA' if st < 0 else st}|{ag}|{re}|||{z}|"
                     f"{_period(pe) if z else ''}|{rate_text[ln]}|0|{_period(dd)}|{money}||||{el}|"
                     f"{_cents(rm) if z else ''}|{dai}||||{_cents(up)}")
    return lines


def iter_batches(n, seed, vintages="1999-2010", horizon=None, want_rows=True, hazard_factor=1.0):
    """Yields (origination DataFrame, Batch, performance lines or None) per batch of up to BATCH loans.
    `hazard_factor` multiplies every loan's default (delinquency-entry) intensity exp(lp) by a constant, a
    shift of the log-hazard intercept H_BASE by ln(factor); 1 is the training process. It draws no random
    numbers, so the loans and every other draw stay those of factor 1."""
    for b in range((n + generate.BLOCK - 1) // generate.BLOCK):
        df, L = origination_block(seed, b, vintages)
        for s in range(generate.BLOCK // BATCH):
            lo = s * BATCH
            keep = min(BATCH, n - b * generate.BLOCK - lo)
            if keep <= 0:
                return
            Ls = L.iloc[lo:lo + BATCH].reset_index(drop=True)
            batch = Batch(Ls, seed, b * (generate.BLOCK // BATCH) + s, horizon, hazard_factor)
            # Simulate the full batch (prefix property), keep the first `keep` loans.
            parts = batch.run(want_rows)
            lines = None
            if want_rows:
                parts = [_keep(p, keep) for p in parts]
                parts = [p for p in parts if len(p[0])]
                seq = df[ID_FIELD].iloc[lo:lo + BATCH].tolist()
                rate_text = [repr(float(x)) for x in Ls["rate"].to_numpy()]
                lines = _format_rows(parts, seq, rate_text) if parts else []
            yield df.iloc[lo:lo + keep].reset_index(drop=True), batch, keep, lines


def _keep(p, keep):
    m = p[0] < keep
    if m.all():
        return p
    where = np.flatnonzero(m)
    remap = {int(k): int(j) for j, k in enumerate(where)}
    lf = {remap[k]: v for k, v in p[10].items() if k in remap} if p[10] else None
    return tuple(x[m] if isinstance(x, np.ndarray) else x for x in p[:10]) + (lf,)


def write_history(out_dir, n, seed, vintages="1999-2010", horizon=None, hazard_factor=1.0):
    """Writes synthetic_orig.txt and synthetic_svcg.txt; returns (paths, row count)."""
    os.makedirs(out_dir, exist_ok=True)
    orig_path = os.path.join(out_dir, "synthetic_orig.txt")
    perf_path = os.path.join(out_dir, "synthetic_svcg.txt")
    rows = 0
    with open(orig_path, "w", encoding="utf-8", newline="") as fo, open(perf_path, "w", encoding="utf-8", newline="") as fp:
        for df, _, _, lines in iter_batches(n, seed, vintages, horizon, hazard_factor=hazard_factor):
            write_tape(fo, [df], "freddie")
            if lines:
                fp.write("\n".join(lines) + "\n")
                rows += len(lines)
    return (orig_path, perf_path), rows


def summaries(n, seed, vintages="1999-2010", horizon=None):
    """Per-loan outcome summary (no files), for calibration: true attributes and simulated outcomes."""
    frames = []
    for df, b, keep, _ in iter_batches(n, seed, vintages, horizon, want_rows=False):
        k = slice(0, keep)
        f = pd.DataFrame({
            "year": (df["first_payment_date"] // 100).astype(int), "term": df["original_loan_term"],
            "amortization_type": df["amortization_type"], "upb": df["original_upb"],
            "fico": b.fico[k], "dti": b.true_dti[k], "spread": b.true_spread[k],
            "first60": b.first60[k], "first90": b.first90[k], "exit_age": b.exit_age[k], "exit_code": b.exit_code[k],
            "last_age": b.last_age[k], "loss": b.loss[k], "removal_upb": b.removal_upb[k] / 100,
        })
        f["cltv_path"] = list(b.yearly_cltv[k])
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m scripts.loanmodel.history", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--vintages", choices=("1999-2010", "generator"), default="1999-2010")
    ap.add_argument("--horizon", type=int, default=None, help="months of history to write (default: full life)")
    args = ap.parse_args(argv)
    t = time.process_time()
    (orig, perf), rows = write_history(args.out_dir, args.n, args.seed, args.vintages, args.horizon)
    print(f"{args.n} loans, {rows} performance rows, {os.path.getsize(perf) / 1e6:.1f} MB, "
          f"{time.process_time() - t:.1f} s CPU → {orig}, {perf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
