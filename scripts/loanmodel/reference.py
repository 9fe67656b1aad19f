"""Reference predictions (model-artifacts/reference/holdout.json): the libraries' own outputs on holdout
loans, split-threshold probes and all-missing loans, for the TypeScript parity tests."""

import json

import numpy as np

from .schema import FIELD_BY_NAME as FIELDS_BY_NAME
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
    Gradient boosting compares float32(x) <= threshold (GradientBoostingClassifier) or x <= threshold in
    double (HistGradientBoostingClassifier), thresholds doubles: the probe value is the double.
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


# --- Scenario-conditional reference rows (the shipped models, docs/MODELS.md) ----------------------------

SCENARIO_KIND = {"xgboost": "threshold_probe_xgboost_scenario",
                 "gradient_boosting": "threshold_probe_gradient_boosting_scenario"}
HPI_PROBED = ("hpi_change_12m", "hpi_change_36m", "hpi_trough_36m")


def custom_paths(rng, count=4):
    """Random custom scenarios: a national quarterly path and one to three states with their own path."""
    from .schema import STATES
    out = []
    for k in range(count):
        national = np.round(rng.uniform(-0.06, 0.04, 12), 6).tolist()
        states = {str(s): np.round(rng.uniform(-0.08, 0.05, 12), 6).tolist()
                  for s in rng.choice(["CA", "FL", "NV", "AZ", "MI", "OH", "TX", "NY"], size=1 + k % 3, replace=False)}
        out.append({"name": "custom", "national": national, "states": states})
    return out


def _in_market(scn, loans):
    f = scn.features(loans, scn.HISTORICAL)
    return ~np.isnan(f["hpi_change_12m"].to_numpy())


def assign_scenarios(loans, rng):
    """Per loan a scenario spec, mixed over the presets, `historical` (only where the first payment's 36
    months are inside the synthetic market) and custom paths."""
    from . import scenario as scn
    customs = custom_paths(rng)
    choices = list(scn.PRESETS) + [scn.HISTORICAL, "custom"]
    historical_ok = _in_market(scn, loans)
    out = []
    for i in range(len(loans)):
        spec = choices[int(rng.integers(len(choices)))]
        if spec == "custom":
            spec = customs[int(rng.integers(len(customs)))]
        if spec == scn.HISTORICAL and not historical_ok[i]:
            spec = "baseline"
        out.append(spec)
    return out


def _exact_path(v, field):
    """A custom national path whose feature `field` is exactly v (the cumulative sums add exactly: three
    quarters of v/4, then v − C3, which Sterbenz's lemma makes exact), or None."""
    if field == "hpi_trough_36m" and v > 0:
        return None
    if abs(v) > 0.96:
        return None
    c = 0.0
    path = []
    for _ in range(3):
        path.append(v / 4)
        c += v / 4
    path.append(v - c)
    if c + path[-1] != v or abs(path[-1]) > 0.25:
        return None
    return {"name": "custom", "national": path + [0.0] * 8}


def scenario_probe_loans(points, bases, count, rng, kind):
    """Loans and scenarios putting a scenario feature exactly on a split threshold: the house-price features
    by a custom path, mtm_cltv_trough by a flat path (trough 0, so it equals CLTV) and CLTV = the value."""
    from . import scenario as scn
    usable = []
    for field, value in points:
        if field in HPI_PROBED:
            spec = _exact_path(value, field)
            if spec is not None:
                usable.append((field, value, None, spec))
        elif field == "mtm_cltv_trough":
            cltv = FIELDS_BY_NAME["cltv"]
            if cltv["min"] <= value <= cltv["max"]:
                usable.append((field, value, value, {"name": "custom", "national": [0.0] * 12}))
    chosen = [usable[i] for i in sorted(rng.choice(len(usable), size=min(count, len(usable)), replace=False))]
    loans, specs = [], []
    for k, (field, value, cltv, spec) in enumerate(chosen):
        loan = dict(bases[k % len(bases)])
        if cltv is not None:
            loan["cltv"] = int(cltv) if cltv == int(cltv) else cltv
        loan[ID_FIELD] = f"{kind}-{k}"
        got = scn.features([loan], spec)[field].iloc[0]
        if got != value:
            raise AssertionError(f"{kind}: {field} probe {value!r} gave {got!r}")
        loans.append(loan)
        specs.append(spec)
    return loans, specs


def build_with_scenarios(holdout, n_holdout, probes, models, columns_fields, seed):
    """(loans, kinds, scenarios, features) of the reference set of scenario-conditional models.

    `models`: family → (params, columns). `columns_fields`: the loan-record field names (threshold probes on
    loan fields are as in build()); scenario-feature thresholds are probed through the scenario."""
    from . import scenario as scn
    rng = np.random.default_rng([seed, 1])
    loans = loan_records(holdout.iloc[:n_holdout], rng)
    kinds = ["holdout"] * len(loans)
    specs = assign_scenarios(loans, rng)
    bases = loan_records(holdout.iloc[n_holdout:n_holdout + 2 * probes], rng) or loans
    for family, kind in PROBE_KINDS.items():
        params, columns = models[family]
        points = split_points(family, params, columns)
        loan_points = [(f, v) for f, v in points if f in columns_fields]
        extra = probe_loans(loan_points, bases, probes, rng, kind)
        loans += extra
        kinds += [kind] * len(extra)
        specs += assign_scenarios(extra, rng)
        extra, extra_specs = scenario_probe_loans([(f, v) for f, v in points if f in scn.FEATURES], bases,
                                                  probes // 2, rng, SCENARIO_KIND[family])
        loans += extra
        kinds += [SCENARIO_KIND[family]] * len(extra)
        specs += extra_specs
    extra, extra_kinds = all_missing_loans()
    loans += extra
    kinds += extra_kinds
    specs += ["baseline", "severely_adverse", {"name": "custom", "national": [-0.02] * 12}][:len(extra)]
    loans = json.loads(json.dumps(loans))
    feats = []
    for spec, loan in zip(specs, loans):
        f = scn.features([loan], spec).iloc[0]
        feats.append({k: (None if np.isnan(f[k]) else float(f[k])) for k in scn.FEATURES})
    return loans, kinds, json.loads(json.dumps(specs)), feats
