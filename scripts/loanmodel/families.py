"""The model families and what each can do: the one Python list (the TypeScript one is
src/runtime/families/index.ts; test/runtime/families.test.ts checks the two agree).

accepts_missing: the feature rows may hold NaN (trees with learnt default branches); otherwise every
column must be present. explanation: "linear" (coefficient × (x − training mean)) or "treeshap".
link: the logistic function in double, or rounded to float32 as XGBoost returns it."""

FAMILIES = {
    "logistic_regression": {"accepts_missing": False, "explanation": "linear", "link": "logistic"},
    "lda": {"accepts_missing": False, "explanation": "linear", "link": "logistic"},
    "gradient_boosting": {"accepts_missing": False, "explanation": "treeshap", "link": "logistic"},
    "xgboost": {"accepts_missing": True, "explanation": "treeshap", "link": "logistic-float32"},
}

# Linear scorers (margin = x · coefficients + intercept) and tree ensembles (float32 rows).
LINEAR = tuple(f for f, c in FAMILIES.items() if c["explanation"] == "linear")
TREES = tuple(f for f, c in FAMILIES.items() if c["explanation"] == "treeshap")
