"""The feature encoder of docs/ARTIFACT_FORMAT.md, and the column layouts of each model family.

`encode(fields, columns, loans)` implements the artifact's `fields`/`columns` specification exactly as
the TypeScript runtime does (same operations, same order, IEEE doubles): it is used for training, for
the reference predictions and by the benchmark, so the artifact is the only description of encoding.
"""

import numbers

import numpy as np
import pandas as pd

from .schema import FIELD_BY_NAME, FIELDS, MODELLED_STATES

NUMERIC_FIELDS = [f["name"] for f in FIELDS if f["kind"] == "numeric" and f["name"] != "first_payment_date"]
CATEGORICAL_FIELDS = [f["name"] for f in FIELDS if f["kind"] == "categorical"]
VINTAGE_FIELD = "first_payment_date"


class EncodingError(ValueError):
    def __init__(self, field, problem):
        super().__init__(f"{field}: {problem}")
        self.field = field


def _as_frame(loans):
    if isinstance(loans, pd.DataFrame):
        return loans
    return pd.DataFrame.from_records(list(loans))


def read_field(df, field):
    """(missing, value) of one field for every loan.

    Numeric: value is a float64 array. Categorical: value is the index of the code in `levels`.
    Missing = null/NaN, absent, or one of `missing_values`. Anything else invalid raises EncodingError.
    """
    name, n = field["name"], len(df)
    if name not in df.columns:
        return np.ones(n, bool), np.zeros(n)
    col = df[name]
    if field["kind"] == "numeric":
        if col.dtype.kind in "iuf":
            value = col.to_numpy(np.float64)
        else:
            raw = col.to_numpy(object)
            ok = np.array([v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool)) for v in raw])
            if not ok.all():
                raise EncodingError(name, f"must be a number, got {raw[~ok][0]!r}")
            value = np.array([np.nan if v is None else v for v in raw], np.float64)
        null = np.isnan(value)
        if np.isinf(value).any():
            raise EncodingError(name, "must be a finite number")
        missing = null | np.isin(value, field["missing_values"])
        return missing, np.where(missing, 0.0, value)
    raw = col.to_numpy(object)
    null = pd.isna(col).to_numpy()
    missing = null | np.isin(raw, field["missing_values"])
    codes = pd.Categorical(raw, categories=field["levels"]).codes
    bad = ~missing & (codes < 0)
    if bad.any():
        raise EncodingError(name, f"unknown code {raw[bad][0]!r} (expected one of {', '.join(field['levels'])})")
    return missing, codes.astype(np.float64)


def encode(fields, columns, loans):
    """Feature matrix (float64, rows × columns) for loan records (a DataFrame or a list of dicts)."""
    df = _as_frame(loans)
    read = {f["name"]: read_field(df, f) for f in fields}
    by_name = {f["name"]: f for f in fields}
    X = np.empty((len(df), len(columns)), np.float64)
    for j, c in enumerate(columns):
        missing, value = read[c["field"]]
        if c["op"] == "is_missing":
            X[:, j] = missing
            continue
        x = value
        if c.get("derive") == "year":
            x = np.floor(x / 100)
        if c["op"] == "one_hot":
            level = c["level"]
            if by_name[c["field"]]["kind"] == "categorical" and "derive" not in c:
                level = by_name[c["field"]]["levels"].index(level)
            X[:, j] = ~missing & (x == level)
            continue
        x = np.where(missing, c.get("impute", np.nan), x)
        if "center" in c:
            x = (x - c["center"]) / c["scale"]
        X[:, j] = x
    return X


# --- Column layouts (fitted on the training loans) ------------------------------------------------------


def _missing_rates(df):
    return {f["name"]: read_field(df, f)[0].mean() for f in FIELDS}


def _category_levels(name):
    return list(MODELLED_STATES) if name == "property_state" else FIELD_BY_NAME[name]["levels"]


def _one_hot(name, level):
    return {"op": "one_hot", "name": f"{name}={level}", "field": name, "level": level}


def _median(df, name, derive=None):
    missing, value = read_field(df, FIELD_BY_NAME[name])
    v = value[~missing]
    if derive == "year":
        v = np.floor(v / 100)
    return float(np.median(v))


def tree_columns(df, impute):
    """XGBoost (impute=False: NaN for missing) and gradient boosting (impute=True: training median
    plus an is_missing column per field that has missing values) layouts. Every categorical level has
    a one-hot column (property_state: the modelled states only)."""
    rates = _missing_rates(df)
    cols = []
    for name in NUMERIC_FIELDS:
        col = {"op": "numeric", "name": name, "field": name}
        if impute:
            col["impute"] = _median(df, name)
        cols.append(col)
    year = {"op": "numeric", "name": "first_payment_year", "field": VINTAGE_FIELD, "derive": "year"}
    if impute:
        year["impute"] = _median(df, VINTAGE_FIELD, "year")
    cols.append(year)
    for name in CATEGORICAL_FIELDS:
        cols.extend(_one_hot(name, level) for level in _category_levels(name))
    if impute:
        cols.extend({"op": "is_missing", "name": f"{f['name']}_missing", "field": f["name"]}
                    for f in FIELDS if rates[f["name"]] > 0)
    return cols


def linear_columns(df):
    """Logistic regression / LDA layout: standardised numeric fields (median-imputed), is_missing
    indicators, one-hot categoricals without the most frequent (reference) level, and the vintage
    year one-hot without the most frequent year."""
    rates = _missing_rates(df)
    cols = []
    for name in NUMERIC_FIELDS:
        col = {"op": "numeric", "name": name, "field": name, "impute": _median(df, name)}
        x = encode(FIELDS, [col], df)[:, 0]
        scale = float(np.std(x))
        if scale > 0:  # a constant column carries nothing (and the format forbids scale 0)
            cols.append({**col, "center": float(np.mean(x)), "scale": scale})
    for name in NUMERIC_FIELDS:
        if rates[name] > 0:
            cols.append({"op": "is_missing", "name": f"{name}_missing", "field": name})
    for name in CATEGORICAL_FIELDS:
        missing, code = read_field(df, FIELD_BY_NAME[name])
        levels = FIELD_BY_NAME[name]["levels"]
        counts = np.bincount(code[~missing].astype(int), minlength=len(levels))
        if name == "property_state":
            # Reference = all states without their own column (the largest group).
            cols.extend(_one_hot(name, s) for s in MODELLED_STATES if counts[levels.index(s)] > 0)
        else:
            reference = int(np.argmax(counts))
            cols.extend(_one_hot(name, lv) for i, lv in enumerate(levels) if i != reference and counts[i] > 0)
        if rates[name] > 0:
            cols.append({"op": "is_missing", "name": f"{name}_missing", "field": name})
    missing, value = read_field(df, FIELD_BY_NAME[VINTAGE_FIELD])
    years, counts = np.unique(np.floor(value[~missing] / 100), return_counts=True)
    reference = years[np.argmax(counts)]
    cols.extend({"op": "one_hot", "name": f"first_payment_year={int(y)}", "field": VINTAGE_FIELD, "derive": "year",
                 "level": int(y)} for y in years if y != reference)
    return cols
