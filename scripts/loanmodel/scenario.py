"""Scenarios and the per-loan scenario features of the scenario-conditional models (issue 21 item 3;
docs/MODELS.md "Next: scenario-conditional models (not yet served)").

A scenario is a house-price path over the 36-month label horizon (12 quarters) from the loan's first
payment: a preset of src/contract/scenarios.json (`baseline`, `adverse`, `severely_adverse`: a national
quarterly log-HPI change path times a per-state sensitivity), `historical` (the synthetic market the
loan history was simulated from, hpi.py, read at the loan's state from its first-payment quarter), or a
custom path (`{"national": [...], "states": {"CA": [...]}}`, quarterly log changes). src/scenario/index.ts
computes the same features from the same file; test/fixtures/scenario-features.json (written by
scripts/scenario_fixture.py) holds both languages to 1e-12.

Features of a loan under a scenario, with C_k the cumulative log HPI change k quarters after the
first-payment quarter (C_0 = 0, C_k = C_(k-1) + p_k):
  hpi_change_12m   C_4                  hpi_change_36m  C_12
  hpi_trough_36m   min(C_0 … C_12) <= 0
  mtm_cltv_trough  CLTV (LTV when CLTV is missing) × exp(−hpi_trough_36m): the mark-to-market CLTV at the
                   trough, amortisation ignored; missing when both are missing
  note_rate_spread note rate − the market rate (PMMS-like, hpi.MARKET_RATE's interpolation) in the
                   first-payment month; missing without a first-payment date. Scenario-independent.
A loan without a state follows the national path (sensitivity 1). Under `historical` a loan whose 12
quarters are not all inside the index (first payment before 1999-01 or after 2019-12) has no HPI features
(NaN).
"""

import math
import numbers

import numpy as np
import pandas as pd

from . import hpi
from .contract import CONTRACT, SCENARIOS
from .encoding import read_field
from .schema import FIELD_BY_NAME, STATES

HORIZON = SCENARIOS["horizon_quarters"]
LIMITS = SCENARIOS["limits"]
PRESETS = SCENARIOS["presets"]
HISTORICAL = "historical"
NAMES = tuple(PRESETS) + (HISTORICAL,)
PHASES = ("boom", "bust", "recovery")  # the order of hpi.STATE_BETA's multipliers

FEATURES = ("hpi_change_12m", "hpi_change_36m", "hpi_trough_36m", "mtm_cltv_trough", "note_rate_spread")
# How each feature moves PD in the models' monotone constraints (+1 up, −1 down): house prices falling
# lowers the changes and the trough and raises the mark-to-market CLTV. The note-rate spread is left free:
# it raises the monthly default hazard but also the refinancing incentive, and a loan prepaid before
# month 36 is a non-default, so its effect on the 36-month label has no sign to impose (fitted: negative).
MONOTONE = {"hpi_change_12m": -1, "hpi_change_36m": -1, "hpi_trough_36m": -1, "mtm_cltv_trough": 1}
# The features as artifact `fields` entries (numeric, no sentinel), from the contract's `scenario_fields`: the
# service computes them per loan from the request's scenario; a client never sends them.
FEATURE_FIELDS = [
    {"name": f["name"], "kind": "numeric", "missing_values": [], "min": f["min"], "max": f["max"], "unit": f["unit"],
     "description": f["description"]}
    for f in CONTRACT["scenario_fields"]
]
assert tuple(f["name"] for f in FEATURE_FIELDS) == FEATURES

_STATE_INDEX = {s: i for i, s in enumerate(STATES)}
_NATIONAL_LOG_HPI = np.cumsum(hpi.national_log_growth())


class ScenarioError(ValueError):
    def __init__(self, problems):
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        self.problems = problems


def _is_number(x):
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


HOUSE_PRICES = {"what": "quarterly log house-price changes", "min": LIMITS["min_quarters"],
                "max": LIMITS["max_quarters"], "bound": LIMITS["max_abs_quarterly_log_change"], "unit": ""}
MARKET_RATE = {"what": "quarterly changes of the market rate, in percentage points", "min": 1,
               "max": LIMITS["max_rate_quarters"], "bound": LIMITS["max_abs_quarterly_rate_change"], "unit": " (points)"}


def _path_problems(field, path, out, rule=HOUSE_PRICES):
    if not isinstance(path, list):
        out.append({"field": field, "message": f"must be an array of {rule['what']}"})
        return
    lo, hi = rule["min"], rule["max"]
    if not lo <= len(path) <= hi:
        out.append({"field": field, "message": f"must hold {lo} to {hi} quarters, got {len(path)}"})
        return
    bound = rule["bound"]
    for i, x in enumerate(path):
        if not _is_number(x) or abs(x) > bound:
            out.append({"field": f"{field}[{i}]", "message": f"must be a finite number from {-bound} to {bound}{rule['unit']}"})


def problems(spec, field="scenario"):
    """The problems of a scenario (a name or a custom path), as {field, message}, in the TS validator's order."""
    if isinstance(spec, str):
        if spec in NAMES:
            return []
        return [{"field": field, "message": f"must be one of {', '.join(NAMES)} or a custom path"}]
    if not isinstance(spec, dict):
        return [{"field": field, "message": "must be a scenario name or an object with a national path"}]
    out = []
    for key in spec:
        if key not in ("name", "national", "states", "rates"):
            out.append({"field": f"{field}.{key}", "message": "is not a scenario field (name, national, states, rates)"})
    if "name" in spec and not (isinstance(spec["name"], str) and 0 < len(spec["name"]) <= 64):
        out.append({"field": f"{field}.name", "message": "must be a string of 1 to 64 characters"})
    if "national" not in spec:
        out.append({"field": f"{field}.national", "message": "is required"})
    else:
        _path_problems(f"{field}.national", spec["national"], out)
    states = spec.get("states")
    if states is not None:
        if not isinstance(states, dict):
            out.append({"field": f"{field}.states", "message": "must be an object of state code → path"})
        elif len(states) > LIMITS["max_states"]:
            out.append({"field": f"{field}.states", "message": f"must name at most {LIMITS['max_states']} states"})
        else:
            for s, path in states.items():
                if s not in _STATE_INDEX:
                    out.append({"field": f"{field}.states.{s}", "message": "is not a USPS state code"})
                else:
                    _path_problems(f"{field}.states.{s}", path, out)
    if "rates" in spec:
        _path_problems(f"{field}.rates", spec["rates"], out, MARKET_RATE)
    return out


def resolve(spec):
    """A scenario name or custom path → the resolved scenario; raises ScenarioError when invalid."""
    found = problems(spec)
    if found:
        raise ScenarioError(found)
    if spec == HISTORICAL:
        return {"name": HISTORICAL, "kind": HISTORICAL}
    if isinstance(spec, str):
        p = PRESETS[spec]
        k = PHASES.index(p["sensitivity"])
        beta = {s: hpi.STATE_BETA.get(s, hpi.DEFAULT_BETA)[k] for s in STATES}
        return {"name": spec, "kind": "path", "national": list(p["national"]), "states": {}, "beta": beta,
                "rates": list(p["rates"]) if "rates" in p else None}
    return {"name": spec.get("name", "custom"), "kind": "path", "national": list(spec["national"]),
            "states": {s: list(v) for s, v in (spec.get("states") or {}).items()}, "beta": None,
            "rates": list(spec["rates"]) if "rates" in spec else None}


def _as_frame(loans):
    return loans if isinstance(loans, pd.DataFrame) else pd.DataFrame.from_records(list(loans))


def _values(df, name):
    missing, value = read_field(df, FIELD_BY_NAME[name])
    return np.where(missing, np.nan, value)


def market_rate(month):
    """The market rate in month index `month` (months since January 1999, float array; NaN stays NaN)."""
    years = np.array(sorted(hpi.PMMS))
    return np.interp(month, (years - hpi.START_YEAR) * 12 + 5.5, [hpi.PMMS[y] for y in years])


def cumulative_paths(df, scenario):
    """(loans × HORIZON+1) cumulative log HPI changes C_0..C_12 (rows of NaN where unavailable)."""
    n = len(df)
    state_missing, state_code = read_field(df, FIELD_BY_NAME["property_state"])
    states = [None if m else STATES[int(c)] for m, c in zip(state_missing, state_code)]
    C = np.zeros((n, HORIZON + 1))
    if scenario["kind"] == HISTORICAL:
        fpd = _values(df, "first_payment_date")
        month = np.floor(fpd / 100) * 12 + (fpd % 100) - 1 - hpi.MONTH0
        q0 = np.floor(month / 3)
        ok = ~np.isnan(q0) & (q0 >= 0) & (q0 + HORIZON <= hpi.QUARTERS - 1)
        for i in np.flatnonzero(ok):
            row = _NATIONAL_LOG_HPI if states[i] is None else hpi.LOG_HPI[_STATE_INDEX[states[i]]]
            q = int(q0[i])
            C[i] = row[q:q + HORIZON + 1] - row[q]
        C[~ok] = np.nan
        return C
    national = np.array(scenario["national"][:HORIZON])
    P = np.empty((n, HORIZON))
    for i, s in enumerate(states):
        if s is not None and s in scenario["states"]:
            P[i] = scenario["states"][s][:HORIZON]
        elif s is not None and scenario["beta"] is not None:
            P[i] = national * scenario["beta"][s]
        else:
            P[i] = national
    C[:, 1:] = np.cumsum(P, axis=1)
    return C


def features(loans, scenario):
    """DataFrame of FEATURES for loan records (a DataFrame or dicts) under a resolved scenario (or a spec)."""
    if not (isinstance(scenario, dict) and "kind" in scenario):
        scenario = resolve(scenario)
    df = _as_frame(loans)
    C = cumulative_paths(df, scenario)
    trough = C.min(axis=1)
    cltv, ltv = _values(df, "cltv"), _values(df, "ltv")
    base = np.where(np.isnan(cltv), ltv, cltv)
    fpd = _values(df, "first_payment_date")
    month = np.floor(fpd / 100) * 12 + (fpd % 100) - 1 - hpi.MONTH0
    return pd.DataFrame({
        "hpi_change_12m": C[:, 4], "hpi_change_36m": C[:, HORIZON], "hpi_trough_36m": trough,
        "mtm_cltv_trough": base * np.exp(-trough),
        "note_rate_spread": _values(df, "original_interest_rate") - market_rate(month),
    }, index=df.index)
