"""Reference predictions (model-artifacts/reference/holdout.json): the libraries' own outputs on holdout
loans, split-threshold probes and all-missing loans, for the TypeScript parity tests."""

import json

import numpy as np

from .schema import FIELDS, ID_FIELD, RECORD_FIELDS
from .tape import python_values

PROBE_KINDS = {"xgboost": "threshold_probe_xgboost", "gradient_boosting": "threshold_probe_gradient_boosting"}


def loan_records(df, rng):
    """Loan dicts as JSON will carry them. Each missing value is re-drawn as null or as the field's
    sentinel (50/50) so both spellings occur whatever the data source wrote."""
    columns = {name: python_values(df, name) for name in RECORD_FIELDS}
    loans = [dict(zip(RECORD_FIELDS, row)) for row in zip(*(columns[n] for n in RECORD_FIELDS))]
    for f in FIELDS:
        sentinels = f["missing_values"]
        if not sentinels:
            continue
        for loan in loans:
            if loan[f["name"]] is None or loan[f["name"]] in sentinels:
                loan[f["name"]] = sentinels[0] if rng.random() < 0.5 else None
    return loans


def split_points(family, params, columns):
    """Distinct (field, value) pairs at which a tree splits on a plain numeric field.

    XGBoost compares float32(x) < split_condition (a float32): the probe value is that float32.
    Gradient boosting compares float32(x) <= threshold (a double): the probe value is the double.
    """
    points = set()
    if family == "xgboost":
        for t in params["booster"]["learner"]["gradient_booster"]["model"]["trees"]:
            for left, j, cond in zip(t["left_children"], t["split_indices"], t["split_conditions"]):
                if left != -1:
                    points.add((j, float(np.float32(cond))))
    else:
        for t in params["trees"]:
            for left, j, thr in zip(t["children_left"], t["feature"], t["threshold"]):
                if left != -1:
                    points.add((j, float(thr)))
    plain = {j: c["field"] for j, c in enumerate(columns) if c["op"] == "numeric" and "derive" not in c}
    return sorted((plain[j], v) for j, v in points if j in plain)


def probe_loans(points, bases, count, rng, kind):
    chosen = [points[i] for i in sorted(rng.choice(len(points), size=min(count, len(points)), replace=False))]
    loans = []
    for k, (field, value) in enumerate(chosen):
        loan = dict(bases[k % len(bases)])
        loan[field] = int(value) if value == int(value) else value
        loan[ID_FIELD] = f"{kind}-{k}"
        loans.append(loan)
    return loans


def all_missing_loans():
    null = {f["name"]: None for f in FIELDS}
    sentinel = {f["name"]: (f["missing_values"][0] if f["missing_values"] else None) for f in FIELDS}
    return ([{**null, ID_FIELD: "all-missing-null"}, {**sentinel, ID_FIELD: "all-missing-sentinel"},
             {ID_FIELD: "all-missing-absent"}],
            ["all_missing_null", "all_missing_sentinel", "all_missing_absent"])


def build(holdout, n_holdout, probes, models, seed):
    """Loans and kinds of the reference set. `models`: family → (params, columns) of the exported model."""
    rng = np.random.default_rng([seed, 1])
    loans = loan_records(holdout.iloc[:n_holdout], rng)
    kinds = ["holdout"] * len(loans)
    bases = loan_records(holdout.iloc[n_holdout:n_holdout + 2 * probes], rng) or loans
    for family, kind in PROBE_KINDS.items():
        params, columns = models[family]
        extra = probe_loans(split_points(family, params, columns), bases, probes, rng, kind)
        loans += extra
        kinds += [kind] * len(extra)
    extra, extra_kinds = all_missing_loans()
    loans += extra
    kinds += extra_kinds
    # What the TypeScript side will read: JSON-parsed values (ints stay ints, floats round-trip).
    loans = json.loads(json.dumps(loans))
    return loans, kinds
