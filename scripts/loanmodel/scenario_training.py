"""Scenario-conditional models trained on the simulated loan history (issue 21 item 3; NOT served yet,
docs/MODELS.md "Next: scenario-conditional models (not yet served)").

history.py simulates origination + monthly performance files, freddie.load labels them (default within
36 months), and the features are the origination attributes WITHOUT the vintage year plus the scenario
features (scenario.py) of each loan's realised house-price path (`historical`). The four families and
the XGBoost challenger are fitted with training.py; XGBoost with monotone constraints (credit score ↓,
LTV/CLTV/DTI ↑, house-price changes and trough ↓, mark-to-market CLTV ↑; the note-rate spread is free,
scenario.MONOTONE says why). scikit-learn 1.2's GradientBoostingClassifier (no monotonic_cst before 1.4),
LogisticRegression and LDA take no monotone constraints.

Reported: an out-of-time validation (fit on vintages <= train_through, score each later vintage: AUC,
KS, Brier, mean PD against the observed rate), and monotonicity counts: random loans scored under pairs
of house-price paths where one is never above the other (the presets' chain baseline ≥ adverse ≥
severely_adverse and random national paths), PD must not fall on the lower path; and under a worse
credit score, LTV, CLTV or DTI. The artifacts written are fitted on every vintage (random 25 % holdout
for the decision threshold and the export check) and go to the output directory only.
"""

import os
import time

import numpy as np
import pandas as pd

from . import encoding, export, freddie, history, metrics, scenario, training
from .families import LINEAR
from .pipeline import artifact_date, describe, library_versions
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


def monotone_constraints(columns):
    signs = [MONOTONE_FIELDS.get(c["field"], 0) if c["op"] == "numeric" else 0 for c in columns]
    return "(" + ",".join(str(s) for s in signs) + ")"


def params_for(family, changes, seed, columns, overrides=None):
    params = {**training.default_params(seed)[family], **changes, **(overrides or {}).get(family, {})}
    if family == "xgboost":
        params["monotone_constraints"] = monotone_constraints(columns)
    return params


def simulate(n, seed, work_dir):
    """Simulated origination + performance files (36 months) labelled by the Freddie Mac loader."""
    (orig, perf), rows = history.write_history(work_dir, n, seed, horizon=freddie.WINDOW_MONTHS)
    loans, stats = freddie.load([orig], [perf])
    return loans, {**stats, "performance_rows": rows}


def fit_predict(family, params, columns, train, test):
    X_train = encoding.encode(SCENARIO_FIELDS, columns, train)
    model = training.fit(family, params, X_train, train[LABEL].to_numpy())
    return model, X_train, training.predict(family, model, encoding.encode(SCENARIO_FIELDS, columns, test))[0]


def out_of_time(loans, train_through, seed, log, overrides=None):
    """Per model: fitted on vintages <= train_through, metrics per later vintage and on all of them."""
    year = (loans[VINTAGE] // 100).astype(int)
    train = loans[year <= train_through].reset_index(drop=True)
    test = loans[year > train_through].reset_index(drop=True)
    test_year = (test[VINTAGE] // 100).astype(int).to_numpy()
    out = {}
    for name, family, version, changes in training.MODELS:
        columns = columns_for(family, train)
        _, _, p = fit_predict(family, params_for(family, changes, seed, columns, overrides), columns, train, test)
        y = test[LABEL].to_numpy()
        rows = {"all later vintages": _scores(y, p)}
        for v in np.unique(test_year):
            m = test_year == v
            rows[str(v)] = _scores(y[m], p[m])
        out[f"{name}/{version}"] = rows
        log(f"out-of-time {name}/{version}: AUC {rows['all later vintages']['auc']:.4f}")
    return out, {"train_loans": int(len(train)), "test_loans": int(len(test)), "train_through": train_through}


def _scores(y, p):
    s = metrics.holdout_metrics(y, p) if 0 < y.sum() < len(y) else {"auc": None, "ks": None, "brier": None}
    return {"loans": int(len(y)), "defaults": int(y.sum()), "auc": s["auc"], "ks": s["ks"], "brier": s["brier"],
            "mean_pd": round(float(np.mean(p)), 6), "observed": round(float(np.mean(y)), 6)}


def feature_support(train):
    """Per scenario feature, its range on the training loans (for out-of-domain flags at scoring)."""
    out = {}
    for name in scenario.FEATURES:
        x = train[name].to_numpy(float)
        x = x[~np.isnan(x)]
        out[name] = {"min": float(x.min()), "p01": float(np.quantile(x, 0.01)), "p99": float(np.quantile(x, 0.99)),
                     "max": float(x.max())}
    return out


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


def run(out_dir, n, seed, train_through, work_dir, command, monotone_loans=2000, log=print, overrides=None):
    """Simulate, label, validate out of time, fit on every vintage, export; returns the report's figures."""
    started = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    loans, stats = simulate(n, seed, work_dir)
    loans = add_historical_features(loans)
    log(f"simulated and labelled: {stats['labelled']:,} loans, {stats['defaults']:,} defaults")
    oot, oot_split = out_of_time(loans, train_through, seed, log, overrides)

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
    results = {}
    for name, family, version, changes in training.MODELS:
        key = f"{name}/{version}"
        columns = columns_for(family, train)
        params = params_for(family, changes, seed, columns, overrides)
        model, X_train, p = fit_predict(family, params, columns, train, holdout)
        y = holdout[LABEL].to_numpy()
        scores = metrics.holdout_metrics(y, p)
        _, threshold = metrics.ks_cutoff(y, p)
        model_params = export.model_parameters(family, model, X_train, train[LABEL].to_numpy())
        export.verify(family, model_params, model, encoding.encode(SCENARIO_FIELDS, columns, holdout))
        mono = monotonicity(family, model, columns, sample, seed)
        doc = export.artifact(
            name, family, describe(family, params, columns) + " Scenario-conditional: no vintage year; scenario "
            "features of the house-price path (NOT SERVABLE YET: fields beyond the loan record).",
            freddie.LABEL_DEFINITION, threshold, SCENARIO_FIELDS, columns, model_params,
            {"data": data, "label": freddie.LABEL_DEFINITION, "holdout_metrics": scores,
             "out_of_time": {**oot_split, "by_vintage": oot[key]}, "monotonicity": mono,
             "scenario_features": "scripts/loanmodel/scenario.py, trained on the `historical` scenario",
             "scenario_feature_support": feature_support(train),
             "decision_threshold_rule": "PD cutoff maximising the Kolmogorov-Smirnov statistic on the holdout",
             "params": params, "libraries": versions, "date": date, "command": command},
            version=version)
        os.makedirs(os.path.join(out_dir, name), exist_ok=True)
        size = export.write_json(os.path.join(out_dir, f"{key}.json"), doc)
        results[key] = {"family": family, "holdout": scores, "threshold": threshold, "bytes": size,
                        "monotonicity": mono, "columns": len(columns),
                        "monotone_constraints": params.get("monotone_constraints")}
        log(f"{key}: holdout AUC {scores['auc']:.4f}; house-price violations "
            f"{mono['house prices fall']['violations']} of {mono['house prices fall']['checks']}")
    report = {"command": command, "seed": seed, "data": data, "out_of_time": oot, "oot_split": oot_split,
              "models": results, "seconds": round(time.perf_counter() - started, 1)}
    with open(os.path.join(out_dir, "REPORT.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(render(report))
    return report


def _f(x, digits=4):
    return "n/a" if x is None else f"{x:.{digits}f}"


def render(r):
    d = r["data"]
    s = r["oot_split"]
    out = [
        "# Scenario-conditional models on the simulated loan history (NOT SERVED)",
        "",
        f"Generated by `{r['command']}` (seed {r['seed']}). SYNTHETIC data: docs/DATA.md \"Simulated loan history\".",
        "",
        f"- Data: {d['originations']:,} simulated originations, {d['labelled']:,} labelled by the Freddie Mac "
        f"loader ({d['defaults']:,} defaults, {d['performance_rows']:,} performance rows, 36 months).",
        "- Features: origination attributes without the vintage year + scenario features of the loan's realised "
        "path (`historical`): " + ", ".join(scenario.FEATURES) + ".",
        "",
        f"## Out-of-time validation: fitted on vintages ≤ {s['train_through']} ({s['train_loans']:,} loans), "
        f"scored on later vintages ({s['test_loans']:,} loans)",
        "",
        "| model | vintage | loans | defaults | AUC | KS | Brier | mean PD | observed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, rows in r["out_of_time"].items():
        for v, m in rows.items():
            out.append(f"| {key} | {v} | {m['loans']:,} | {m['defaults']:,} | {_f(m['auc'])} | {_f(m['ks'])} | "
                       f"{_f(m['brier'], 5)} | {100 * m['mean_pd']:.2f} % | {100 * m['observed']:.2f} % |")
    out += ["", "## Artifacts (fitted on every vintage, random 25 % holdout)", "",
            "| model | columns | holdout AUC | KS | Brier | KS cut-off | bytes |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for key, m in r["models"].items():
        h = m["holdout"]
        out.append(f"| {key} | {m['columns']} | {_f(h['auc'])} | {_f(h['ks'])} | {_f(h['brier'], 5)} | "
                   f"{100 * m['threshold']:.2f} % | {m['bytes']:,} |")
    checks = list(next(iter(r["models"].values()))["monotonicity"])
    out += ["", "## Monotonicity: violations / checks (PD lower on the worse side; random holdout loans)", "",
            "| model | " + " | ".join(checks) + " |", "|---|" + "---:|" * len(checks)]
    for key, m in r["models"].items():
        counts = (m["monotonicity"][c] for c in checks)
        out.append(f"| {key} | " + " | ".join(f"{c['violations']:,} / {c['checks']:,}" for c in counts) + " |")
    out += ["", "House prices fall: the preset chain baseline → adverse → severely_adverse (each never above the "
            "previous in any state or quarter) and 20 random national paths against a copy lowered by 0–0.04 "
            "a quarter. Credit fields: the field moved by the step (within its range), features recomputed, "
            "under `baseline`. XGBoost carries monotone constraints on credit score, LTV, CLTV, DTI and the "
            "house-price features (not on the note-rate spread); scikit-learn 1.2's gradient boosting, logistic "
            "regression and LDA cannot be constrained (their violations are counted as they are).", ""]
    return "\n".join(out)
