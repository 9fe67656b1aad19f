"""The worked example of docs/BRING_YOUR_OWN_MODEL.md, kept as test fixtures (test/fixtures/byom/).

  /usr/bin/python3 scripts/byom_example.py [--out test/fixtures/byom] [--work DIR]

Trains two models on scikit-learn's bundled breast-cancer data set (offline, 569 tumours, 30 features,
target 1 = benign), saves them as a user would (XGBoost `save_model` JSON, a pickled scikit-learn Pipeline),
writes sample rows, and imports both with scripts/import_model.py --sample, which compares the service's
runtime with the libraries on every row. Writes to --out:

  breast_cancer_sample.csv            sample rows: held-out tumours, rows with missing values, and rows
                                      with a feature exactly on an XGBoost split threshold
  breast_cancer_sample_complete.csv   the rows without missing values (scikit-learn refuses NaN)
  breast_cancer_xgboost/1.0.0.json    the XGBoost artifact (missing values go down the learned branch)
  breast_cancer_logistic/1.0.0.json   StandardScaler + LogisticRegression, the scaler folded in
  reference.json                      the libraries' own probabilities and margins for every sample row

Everything is deterministic (fixed seeds, one thread): running it again gives the same bytes.
The saved models go to --work (a temporary directory by default).
"""

import argparse
import io
import json
import math
import os
import pickle
import sys
import tempfile
from contextlib import redirect_stdout

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SEED = 20240611
DEFAULT_OUT = os.path.join(ROOT, "test", "fixtures", "byom")
XGB_NAME, LR_NAME = "breast_cancer_xgboost", "breast_cancer_logistic"
SAMPLE, SAMPLE_COMPLETE = "breast_cancer_sample.csv", "breast_cancer_sample_complete.csv"
LABEL = "probability that the tumour is benign (scikit-learn breast-cancer data set, target 1)"


def data():
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    d = load_breast_cancer(as_frame=True)
    X, y = d.data.astype(np.float64), d.target.to_numpy()
    order = np.random.default_rng(SEED).permutation(len(X))
    test, train = order[:60], order[60:]
    return X, y, train, test


def train_xgboost(X, y, work):
    """50 trees of depth 4 on training rows with 5 % of the values blanked, so every split learns
    where missing values go."""
    import numpy as np
    import xgboost as xgb
    Xm = X.mask(np.random.default_rng(SEED + 1).random(X.shape) < 0.05)
    params = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.15, "subsample": 0.9,
              "tree_method": "exact", "nthread": 1, "seed": SEED}
    booster = xgb.train(params, xgb.DMatrix(Xm, label=y, missing=np.nan, nthread=1), num_boost_round=50)
    path = os.path.join(work, f"{XGB_NAME}.json")
    booster.save_model(path)
    return path


def train_logistic(X, y, work):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=5000)).fit(X, y)
    path = os.path.join(work, f"{LR_NAME}.pkl")
    with open(path, "wb") as f:
        pickle.dump(model, f, protocol=4)
    return path


def sample_rows(X, test, xgb_path):
    """Held-out rows; copies with values blanked; copies with one feature on a split threshold."""
    import numpy as np
    rng = np.random.default_rng(SEED + 2)
    rows = [X.iloc[i].to_numpy(dtype=np.float64) for i in test[:40]]
    kinds = ["holdout"] * len(rows)
    for i in test[40:48]:
        r = X.iloc[i].to_numpy(dtype=np.float64).copy()
        r[rng.choice(X.shape[1], size=int(rng.integers(1, 8)), replace=False)] = np.nan
        rows.append(r)
        kinds.append("missing")
    all_missing = np.full(X.shape[1], np.nan)
    rows.append(all_missing)
    kinds.append("all_missing")
    with open(xgb_path, encoding="utf-8") as f:
        trees = json.load(f)["learner"]["gradient_booster"]["model"]["trees"]
    for k, i in enumerate(test[48:60]):
        t = trees[k * 4]
        node = 0  # the root split: its threshold, as the float32 XGBoost holds it, written as that exact double
        r = X.iloc[i].to_numpy(dtype=np.float64).copy()
        r[t["split_indices"][node]] = float(np.float32(t["split_conditions"][node]))
        rows.append(r)
        kinds.append("threshold_probe")
    return np.array(rows), kinds


def write_csv(path, header, rows):
    import csv
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(["" if math.isnan(v) else repr(float(v)) for v in r])


def run_importer(argv):
    from scripts import import_model
    out = io.StringIO()
    with redirect_stdout(out):
        rc = import_model.main(argv, out=out)
    if rc != 0:
        raise SystemExit(f"import_model {' '.join(argv)} failed ({rc}):\n{out.getvalue()}")
    return out.getvalue()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="where the fixtures go (default test/fixtures/byom)")
    ap.add_argument("--work", help="where the trained models are saved (default: a temporary directory)")
    args = ap.parse_args(argv)
    from scripts.loanmodel.deps import check_dependencies
    check_dependencies()
    import numpy as np
    import sklearn
    import xgboost as xgb

    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or tmp
        os.makedirs(work, exist_ok=True)
        X, y, train, test = data()
        xgb_path = train_xgboost(X.iloc[train], y[train], work)
        lr_path = train_logistic(X.iloc[train], y[train], work)
        rows, kinds = sample_rows(X, test, xgb_path)
        features = list(X.columns)
        complete = ~np.isnan(rows).any(axis=1)
        sample, sample_complete = os.path.join(args.out, SAMPLE), os.path.join(args.out, SAMPLE_COMPLETE)
        write_csv(sample, features, rows)
        write_csv(sample_complete, features, rows[complete])

        common = ["--out", args.out, "--force", "--label", LABEL, "--threshold", "0.5"]
        report = run_importer(["--xgboost", xgb_path, "--name", XGB_NAME, "--sample", sample, *common,
                               "--description", "XGBoost, 50 trees of depth 4, on the breast-cancer data set "
                               "(worked example of docs/BRING_YOUR_OWN_MODEL.md)"])
        report += run_importer(["--sklearn", lr_path, "--name", LR_NAME, "--sample", sample_complete, *common,
                                "--description", "StandardScaler + LogisticRegression on the breast-cancer data set "
                                "(worked example of docs/BRING_YOUR_OWN_MODEL.md)"])

        # The libraries' own predictions, from the files as saved: the oracle the TypeScript test reads.
        booster = xgb.Booster(model_file=xgb_path)
        booster.set_param({"nthread": 1})
        d = xgb.DMatrix(rows, missing=np.nan, feature_names=features, nthread=1)
        with open(lr_path, "rb") as f:
            pipeline = pickle.load(f)
        import pandas as pd
        frame = pd.DataFrame(rows[complete], columns=features)

        def with_gaps(values):
            it = iter(values.tolist())
            return [next(it) if c else None for c in complete]

        reference = {
            "description": "The libraries' own predictions for every row of breast_cancer_sample.csv (null: the "
                           "library cannot score the row, it has missing values). Written by scripts/byom_example.py.",
            "command": "/usr/bin/python3 scripts/byom_example.py",
            "seed": SEED,
            "sample": SAMPLE,
            "rows": len(rows),
            "kinds": kinds,
            "libraries": {"xgboost": xgb.__version__, "scikit-learn": sklearn.__version__},
            "models": {
                XGB_NAME: {
                    "artifact": f"{XGB_NAME}/1.0.0.json",
                    "method": "Booster.predict(DMatrix(X, missing=NaN)) and output_margin=True (float32)",
                    "probability": [float(v) for v in booster.predict(d)],
                    "margin": [float(v) for v in booster.predict(d, output_margin=True)],
                },
                LR_NAME: {
                    "artifact": f"{LR_NAME}/1.0.0.json",
                    "method": "Pipeline.predict_proba(X)[:, 1] and decision_function(X), on the complete rows",
                    "probability": with_gaps(pipeline.predict_proba(frame)[:, 1]),
                    "margin": with_gaps(pipeline.decision_function(frame)),
                },
            },
        }
        from scripts.loanmodel.export import write_json
        write_json(os.path.join(args.out, "reference.json"), reference)
    print(report, end="")
    print(f"wrote {args.out}: {SAMPLE}, {SAMPLE_COMPLETE}, {XGB_NAME}/1.0.0.json, {LR_NAME}/1.0.0.json, reference.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
