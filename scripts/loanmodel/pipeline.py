"""generate (or load Freddie Mac files) → encode → train → export + verify → reference set → model card."""

import dataclasses
import datetime
import os
import platform
import time

import numpy as np
import pandas as pd
import sklearn
import xgboost

from . import encoding, export, freddie, generate, metrics, modelcard, reference, training
from .families import LINEAR
from .schema import FIELDS, LABEL

DEFAULT_SEED = 20240501
# Artifact date when SOURCE_DATE_EPOCH is not set: a constant, so a seed always gives the same bytes.
DEFAULT_DATE = "2024-05-01"


@dataclasses.dataclass
class Config:
    out: str
    seed: int = DEFAULT_SEED
    n_train: int = 200_000
    n_holdout: int = 100_000
    freddie_orig: list = None
    freddie_perf: list = None
    holdout_fraction: float = 0.25  # real data only
    reference_holdout: int = 5000
    probes: int = 300  # threshold probes per tree model
    overrides: dict = dataclasses.field(default_factory=dict)  # family → params replacing defaults
    command: str = "npm run train"


def artifact_date():
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        return DEFAULT_DATE
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).date().isoformat()


def library_versions():
    return {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
            "scikit-learn": sklearn.__version__, "xgboost": xgboost.__version__}


class Clock:
    def __init__(self):
        self.start = self.last = time.perf_counter()

    def lap(self, what):
        now = time.perf_counter()
        print(f"  [{now - self.last:7.1f} s] {what}", flush=True)
        self.last = now


def load_data(cfg):
    """(train, holdout, data description) with the label column LABEL."""
    if cfg.freddie_orig:
        loans, stats = freddie.load(cfg.freddie_orig, cfg.freddie_perf)
        order = np.random.default_rng(cfg.seed).permutation(len(loans))
        n_holdout = int(round(len(loans) * cfg.holdout_fraction))
        holdout = loans.iloc[order[:n_holdout]].reset_index(drop=True)
        train = loans.iloc[order[n_holdout:]].reset_index(drop=True)
        source = {"source": "Freddie Mac Single-Family Loan-Level Dataset", **stats,
                  "split": f"random {cfg.holdout_fraction:.0%} holdout (seed {cfg.seed})"}
    else:
        loans = generate.generate(cfg.n_train + cfg.n_holdout, cfg.seed)
        train = loans.iloc[:cfg.n_train].reset_index(drop=True)
        holdout = loans.iloc[cfg.n_train:].reset_index(drop=True)
        source = {"source": "synthetic loan tape (scripts/loanmodel/generate.py, docs/DATA.md)",
                  "split": f"loans 1..{cfg.n_train} train, the next {cfg.n_holdout} holdout"}
    data = {**source, "seed": cfg.seed, "train_loans": int(len(train)), "holdout_loans": int(len(holdout)),
            "train_default_rate": round(float(train[LABEL].mean()), 6),
            "holdout_default_rate": round(float(holdout[LABEL].mean()), 6)}
    return train, holdout, data


def columns_for(family, train):
    if family == "xgboost":
        return encoding.tree_columns(train, impute=False)
    if family == "gradient_boosting":
        return encoding.tree_columns(train, impute=True)
    return encoding.linear_columns(train)


def describe(family, params, columns):
    n = len(columns)
    if family == "logistic_regression":
        return f"L2 logistic regression (lbfgs, C={params['C']}) on {n} standardised columns."
    if family == "lda":
        return f"Linear discriminant analysis (svd solver) on {n} standardised columns."
    if family == "gradient_boosting":
        constrained = any(params.get("monotonic_cst") or ())
        return (f"scikit-learn HistGradientBoostingClassifier, {params['max_iter']} trees of depth "
                f"{params['max_depth']} (at most {params['max_leaf_nodes']} leaves), learning rate "
                f"{params['learning_rate']}, {n} columns"
                + (", monotone constraints (monotonic_cst)" if constrained else "")
                + "; splits compare float64 rows.")
    return (f"XGBoost gbtree (hist), {params['num_boost_round']} rounds of depth {params['max_depth']}, "
            f"eta {params['eta']}, {n} columns, missing values as NaN.")


def run(cfg):
    clock = Clock()
    os.makedirs(os.path.join(cfg.out, "reference"), exist_ok=True)
    train, holdout, data = load_data(cfg)
    clock.lap(f"data: {data['train_loans']:,} train + {data['holdout_loans']:,} holdout loans")
    figures = metrics.data_figures(pd.concat([train, holdout], ignore_index=True))
    print_figures(figures)
    clock.lap("data figures")

    defaults = training.default_params(cfg.seed)
    y_train, y_holdout = train[LABEL].to_numpy(), holdout[LABEL].to_numpy()
    date, versions = artifact_date(), library_versions()
    results, exported = {}, {}
    for name, family, version, changes in training.MODELS:
        key = f"{name}/{version}"  # also the artifact's path under cfg.out, without .json
        params = {**defaults[family], **changes, **cfg.overrides.get(family, {})}
        columns = columns_for(family, train)
        X_train, X_holdout = (encoding.encode(FIELDS, columns, d) for d in (train, holdout))
        model = training.fit(family, params, X_train, y_train)
        clock.lap(f"{key}: fitted on {X_train.shape[0]:,} × {X_train.shape[1]}")
        p, _ = training.predict(family, model, X_holdout)
        scores = metrics.holdout_metrics(y_holdout, p)
        _, threshold = metrics.ks_cutoff(y_holdout, p)
        model_params = export.model_parameters(family, model, X_train, y_train)
        export.verify(family, model_params, model, X_holdout)
        results[key] = {"family": family, "metrics": scores, "threshold": threshold, "params": params,
                        "columns": len(columns), "calibration": metrics.calibration_table(y_holdout, p)}
        doc = export.artifact(
            name, family, describe(family, params, columns), freddie.LABEL_DEFINITION, threshold, FIELDS,
            columns, model_params,
            {"data": data, "label": freddie.LABEL_DEFINITION, "holdout_metrics": scores,
             "decision_threshold_rule": "PD cutoff maximising the Kolmogorov-Smirnov statistic on the holdout",
             "params": params, "libraries": versions, "date": date, "command": cfg.command},
            version=version)
        os.makedirs(os.path.join(cfg.out, name), exist_ok=True)
        size = export.write_json(os.path.join(cfg.out, f"{key}.json"), doc)
        if size > export.MAX_ARTIFACT_BYTES:
            raise RuntimeError(f"{key}.json is {size:,} bytes, over the 5 MiB limit")
        results[key]["bytes"] = size
        exported[key] = (family, model, model_params, columns)
        clock.lap(f"{key}: AUC {scores['auc']:.4f} KS {scores['ks']:.4f} Brier {scores['brier']:.5f}, "
                  f"exported and verified ({size:,} bytes)")

    # Threshold probes come from the first (1.0.0) version of each family; every version is checked on all rows.
    probed = {}
    for family, _, params, columns in exported.values():
        probed.setdefault(family, (params, columns))
    loans, kinds = reference.build(holdout, min(cfg.reference_holdout, len(holdout)), cfg.probes, probed, cfg.seed)
    predictions, contributions = library_outputs(exported, FIELDS, loans)
    counts = {k: kinds.count(k) for k in dict.fromkeys(kinds)}
    ref_doc = {
        "description": "Reference predictions of the libraries that trained the shipped models: holdout loans "
                       "(with missing values as null and as sentinels), loans whose numeric fields sit exactly "
                       "on the trees' split thresholds, and loans with every field missing.",
        "command": cfg.command, "seed": cfg.seed, "data": data["source"], "counts": counts,
        "loans": loans, "kinds": kinds, "models": predictions,
    }
    ref_size = export.write_json(os.path.join(cfg.out, "reference", "holdout.json"), ref_doc)
    clock.lap(f"reference set: {len(loans):,} loans {counts}, {ref_size:,} bytes")
    contrib_doc = {
        "description": "The libraries' own feature contributions (log-odds) on every row of holdout.json, in "
                       "the same order: per row one value per column of the model, then the bias; they sum "
                       "to the margin. scikit-learn has no SHAP, so only XGBoost is here.",
        "command": cfg.command, "seed": cfg.seed, "rows": len(loans), "models": contributions,
    }
    contrib_size = export.write_json(os.path.join(cfg.out, "reference", "contributions.json"), contrib_doc)
    if contrib_size > export.MAX_ARTIFACT_BYTES:
        raise RuntimeError(f"reference/contributions.json is {contrib_size:,} bytes, over the 5 MiB limit")
    clock.lap(f"reference contributions: {', '.join(contributions)}, {contrib_size:,} bytes")

    card = modelcard.render(cfg, data, figures, results, versions, date, counts)
    with open(os.path.join(cfg.out, "MODEL_CARD.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(card)
    clock.lap("model card")
    print(f"total {time.perf_counter() - clock.start:.1f} s; artifacts in {cfg.out}")
    return results


def library_outputs(exported, fields, records):
    """(predictions, contributions) of the libraries on the reference records: per model key the probability
    and margin (linear families also coef_ and intercept_, which the runtime must reproduce, read or, for LDA,
    derived), and XGBoost 1.0.0's own TreeSHAP contributions."""
    predictions, contributions = {}, {}
    for key, (family, model, _, columns) in exported.items():
        X = encoding.encode(fields, columns, records)
        if family != "xgboost" and np.isnan(X).any():
            raise AssertionError(f"{key}: NaN in the encoded reference rows")
        p, m = training.predict(family, model, X)
        predictions[key] = {"probability": p.tolist(), "margin": m.tolist()}
        if family in LINEAR:
            predictions[key].update(coef=model.coef_[0].astype(float).tolist(), intercept=float(model.intercept_[0]))
        if key == "xgboost/1.0.0":
            contributions[key] = {
                "method": "Booster.predict(DMatrix(X, missing=NaN), pred_contribs=True), exact path-dependent "
                          "TreeSHAP (approx_contribs=False), float32",
                "columns": [c["name"] for c in columns] + ["bias"],
                "contributions": export.xgboost_contributions(model, X),
            }
    return predictions, contributions


def print_figures(fig):
    print("calibration figures (train + holdout):")
    for key in ("loans", "default_rate", "fico_above_660", "fico_below_620", "ltv_at_most_80", "ltv_at_least_90",
                "mi_positive_when_ltv_above_80", "mi_positive_when_ltv_at_most_80", "cltv_at_least_ltv",
                "missing_written_as_null", "default_rate_layered_fico_lt_660_cltv_gt_90_dti_gt_45"):
        print(f"  {key}: {fig[key]}")
    print(f"  missing_rate: {fig['missing_rate']}")
    for key in ("default_rate_by_vintage", "default_rate_by_fico", "default_rate_by_ltv", "default_rate_by_dti",
                "default_rate_2006_2007_by_region"):
        print(f"  {key}: " + ", ".join(f"{k} {v['default_rate']:.4f} (n={v['loans']})" for k, v in fig[key].items()))
