"""SYNTHETIC market paths for the loan history (docs/DATA.md "Simulated loan history"): a state-level
quarterly house-price index and a monthly 30-year mortgage rate.

The HPI is not any published index. It has the shape of one: a national boom to mid-2006, a bust from
2006Q3 to 2011Q4, a recovery after; each state follows the national quarterly log growth times its
sensitivity in that phase (`STATE_BETA`), so the bust is deepest in the sand states and in MI/OH.
"""

import numpy as np

from .schema import STATES

START_YEAR = 1999  # index 1.0 in 1999Q1
END_YEAR = 2022  # last quarter 2022Q4
# National log growth per year of the synthetic index (spread evenly over the year's quarters).
NATIONAL_GROWTH = {1999: 0.05, 2000: 0.07, 2001: 0.07, 2002: 0.08, 2003: 0.08, 2004: 0.10, 2005: 0.11,
                   2006: 0.0, 2007: -0.05, 2008: -0.10, 2009: -0.06, 2010: -0.03, 2011: -0.04, 2012: 0.04,
                   2013: 0.07, 2014: 0.05, 2015: 0.05, 2016: 0.05, 2017: 0.06, 2018: 0.05, 2019: 0.04,
                   2020: 0.06, 2021: 0.12, 2022: 0.08}
# 2006: +0.055 over the first half (the peak is 2006Q2), −0.055 over the second half.
BOOM_END, BUST_END = (2006, 2), (2011, 4)
# (boom, bust, recovery) multipliers of the national log growth. Peak-to-trough national fall: 27 %
# (log −0.31); CA −45 %, FL −50 %, NV −60 %, AZ −54 %, MI −38 %, OH −30 %, TX −6 %.
STATE_BETA = {"CA": (1.6, 1.95, 1.3), "FL": (1.7, 2.25, 1.2), "NV": (1.9, 2.95, 1.2), "AZ": (1.8, 2.5, 1.2),
              "MI": (0.3, 1.55, 0.8), "OH": (0.3, 1.15, 0.6), "GA": (0.8, 1.1, 0.9), "IL": (0.9, 1.1, 0.7),
              "TX": (0.4, 0.2, 1.1), "NY": (1.1, 0.6, 0.8), "NJ": (1.2, 0.8, 0.8), "PA": (0.8, 0.5, 0.8),
              "DC": (1.4, 0.5, 1.1), "MD": (1.3, 1.1, 0.8), "VA": (1.2, 0.9, 0.8), "RI": (1.3, 1.0, 0.8),
              "CO": (0.5, 0.5, 1.4), "ND": (0.4, 0.0, 1.0), "OK": (0.4, 0.1, 0.8), "NE": (0.4, 0.2, 0.9),
              "IA": (0.4, 0.2, 0.9), "KS": (0.4, 0.3, 0.9), "AR": (0.4, 0.3, 0.8), "WV": (0.5, 0.3, 0.7)}
DEFAULT_BETA = (0.8, 0.8, 1.0)  # every other state
QUARTERS = (END_YEAR - START_YEAR + 1) * 4

# Freddie Mac PMMS 30-year fixed rate, annual averages (%, rounded to 0.01), interpolated monthly.
PMMS = {1999: 7.44, 2000: 8.05, 2001: 6.97, 2002: 6.54, 2003: 5.83, 2004: 5.84, 2005: 5.87, 2006: 6.41,
        2007: 6.34, 2008: 6.03, 2009: 5.04, 2010: 4.69, 2011: 4.45, 2012: 3.66, 2013: 3.98, 2014: 4.17,
        2015: 3.85, 2016: 3.65, 2017: 3.99, 2018: 4.54, 2019: 3.94, 2020: 3.11, 2021: 2.96, 2022: 5.34}


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
            g[i] = (0.0275 if q <= 2 else -0.0275) if y == 2006 else NATIONAL_GROWTH[y] / 4
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
