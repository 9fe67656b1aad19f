"""The shipped models (`npm run train`, issue 21): scenario-conditional models trained on the simulated loan
history. docs/MODELS.md "The shipped models".

history.py simulates origination + monthly performance files, freddie.load labels them (default within
36 months), and the features are the origination attributes WITHOUT the vintage year plus the scenario
features (scenario.py) of each loan's realised house-price path (`historical`). The four families and
the XGBoost challenger are fitted with training.py:
- XGBoost with monotone constraints (credit score ↓, LTV/CLTV/DTI ↑, house-price changes and trough ↓,
  mark-to-market CLTV ↑; the note-rate spread is free, scenario.MONOTONE says why);
- logistic regression and LDA (fitted by scikit-learn) through a sign-consistent backward elimination
  (fit()): a monotone-constrained column whose coefficient has the wrong sign is dropped and the model
  refitted, so every kept coefficient has its sign and PD is monotone by construction;
- gradient boosting as scikit-learn 1.2's HistGradientBoostingClassifier with `monotonic_cst` in the same
  directions as XGBoost (GradientBoostingClassifier has no monotonic_cst before 1.4); its artifact splits
  compare float64 rows (export.hgb_parameters, docs/ARTIFACT_FORMAT.md).

Reported: an out-of-time validation (fit on vintages <= train_through, score each later vintage: AUC,
KS, Brier, mean PD against the observed rate with a Jeffreys interval; those models are exported to
reference/out-of-time/, not served, so that a backtest reproduces the table), and monotonicity counts: random
loans scored under pairs of house-price paths where one is never above the other (the presets' chain
baseline ≥ adverse ≥ severely_adverse and random national paths), PD must not fall on the lower path;
and under a worse credit score, LTV, CLTV or DTI. The artifacts are fitted on every vintage (random 25 %
holdout for the decision threshold and the export check) and carry in `training` their `support` and
`stability_baseline` (docs/ARTIFACT_FORMAT.md); the reference rows carry their scenarios.
"""

import os
import time

import numpy as np
import pandas as pd
import scipy.stats

from . import encoding, export, freddie, history, metrics, scenario, training
from .families import LINEAR
from .pipeline import artifact_date, describe, library_outputs, library_versions
from .schema import FIELD_BY_NAME, FIELDS, LABEL

SCENARIO_FIELDS = FIELDS + scenario.FEATURE_FIELDS
# Monotone direction of PD in a column's value, by field (one_hot and is_missing columns: 0).
MONOTONE_FIELDS = {"credit_score": -1, "ltv": 1, "cltv": 1, "dti": 1, **scenario.MONOTONE}
VINTAGE = encoding.VINTAGE_FIELD


def add_historical_features(loans):
    """The loans with the scenario features of their realised path (the `historical` scenario)."""
    f = scenario.features(loans, scenario.HISTORICAL)
    return pd.concat([loans.reset_index(drop=True), f.reset_index(drop=True)], axis=1)


def _scenario_columns(df, family):
    cols = []
    for field in scenario.FEATURE_FIELDS:
        name = field["name"]
        col = {"op": "numeric", "name": name, "field": name}
        missing, value = encoding.read_field(df, field)
        if family != "xgboost":
            col["impute"] = float(np.median(value[~missing]))
        if family in LINEAR:
            x = encoding.encode([field], [col], df)[:, 0]
            col.update(center=float(np.mean(x)), scale=float(np.std(x)))
        cols.append(col)
        if family != "xgboost" and missing.any():
            cols.append({"op": "is_missing", "name": f"{name}_missing", "field": name})
    return cols


def columns_for(family, df):
    """The family's usual layout without the vintage year, plus the scenario feature columns."""
    from .pipeline import columns_for as base_columns
    return [c for c in base_columns(family, df) if c["field"] != VINTAGE] + _scenario_columns(df, family)


def monotone_signs(columns):
    """Per column: the monotone direction of PD in it (MONOTONE_FIELDS for numeric columns, else 0)."""
    return [MONOTONE_FIELDS.get(c["field"], 0) if c["op"] == "numeric" else 0 for c in columns]


def monotone_constraints(columns):
    """XGBoost's `monotone_constraints` string."""
    return "(" + ",".join(str(s) for s in monotone_signs(columns)) + ")"


def params_for(family, changes, seed, columns, overrides=None):
    """The family's parameters; the tree families carry the monotone constraints of `columns`: XGBoost as
    `monotone_constraints`, scikit-learn's HistGradientBoostingClassifier as `monotonic_cst`."""
    params = {**training.default_params(seed)[family], **changes, **(overrides or {}).get(family, {})}
    if family == "xgboost":
        params["monotone_constraints"] = monotone_constraints(columns)
    elif family == "gradient_boosting":
        params["monotonic_cst"] = monotone_signs(columns)
    return params


def simulate(n, seed, work_dir):
    """Simulated origination + performance files (36 months) labelled by the Freddie Mac loader."""
    (orig, perf), rows = history.write_history(work_dir, n, seed, horizon=freddie.WINDOW_MONTHS)
    loans, stats = freddie.load([orig], [perf])
    return loans, {**stats, "performance_rows": rows}


def wrong_signs(columns, coef):
    """Indices of the numeric columns whose fitted coefficient has the sign their monotone direction forbids."""
    return [j for j, c in enumerate(columns)
            if c["op"] == "numeric" and MONOTONE_FIELDS.get(c["field"], 0) * coef[j] < 0]


def fit(family, params, columns, train):
    """(model, columns, X_train, dropped): the family fitted by its library. Linear families by a
    sign-consistent backward elimination: fit; if a monotone-constrained numeric column (credit score ↓,
    LTV/CLTV/DTI ↑, the house-price features) has a coefficient of the forbidden sign, drop the one with the
    largest |coefficient| (columns are standardised, so sizes compare), refit, repeat. Every linear column
    then moves PD the right way, so PD is monotone in those fields and in the house-price path. `dropped`
    lists each dropped column with its coefficient when it was dropped."""
    y = train[LABEL].to_numpy()
    dropped = []
    while True:
        X = encoding.encode(SCENARIO_FIELDS, columns, train)
        model = training.fit(family, params, X, y)
        if family not in LINEAR:
            return model, columns, X, dropped
        coef = model.coef_[0]
        wrong = wrong_signs(columns, coef)
        if not wrong:
            return model, columns, X, dropped
        j = max(wrong, key=lambda k: abs(coef[k]))
        dropped.append({"column": columns[j]["name"], "coefficient": float(coef[j]),
                        "expected_sign": "+" if MONOTONE_FIELDS[columns[j]["field"]] > 0 else "-"})
        columns = columns[:j] + columns[j + 1:]


def fit_predict(family, params, columns, train, test):
    model, columns, X_train, dropped = fit(family, params, columns, train)
    p = training.predict(family, model, encoding.encode(SCENARIO_FIELDS, columns, test))[0]
    return model, columns, X_train, dropped, p


def out_of_time(loans, train_through, seed, log, overrides=None, fitted=None):
    """Per model: fitted on vintages <= train_through, metrics per later vintage and on all of them. With a
    dict `fitted`, each model is also put there by key, as (family, model, columns, X_train, params, p_test),
    for export_out_of_time."""
    year = (loans[VINTAGE] // 100).astype(int)
    train = loans[year <= train_through].reset_index(drop=True)
    test = loans[year > train_through].reset_index(drop=True)
    test_year = (test[VINTAGE] // 100).astype(int).to_numpy()
    out = {}
    for name, family, version, changes in training.MODELS:
        columns = columns_for(family, train)
        params = params_for(family, changes, seed, columns, overrides)
        model, columns, X_train, _, p = fit_predict(family, params, columns, train, test)
        y = test[LABEL].to_numpy()
        rows = {"all later vintages": _scores(y, p)}
        for v in np.unique(test_year):
            m = test_year == v
            rows[str(v)] = _scores(y[m], p[m])
        out[f"{name}/{version}"] = rows
        if fitted is not None:
            fitted[f"{name}/{version}"] = (family, model, columns, X_train, params, p)
        log(f"out-of-time {name}/{version}: AUC {rows['all later vintages']['auc']:.4f}")
    split = {"train_loans": int(len(train)), "test_loans": int(len(test)), "train_through": train_through}
    if fitted is not None:
        fitted["_sets"] = (train, test)
    return out, split


OUT_OF_TIME_DIR = os.path.join("reference", "out-of-time")


def export_out_of_time(out_dir, fitted, oot, oot_split, stats, seed, command):
    """The out-of-time models as artifacts (the shipped format, export.artifact, verified like them) under
    OUT_OF_TIME_DIR/<name>/<version>.json: the models of the card's out-of-time table, so that a backtest
    of its test set (backtest_tape.py --holdout --out-of-time) reproduces it. `reference/` is not a model
    folder: the service never serves them (src/registry.ts); returns the bytes written per key."""
    train, test = fitted["_sets"]
    through = oot_split["train_through"]
    data = {"source": "SIMULATED loan history (scripts/loanmodel/history.py), labelled by scripts/loanmodel/freddie.py",
            **stats, "seed": seed, "split": f"out of time: fitted on vintages <= {through}, tested on the later ones",
            "train_loans": int(len(train)), "test_loans": int(len(test)),
            "train_default_rate": round(float(train[LABEL].mean()), 6),
            "test_default_rate": round(float(test[LABEL].mean()), 6)}
    date, versions = artifact_date(), library_versions()
    y_train, sizes = train[LABEL].to_numpy(), {}
    for name, family, version, _ in training.MODELS:
        key = f"{name}/{version}"
        family, model, columns, X_train, params, p_test = fitted[key]
        model_params = export.model_parameters(family, model, X_train, y_train)
        export.verify(family, model_params, model, encoding.encode(SCENARIO_FIELDS, columns, test))
        p_train = training.predict(family, model, X_train)[0]
        _, threshold = metrics.ks_cutoff(y_train, p_train)
        train_doc = {"data": data, "label": freddie.LABEL_DEFINITION,
                     "out_of_time": {**oot_split, "by_vintage": oot[key]},
                     "scenario_features": "scripts/loanmodel/scenario.py, trained on the `historical` scenario "
                                          "(each loan's realised synthetic house-price path)",
                     "support": support(columns, train),
                     "stability_baseline": stability_baseline(columns, train, p_train),
                     "decision_threshold_rule": "PD cut-off maximising the Kolmogorov-Smirnov statistic on the "
                                                "training rows (no later vintage is used): a ranking cut-off, not a "
                                                "prediction that the loan defaults",
                     "params": params, "libraries": versions, "date": date, "command": command}
        doc = export.artifact(
            name, family, describe(family, params, columns) + f" OUT-OF-TIME REFERENCE MODEL, not served: fitted on "
            f"vintages <= {through} only, the model of the model card's out-of-time table (docs/MODELS.md); "
            "scenario-conditional, trained on SIMULATED loan history.",
            freddie.LABEL_DEFINITION, threshold, SCENARIO_FIELDS, columns, model_params, train_doc, version=version)
        os.makedirs(os.path.join(out_dir, OUT_OF_TIME_DIR, name), exist_ok=True)
        size = export.write_json(os.path.join(out_dir, OUT_OF_TIME_DIR, f"{key}.json"), doc)
        if size > export.MAX_ARTIFACT_BYTES:
            raise RuntimeError(f"{OUT_OF_TIME_DIR}/{key}.json is {size:,} bytes, over the 5 MiB limit")
        sizes[key] = size
    return sizes


def _scores(y, p):
    s = metrics.holdout_metrics(y, p) if 0 < y.sum() < len(y) else {"auc": None, "ks": None, "brier": None}
    d, n = int(y.sum()), int(len(y))
    lo, hi = scipy.stats.beta.ppf([0.025, 0.975], d + 0.5, n - d + 0.5)  # Jeffreys 95 % interval
    return {"loans": n, "defaults": d, "auc": s["auc"], "ks": s["ks"], "brier": s["brier"],
            "mean_pd": round(float(np.mean(p)), 6), "observed": round(float(np.mean(y)), 6),
            "observed_jeffreys_95": [round(float(lo if d > 0 else 0.0), 6), round(float(hi if d < n else 1.0), 6)]}


def _quantile_edges(x, k=10):
    """Interior edges of quantile bins: numpy's default (linear) quantiles at 1/k … (k−1)/k, repeated
    values merged (src/validation/drift.ts quantileEdges)."""
    edges = []
    for q in np.quantile(x, np.arange(1, k) / k):
        if not edges or q > edges[-1]:
            edges.append(float(q))
    return edges


def numeric_bins(x, missing=0):
    """{kind: numeric, edges, counts}: counts of (−∞, c1], (c1, c2], …, (cK, ∞), then missing (drift.ts Bins)."""
    edges = _quantile_edges(x) if len(x) else []
    counts = np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1)
    return {"kind": "numeric", "edges": edges, "counts": [int(c) for c in counts] + [int(missing)]}


def model_fields(columns):
    """The fields a model's columns read, in SCENARIO_FIELDS order."""
    read = {c["field"] for c in columns}
    return [f for f in SCENARIO_FIELDS if f["name"] in read]


def support(columns, train):
    """Training support of every field the model reads (non-missing values): numeric min, 1st and 99th
    percentile, max; categorical the levels seen; plus the first-payment-date range of the training rows
    (read by the scenario features even where it is not a column)."""
    out = {}
    for f in model_fields(columns):
        missing, value = encoding.read_field(train, f)
        x = value[~missing]
        if f["kind"] == "categorical":
            out[f["name"]] = {"levels": [f["levels"][int(c)] for c in np.unique(x)]}
        elif len(x):
            out[f["name"]] = {"min": float(x.min()), "p01": float(np.quantile(x, 0.01)),
                              "p99": float(np.quantile(x, 0.99)), "max": float(x.max())}
    missing, value = encoding.read_field(train, FIELD_BY_NAME[VINTAGE])
    x = value[~missing]
    out["first_payment_date_range"] = {"min": int(x.min()), "max": int(x.max())}
    return out


def stability_baseline(columns, train, p_train):
    """Score and per-field distributions of the training rows as counts in fixed bins, for PSI/CSI
    (src/validation/drift.ts): score deciles; numeric fields' deciles (non-missing) and a missing count;
    categorical fields' level counts, an `other` bin (0) and missing."""
    fields = {}
    for f in model_fields(columns):
        missing, value = encoding.read_field(train, f)
        if f["kind"] == "categorical":
            counts = np.bincount(value[~missing].astype(int), minlength=len(f["levels"]))
            fields[f["name"]] = {"kind": "levels", "levels": list(f["levels"]),
                                 "counts": [int(c) for c in counts] + [0, int(missing.sum())]}
        else:
            fields[f["name"]] = numeric_bins(value[~missing], missing.sum())
    return {"rows": int(len(train)),
            "rule": "training rows; numeric bins right-closed at the training deciles (numpy linear quantiles, "
                    "repeated edges merged), counts per bin then missing; categorical: levels, other, missing",
            "score": numeric_bins(np.asarray(p_train, float)), "fields": fields}


def _with_features(loans, spec):
    return pd.concat([loans.reset_index(drop=True), scenario.features(loans, spec).reset_index(drop=True)], axis=1)


def _pd(family, model, columns, df):
    return training.predict(family, model, encoding.encode(SCENARIO_FIELDS, columns, df))[0]


def monotonicity(family, model, columns, loans, seed, pairs=20):
    """Violations (PD lower on the worse side) over loans × pairs, for house prices and for each credit field."""
    rng = np.random.default_rng([seed, 3])
    base = loans.drop(columns=list(scenario.FEATURES), errors="ignore").reset_index(drop=True)
    out = {}
    chain = list(scenario.PRESETS)  # baseline ≥ adverse ≥ severely_adverse in every state, every quarter
    paths = [(chain[i], chain[i + 1]) for i in range(len(chain) - 1)]
    for _ in range(pairs):
        high = rng.uniform(-0.06, 0.06, scenario.HORIZON)
        low = high - rng.uniform(0, 0.04, scenario.HORIZON)
        paths.append(({"national": high.tolist()}, {"national": low.tolist()}))
    count = 0
    for high, low in paths:
        p_high = _pd(family, model, columns, _with_features(base, high))
        p_low = _pd(family, model, columns, _with_features(base, low))
        count += int((p_low < p_high).sum())
    out["house prices fall"] = {"checks": len(paths) * len(base), "violations": count}
    scored = _with_features(base, "baseline")
    p0 = _pd(family, model, columns, scored)
    for fields, step in ((("credit_score",), -20), (("ltv",), 5), (("cltv",), 5), (("ltv", "cltv"), 5), (("dti",), 5)):
        moved, present = base.copy(), np.ones(len(base), bool)
        for field in fields:
            spec = FIELD_BY_NAME[field]
            missing, value = encoding.read_field(base, spec)
            moved[field] = np.where(missing, base[field], np.clip(value + step, spec["min"], spec["max"]))
            present &= ~missing
        p1 = _pd(family, model, columns, _with_features(moved, "baseline"))
        sign = "lower" if step < 0 else "higher"
        out[f"{' and '.join(fields)} {sign} by {abs(step)}"] = {"checks": int(present.sum()),
                                                                "violations": int(((p1 < p0) & present).sum())}
    return out


def sensitivity(family, model, columns, loans, grids=None):
    """Median PD of the loans under `baseline` with one field set to each grid value (features recomputed)."""
    grids = grids or SENSITIVITY_GRID
    base = loans.drop(columns=list(scenario.FEATURES), errors="ignore").reset_index(drop=True)
    out = {}
    for field, values in grids.items():
        out[field] = {}
        for v in values:
            moved = base.copy()
            moved[field] = v
            out[field][str(v)] = round(float(np.median(_pd(family, model, columns, _with_features(moved, "baseline")))),
                                       6)
    return out


SENSITIVITY_GRID = {"credit_score": [600, 640, 680, 720, 760, 800], "ltv": [60, 70, 80, 90, 95],
                    "cltv": [60, 70, 80, 90, 95, 100], "dti": [20, 30, 40, 45, 50]}


def by_vintage(loans, y, p):
    year = (loans[VINTAGE] // 100).astype(int).to_numpy()
    return {str(v): _scores(y[year == v], p[year == v]) for v in np.unique(year)}


def run(out_dir, n, seed, train_through, work_dir, command, monotone_loans=2000, log=print, overrides=None,
        reference_holdout=5000, probes=300):
    """Simulate, label, validate out of time, fit on every vintage, export the artifacts, the reference
    rows (reference/holdout.json, reference/contributions.json) and MODEL_CARD.md; returns the figures."""
    from . import modelcard, reference

    started = time.perf_counter()
    os.makedirs(os.path.join(out_dir, "reference"), exist_ok=True)
    loans, stats = simulate(n, seed, work_dir)
    loans = add_historical_features(loans)
    log(f"simulated and labelled: {stats['labelled']:,} loans, {stats['defaults']:,} defaults")
    fitted = {}
    oot, oot_split = out_of_time(loans, train_through, seed, log, overrides, fitted)
    oot_bytes = export_out_of_time(out_dir, fitted, oot, oot_split, stats, seed, command)
    del fitted
    log(f"out-of-time models in {OUT_OF_TIME_DIR}/: {sum(oot_bytes.values()):,} bytes")

    order = np.random.default_rng(seed).permutation(len(loans))
    n_holdout = len(loans) // 4
    holdout = loans.iloc[order[:n_holdout]].reset_index(drop=True)
    train = loans.iloc[order[n_holdout:]].reset_index(drop=True)
    sample = holdout.iloc[np.random.default_rng([seed, 2]).permutation(len(holdout))[:monotone_loans]]
    data = {"source": "SIMULATED loan history (scripts/loanmodel/history.py), labelled by scripts/loanmodel/freddie.py",
            **stats, "seed": seed, "split": "random 25 % holdout over vintages 1999-2010",
            "train_loans": int(len(train)), "holdout_loans": int(len(holdout)),
            "train_default_rate": round(float(train[LABEL].mean()), 6),
            "holdout_default_rate": round(float(holdout[LABEL].mean()), 6)}
    date, versions = artifact_date(), library_versions()
    results, exported = {}, {}
    y, y_train = holdout[LABEL].to_numpy(), train[LABEL].to_numpy()
    for name, family, version, changes in training.MODELS:
        key = f"{name}/{version}"
        columns = columns_for(family, train)
        params = params_for(family, changes, seed, columns, overrides)
        model, columns, X_train, dropped, p = fit_predict(family, params, columns, train, holdout)
        if family == "xgboost":  # the constraints of the columns kept (all of them: no elimination here)
            params["monotone_constraints"] = monotone_constraints(columns)
        scores = metrics.holdout_metrics(y, p)
        _, threshold = metrics.ks_cutoff(y, p)
        model_params = export.model_parameters(family, model, X_train, y_train)
        export.verify(family, model_params, model, encoding.encode(SCENARIO_FIELDS, columns, holdout))
        mono = monotonicity(family, model, columns, sample, seed)
        p_train = training.predict(family, model, X_train)[0]
        train_doc = {"data": data, "label": freddie.LABEL_DEFINITION, "holdout_metrics": scores,
                     "out_of_time": {**oot_split, "by_vintage": oot[key]}, "monotonicity": mono,
                     "scenario_features": "scripts/loanmodel/scenario.py, trained on the `historical` scenario "
                                          "(each loan's realised synthetic house-price path)",
                     "support": support(columns, train),
                     "stability_baseline": stability_baseline(columns, train, p_train)}
        if family in LINEAR:
            train_doc["sign_elimination"] = {
                "rule": "sign-consistent backward elimination: fit, drop the monotone-constrained numeric column "
                        "with the largest |coefficient| of the forbidden sign, refit, until none is left",
                "monotone": {k: ("+" if v > 0 else "-") for k, v in MONOTONE_FIELDS.items()},
                "dropped": dropped}
        train_doc.update({
            "decision_threshold_rule": "PD cut-off maximising the Kolmogorov-Smirnov statistic on the holdout: "
                                       "a ranking cut-off, not a prediction that the loan defaults",
            "params": params, "libraries": versions, "date": date, "command": command})
        doc = export.artifact(
            name, family, describe(family, params, columns) + " Scenario-conditional (issue 21): origination "
            "attributes without the vintage year plus the five scenario features of the loan's house-price path "
            "under the request's scenario; trained on SIMULATED loan history (docs/MODELS.md).",
            freddie.LABEL_DEFINITION, threshold, SCENARIO_FIELDS, columns, model_params, train_doc, version=version)
        os.makedirs(os.path.join(out_dir, name), exist_ok=True)
        size = export.write_json(os.path.join(out_dir, f"{key}.json"), doc)
        if size > export.MAX_ARTIFACT_BYTES:
            raise RuntimeError(f"{key}.json is {size:,} bytes, over the 5 MiB limit")
        exported[key] = (family, model, model_params, columns)
        results[key] = {"family": family, "holdout": scores, "threshold": threshold, "bytes": size,
                        "monotonicity": mono, "columns": len(columns), "dropped": dropped,
                        "monotone_constraints": params.get("monotone_constraints"), "params": params,
                        "calibration": by_vintage(holdout, y, p), "support": train_doc["support"],
                        "sensitivity": sensitivity(family, model, columns, sample)}
        log(f"{key}: holdout AUC {scores['auc']:.4f}; monotonicity violations "
            + ", ".join(f"{c} {m['violations']}" for c, m in mono.items())
            + (f"; dropped {[d['column'] for d in dropped]}" if dropped else ""))

    counts = write_reference(out_dir, holdout, exported, seed, command, data, reference_holdout, probes)
    log(f"reference rows: {counts}")
    report = {"command": command, "seed": seed, "data": data, "out_of_time": oot, "oot_split": oot_split,
              "oot_bytes": oot_bytes,
              "models": results, "reference_counts": counts, "versions": versions, "date": date,
              "seconds": round(time.perf_counter() - started, 1)}
    with open(os.path.join(out_dir, "MODEL_CARD.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(modelcard.render_history(report))
    return report


def write_reference(out_dir, holdout, exported, seed, command, data, n_reference, probes):
    """reference/holdout.json and reference/contributions.json: the libraries' outputs on loan + scenario."""
    from . import reference
    probed = {}
    for family, _, params, columns in exported.values():
        probed.setdefault(family, (params, columns))
    loans, kinds, specs, feats = reference.build_with_scenarios(
        holdout, min(n_reference, len(holdout)), probes, probed, {f["name"] for f in FIELDS}, seed)
    records = [{**loan, **f} for loan, f in zip(loans, feats)]
    predictions, contributions = library_outputs(exported, SCENARIO_FIELDS, records)
    counts = {k: kinds.count(k) for k in dict.fromkeys(kinds)}
    export.write_json(os.path.join(out_dir, "reference", "holdout.json"), {
        "description": "Reference predictions of the libraries that trained the shipped models, on each loan plus "
                       "its scenario: holdout loans (missing values as null and as sentinels), loans whose numeric "
                       "fields or scenario features sit exactly on the trees' split thresholds, and loans with "
                       "every field missing. `scenarios[i]` is row i's scenario (a preset name, `historical`, or "
                       "a custom path) and `features[i]` the five scenario features Python computed for it (NaN "
                       "as null); the models read loans[i] + features[i].",
        "command": command, "seed": seed, "data": data["source"], "counts": counts,
        "loans": loans, "kinds": kinds, "scenarios": specs, "features": feats, "models": predictions})
    size = export.write_json(os.path.join(out_dir, "reference", "contributions.json"), {
        "description": "The libraries' own feature contributions (log-odds) on every row of holdout.json (loan + "
                       "its scenario features), in the same order: per row one value per column of the model, "
                       "then the bias; they sum to the margin. scikit-learn has no SHAP, so only XGBoost is here.",
        "command": command, "seed": seed, "rows": len(loans), "models": contributions})
    if size > export.MAX_ARTIFACT_BYTES:
        raise RuntimeError(f"reference/contributions.json is {size:,} bytes, over the 5 MiB limit")
    return counts
