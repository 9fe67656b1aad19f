"""Fitting the model families (families.py) on encoded matrices, and their predictions (probability, margin)."""

import numpy as np
import xgboost as xgb
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression


# The shipped model versions: (name, family, version, parameters replacing the family's defaults). Each is
# written to <out>/<name>/<version>.json. xgboost 1.1.0 is a challenger (shallower trees, more rounds) served
# beside 1.0.0, so versions, A/B splits and shadow scoring run on two real models.
MODELS = (
    ("logistic_regression", "logistic_regression", "1.0.0", {}),
    ("lda", "lda", "1.0.0", {}),
    ("gradient_boosting", "gradient_boosting", "1.0.0", {}),
    ("xgboost", "xgboost", "1.0.0", {}),
    ("xgboost", "xgboost", "1.1.0", {"max_depth": 4, "num_boost_round": 400, "eta": 0.06}),
)


def default_params(seed):
    return {
        "logistic_regression": {"solver": "lbfgs", "C": 1.0, "max_iter": 5000},
        "lda": {"solver": "svd"},
        "gradient_boosting": {"n_estimators": 200, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.5,
                              "random_state": seed},
        "xgboost": {"num_boost_round": 300, "objective": "binary:logistic", "tree_method": "hist",
                    "max_depth": 6, "eta": 0.05, "subsample": 0.8, "colsample_bytree": 0.8,
                    "min_child_weight": 5, "nthread": 2, "seed": seed},
    }


def fit(family, params, X, y):
    if family == "logistic_regression":
        model = LogisticRegression(**params).fit(X, y)
        if model.n_iter_[0] >= params["max_iter"]:
            raise RuntimeError("logistic regression did not converge")
        return model
    if family == "lda":
        return LinearDiscriminantAnalysis(**params).fit(X, y)
    if family == "gradient_boosting":
        return GradientBoostingClassifier(**params).fit(X, y)
    if family == "xgboost":
        p = {k: v for k, v in params.items() if k != "num_boost_round"}
        return xgb.train(p, xgb.DMatrix(X, label=y, missing=np.nan), num_boost_round=params["num_boost_round"])
    raise ValueError(family)


def predict(family, model, X):
    """(probability, margin) exactly as the library computes them (float64 arrays)."""
    if family == "xgboost":
        d = xgb.DMatrix(X, missing=np.nan)
        return (model.predict(d).astype(np.float64), model.predict(d, output_margin=True).astype(np.float64))
    return model.predict_proba(X)[:, 1], model.decision_function(X)
