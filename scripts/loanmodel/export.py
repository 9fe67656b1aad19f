"""Model artifacts (docs/ARTIFACT_FORMAT.md, format `loan-default-model/1`) and their export checks."""

import json
import os
import tempfile

import numpy as np
import scipy.linalg
import xgboost as xgb

from .families import LINEAR

FORMAT = "loan-default-model/1"
VERSION = "1.0.0"
MAX_ARTIFACT_BYTES = 5 * 1024 * 1024


def write_json(path, doc):
    """Compact JSON, floats by Python repr (shortest round-trip), keys in insertion order: the same
    document always gives the same bytes."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return len(text.encode("utf-8"))


def linear_parameters(model, X):
    """Coefficients, intercept, and `reference`: the training mean of each encoded column, the point
    explanations are measured from (contribution j = coef_j · (x_j − reference_j))."""
    coef, intercept = model.coef_[0].astype(float), float(model.intercept_[0])
    reference = X.mean(axis=0).astype(float)
    if not (np.isfinite(coef).all() and np.isfinite(intercept) and np.isfinite(reference).all()):
        raise ValueError("non-finite linear coefficients or column means")
    return {"coefficients": coef.tolist(), "intercept": intercept, "reference": reference.tolist()}


def lda_parameters(model, X, y):
    """Binary LDA by its parameters (the runtime derives the discriminant at load, src/runtime/lda.ts): the
    class `means` (scikit-learn's means_), the pooled within-class `covariance`
    Σ = Σ_k Σ_{i in k} (x_i − μ_k)(x_i − μ_k)ᵀ / (n − 2) — the one the svd solver whitens by, so that
    Σ⁻¹(μ1 − μ0) is its coef_ — and the `priors` (priors_); plus `reference`, the column means."""
    if len(model.classes_) != 2:
        raise ValueError(f"binary LDA expected, got {len(model.classes_)} classes")
    means = model.means_.astype(float)
    centred = np.concatenate([X[y == c] - means[k] for k, c in enumerate(model.classes_)])
    covariance = centred.T @ centred / (len(X) - 2)
    covariance = (covariance + covariance.T) / 2  # exactly symmetric, as the runtime requires
    priors = model.priors_.astype(float)
    reference = X.mean(axis=0).astype(float)
    if not all(np.isfinite(a).all() for a in (means, covariance, priors, reference)):
        raise ValueError("non-finite LDA means, covariance, priors or column means")
    return {"means": means.tolist(), "covariance": covariance.tolist(), "priors": priors.tolist(),
            "reference": reference.tolist()}


def lda_discriminant(params):
    """(w, b) from an LDA section, as the runtime derives them: w = Σ⁻¹(μ1 − μ0) by Cholesky,
    b = −½ (μ1 + μ0)·w + log p1 − log p0."""
    mu0, mu1 = (np.array(m) for m in params["means"])
    w = scipy.linalg.cho_solve(scipy.linalg.cho_factor(np.array(params["covariance"]), lower=True), mu1 - mu0)
    p0, p1 = params["priors"]
    return w, -0.5 * float((mu1 + mu0) @ w) + (np.log(p1) - np.log(p0))


def linear_coefficients(params):
    """(coefficients, intercept) of a linear section: as written, or derived (LDA by its parameters)."""
    if "covariance" in params:
        return lda_discriminant(params)
    return np.array(params["coefficients"]), params["intercept"]


# Exported LDA discriminant against scikit-learn's coef_ / intercept_, relative to max |coef_| and 1 + |intercept_|
# (measured on the shipped model: 4.1e-14 and 2.5e-15; docs/ARTIFACT_FORMAT.md).
LDA_TOLERANCE = 1e-12


def gbm_parameters(model, X):
    init = float(model._raw_predict_init(X[:1])[0, 0])
    trees = []
    for est in model.estimators_[:, 0]:
        t = est.tree_
        trees.append({
            "children_left": t.children_left.tolist(),
            "children_right": t.children_right.tolist(),
            "feature": t.feature.tolist(),
            "threshold": t.threshold.tolist(),
            "value": t.value[:, 0, 0].tolist(),
            # Training weight per node (the in-bag samples when subsampling): TreeSHAP's cover.
            "cover": t.weighted_n_node_samples.tolist(),
        })
    return {"init_margin": init, "learning_rate": float(model.learning_rate), "trees": trees}


HGB = "HistGradientBoostingClassifier"


def hgb_parameters(model):
    """The `gradient_boosting` section of a HistGradientBoostingClassifier (binary log loss, numeric splits
    only): per tree of `_predictors[i][0]` its `nodes` as the parallel arrays of the GradientBoostingClassifier
    layout (children −1 at leaves), `value` the leaf values as scikit-learn stores them (already multiplied
    by the learning rate, so there is no `learning_rate`), `cover` each node's training `count` (TreeSHAP's
    cover); `init_margin` is `_baseline_prediction`. scikit-learn validates X as float64 and sends a row left
    when x <= num_threshold, x never rounded (NaN: missing_go_to_left): `split_rows` records it."""
    if model.n_trees_per_iteration_ != 1:
        raise ValueError(f"binary HistGradientBoostingClassifier expected, got {model.n_trees_per_iteration_} "
                         "trees per iteration")
    trees = []
    for predictors in model._predictors:
        nodes = predictors[0].nodes
        if nodes["is_categorical"].any():
            raise ValueError("categorical splits are not exported")
        leaf = nodes["is_leaf"].astype(bool)
        trees.append({
            "children_left": np.where(leaf, -1, nodes["left"].astype(np.int64)).tolist(),
            "children_right": np.where(leaf, -1, nodes["right"].astype(np.int64)).tolist(),
            "feature": np.where(leaf, -2, nodes["feature_idx"].astype(np.int64)).tolist(),
            "threshold": np.where(leaf, -2.0, nodes["num_threshold"]).astype(float).tolist(),
            "value": nodes["value"].astype(float).tolist(),
            "missing_go_to_left": nodes["missing_go_to_left"].astype(int).tolist(),
            "cover": nodes["count"].astype(float).tolist(),
        })
    baseline = np.asarray(model._baseline_prediction, dtype=np.float64).ravel()
    return {"estimator": HGB, "split_rows": "float64", "init_margin": float(baseline[0]), "trees": trees}


def gbm_parameters_of(model, X):
    """The `gradient_boosting` section of either scikit-learn booster."""
    return hgb_parameters(model) if type(model).__name__ == HGB else gbm_parameters(model, X)


def gbm_margins(params, X):
    """Margins from an exported `gradient_boosting` section, in numpy, by the artifact's own rules:
    GradientBoostingClassifier left when float32(x) <= threshold, init_margin + Σ learning_rate · leaf;
    HistGradientBoostingClassifier (`split_rows` float64) left when x <= threshold in double; NaN by
    `missing_go_to_left` (absent: right); init_margin + Σ leaf; both summed in double in tree order."""
    hist = params.get("estimator") == HGB
    if hist != (params.get("split_rows", "float32") == "float64"):
        raise ValueError(f"estimator {params.get('estimator')} with split_rows {params.get('split_rows')}")
    Xr = np.asarray(X, np.float64) if hist else X.astype(np.float32).astype(np.float64)
    rows = np.arange(len(X))
    margin = np.full(len(X), params["init_margin"])
    for t in params["trees"]:
        left, right = np.array(t["children_left"]), np.array(t["children_right"])
        feature, threshold, value = np.array(t["feature"]), np.array(t["threshold"]), np.array(t["value"])
        default_left = np.array(t.get("missing_go_to_left", [0] * len(left)), bool)
        node = np.zeros(len(X), np.int64)
        while True:
            inner = left[node] != -1
            if not inner.any():
                break
            r, nd = rows[inner], node[inner]
            x = Xr[r, feature[nd]]
            go_left = np.where(np.isnan(x), default_left[nd], x <= threshold[nd])
            node[r] = np.where(go_left, left[nd], right[nd])
        margin = margin + (value[node] if hist else params["learning_rate"] * value[node])
    return margin


def booster_document(booster):
    """The booster as Booster.save_model("*.json") writes it, parsed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.json")
        booster.save_model(path)
        with open(path, encoding="utf-8") as f:
            return json.load(f)


def booster_from_document(doc):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        booster = xgb.Booster(model_file=path)
    booster.set_param({"nthread": 2})
    return booster


def verify(family, params, model, X):
    """Re-derives the library's predictions from the exported parameters; raises on any difference."""
    if family == "gradient_boosting":
        ours, theirs = gbm_margins(params, X), model.decision_function(X)
        if not np.array_equal(ours, theirs):
            raise AssertionError(f"GBM margins from the exported trees differ (max {np.max(np.abs(ours - theirs))})")
        for i, t in enumerate(params["trees"]):
            # TreeSHAP weighs a node's children by cover: they must add up to the node's.
            cover, left, right = (np.array(t[k]) for k in ("cover", "children_left", "children_right"))
            inner = left != -1
            if not np.allclose(cover[left[inner]] + cover[right[inner]], cover[inner], rtol=1e-12, atol=0):
                raise AssertionError(f"GBM tree {i}: children's covers do not add up to their parent's")
    elif family == "xgboost":
        d = xgb.DMatrix(X, missing=np.nan)
        reloaded = booster_from_document(params["booster"])
        for kw in ({}, {"output_margin": True}):
            if not np.array_equal(reloaded.predict(d, **kw), model.predict(d, **kw)):
                raise AssertionError(f"re-loaded booster predicts differently ({kw or 'probability'})")
    else:
        coef, intercept = linear_coefficients(params)
        if "covariance" in params:
            dc = np.max(np.abs(coef - model.coef_[0])) / np.max(np.abs(model.coef_[0]))
            db = abs(intercept - model.intercept_[0]) / (1 + abs(model.intercept_[0]))
            if not (dc <= LDA_TOLERANCE and db <= LDA_TOLERANCE):
                raise AssertionError(f"LDA discriminant from the exported means/covariance/priors differs from "
                                     f"coef_/intercept_ (relative {dc:.1e}, {db:.1e}; tolerance {LDA_TOLERANCE})")
        margin = X @ coef + intercept
        if not np.allclose(margin, model.decision_function(X), rtol=0, atol=1e-9):
            raise AssertionError("linear margins from the exported coefficients differ")


def model_parameters(family, model, X, y=None):
    """The artifact's `model` section; X is the training matrix (GBM init margin, linear column means), y its
    labels (LDA's within-class covariance)."""
    if family == "lda":
        return lda_parameters(model, X, y)
    if family in LINEAR:
        return linear_parameters(model, X)
    if family == "gradient_boosting":
        return gbm_parameters_of(model, X)
    return {"booster": booster_document(model)}


def xgboost_contributions(booster, X):
    """XGBoost's own exact TreeSHAP (`pred_contribs=True`, approx_contribs=False): one row per loan,
    one value per column, then the bias. float32 values written as their shortest float32 spelling
    (a double that rounds back to the same float32), to keep the reference file small."""
    contribs = booster.predict(xgb.DMatrix(X, missing=np.nan), pred_contribs=True)
    return [[float(str(v)) for v in row] for row in contribs.astype(np.float32)]


def artifact(name, family, description, label, threshold, fields, columns, params, training, version=VERSION):
    return {
        "format": FORMAT, "name": name, "family": family, "version": version, "description": description,
        "label": label, "decision_threshold": threshold, "fields": fields, "columns": columns, "model": params,
        "training": training,
    }
