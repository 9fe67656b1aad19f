"""SYNTHETIC market paths for the loan history (docs/DATA.md "Simulated loan history"): a state-level
quarterly house-price index and a monthly 30-year mortgage rate.

The HPI is not any published index. It has the shape of one: a national boom to mid-2006, a bust from
2006Q3 to 2011Q4, a recovery after; each state follows the national quarterly log growth times its
sensitivity in that phase (`STATE_BETA`), so the bust is deepest in the sand states and in MI/OH.
"""

import numpy as np

from .contract import SCENARIOS
from .schema import STATES

# The numbers live in src/contract/scenarios.json ("historical"), the one source the scenario features
# (scenario.py, src/scenario/index.ts) read too; the comments below describe them.
_H = SCENARIOS["historical"]
START_YEAR = _H["start_year"]  # index 1.0 in 1999Q1
END_YEAR = _H["end_year"]  # last quarter 2022Q4
# National log growth per year of the synthetic index (spread evenly over the year's quarters).
NATIONAL_GROWTH = {int(y): g for y, g in _H["national_log_growth_per_year"].items()}
# 2006: +0.055 over the first half (the peak is 2006Q2), −0.055 over the second half.
QUARTERLY_OVERRIDE = {int(y): tuple(g) for y, g in _H["national_quarterly_log_growth_override"].items()}
BOOM_END, BUST_END = tuple(_H["boom_end"]), tuple(_H["bust_end"])
# (boom, bust, recovery) multipliers of the national log growth. Peak-to-trough national fall: 27 %
# (log −0.31); CA −45 %, FL −50 %, NV −60 %, AZ −54 %, MI −38 %, OH −30 %, TX −6 %.
STATE_BETA = {s: tuple(b) for s, b in _H["state_beta"].items()}
DEFAULT_BETA = tuple(_H["default_beta"])  # every other state
QUARTERS = (END_YEAR - START_YEAR + 1) * 4

# Freddie Mac PMMS 30-year fixed rate, annual averages (%, rounded to 0.01), interpolated monthly.
PMMS = {int(y): r for y, r in _H["pmms_annual"].items()}


def _quarter(year, q):
    return (year - START_YEAR) * 4 + (q - 1)


def national_log_growth():
    """Quarterly national log growth, index 0 = 1999Q1 (the change into that quarter is 0)."""
    g = np.zeros(QUARTERS)
    for y in range(START_YEAR, END_YEAR + 1):
        for q in range(1, 5):
            i = _quarter(y, q)
            if i == 0:
                continue
            g[i] = QUARTERLY_OVERRIDE[y][q - 1] if y in QUARTERLY_OVERRIDE else NATIONAL_GROWTH[y] / 4
    return g


def state_log_hpi():
    """log HPI, shape (len(STATES), QUARTERS), 0 in 1999Q1 for every state."""
    g = national_log_growth()
    idx = np.arange(QUARTERS)
    phase = np.where(idx <= _quarter(*BOOM_END), 0, np.where(idx <= _quarter(*BUST_END), 1, 2))
    beta = np.array([STATE_BETA.get(s, DEFAULT_BETA) for s in STATES])  # (states, 3)
    return np.cumsum(beta[:, phase] * g[None, :], axis=1)


def market_rate_monthly():
    """PMMS-like 30-year rate by month, index 0 = January 1999 (annual averages placed mid-year)."""
    years = np.array(sorted(PMMS))
    x = (years - START_YEAR) * 12 + 5.5
    months = np.arange(QUARTERS * 3)
    return np.interp(months, x, [PMMS[y] for y in years])


LOG_HPI = state_log_hpi()
MARKET_RATE = market_rate_monthly()
MONTH0 = START_YEAR * 12  # month index (year*12 + month-1) of January 1999
