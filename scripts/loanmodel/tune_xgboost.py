"""Hyperparameters of the shipped XGBoost (`xgboost/1.0.0`), chosen on TRAINING rows only (docs/MODELS.md
"How xgboost/1.0.0's parameters were chosen").

  nice -n 19 /usr/bin/python3 -m scripts.loanmodel.tune_xgboost [--out results.json]

Data: `npm run train`'s simulated history (n 100,000, seed 21, scenario_training.simulate). The rows searched
are the ones that are training rows under BOTH of train's splits: not in the random 25 % holdout
(`default_rng(21).permutation`, the first quarter) and of a vintage <= 2005 (the out-of-time split fits on
those and tests on 2006-2010). Nothing the model card reports (holdout, out-of-time test) is looked at.

Search: 5-fold cross-validation on those rows (folds stratified by the label, seeded); every candidate is
fitted on four folds with the shipped parameters (hist, subsample and colsample_bytree 0.8, the same
monotone constraints from scenario_training.MONOTONE_FIELDS), the rounds chosen by early stopping on the
fifth fold's log-loss (patience 50, at most 2,000 rounds). Criterion: the mean over the folds of the
validation log-loss (a proper scoring rule) at each fold's best round; the shipped round count is the mean
of the folds' best rounds scaled by 5/4 (the shipped fit sees all the rows, not four fifths). The grid is
small on purpose (a shared machine): stage 1 depth 3/4/5 x min_child_weight 5/25/100 x lambda 1/10 at
eta 0.1; stage 2 the stage-1 winner at eta 0.05. The winner (lowest mean log-loss) is what
training.default_params ships, with a fixed round count (no early stopping in the shipped fit).
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import xgboost as xgb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from scripts.loanmodel import encoding, scenario_training, training  # noqa: E402
from scripts.loanmodel.schema import LABEL  # noqa: E402

N, SEED, TRAIN_THROUGH, FOLDS = 100_000, 21, 2005, 5
PATIENCE, MAX_ROUNDS = 50, 2000
STAGE1 = [{"max_depth": d, "min_child_weight": m, "lambda": lam, "eta": 0.1}
          for d in (3, 4, 5) for m in (5, 25, 100) for lam in (1, 10)]


def tuning_rows(loans, seed=SEED, train_through=TRAIN_THROUGH):
    """The rows that are training rows under both splits of scenario_training.run (same permutation)."""
    order = np.random.default_rng(seed).permutation(len(loans))
    train = loans.iloc[order[len(loans) // 4:]].reset_index(drop=True)
    year = (train[scenario_training.VINTAGE] // 100).astype(int)
    return train[year <= train_through].reset_index(drop=True)


def folds(y, k=FOLDS, seed=SEED):
    """Fold index per row, stratified by the label (each fold gets its share of the defaults)."""
    rng = np.random.default_rng([seed, 5])
    fold = np.empty(len(y), int)
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        fold[rng.permutation(idx)] = np.arange(len(idx)) % k
    return fold


def evaluate(candidate, X, y, fold, constraints, seed=SEED):
    params = {**training.default_params(seed)["xgboost"], **candidate, "monotone_constraints": constraints,
              "eval_metric": "logloss"}
    params.pop("num_boost_round")
    losses, rounds = [], []
    for k in range(FOLDS):
        fit, val = fold != k, fold == k
        dfit = xgb.DMatrix(X[fit], label=y[fit], missing=np.nan)
        dval = xgb.DMatrix(X[val], label=y[val], missing=np.nan)
        booster = xgb.train(params, dfit, num_boost_round=MAX_ROUNDS, evals=[(dval, "validation")],
                            early_stopping_rounds=PATIENCE, verbose_eval=False)
        rounds.append(booster.best_iteration + 1)
        losses.append(float(booster.best_score))
    return {**candidate, "logloss": round(float(np.mean(losses)), 6),
            "logloss_per_fold": [round(v, 6) for v in losses], "best_rounds": rounds,
            "rounds": int(round(np.mean(rounds) * FOLDS / (FOLDS - 1)))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="write the results (JSON) here")
    ap.add_argument("--work-dir", help="where the simulated files go (default: a temporary directory)")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tune-xgboost-") as tmp:
        loans, _ = scenario_training.simulate(N, SEED, args.work_dir or tmp)
    loans = scenario_training.add_historical_features(loans)
    rows = tuning_rows(loans)
    columns = scenario_training.columns_for("xgboost", rows)
    X = encoding.encode(scenario_training.SCENARIO_FIELDS, columns, rows)
    y = rows[LABEL].to_numpy()
    fold = folds(y)
    constraints = scenario_training.monotone_constraints(columns)
    print(f"{len(rows):,} tuning rows, {int(y.sum()):,} defaults, {FOLDS} folds", flush=True)
    results = []
    for candidate in STAGE1:
        results.append(evaluate(candidate, X, y, fold, constraints))
        print(json.dumps(results[-1]), flush=True)
    best = min(results, key=lambda r: r["logloss"])
    stage2 = {k: best[k] for k in ("max_depth", "min_child_weight", "lambda")} | {"eta": 0.05}
    results.append(evaluate(stage2, X, y, fold, constraints))
    print(json.dumps(results[-1]), flush=True)
    best = min(results, key=lambda r: r["logloss"])
    report = {"rows": len(rows), "defaults": int(y.sum()), "folds": FOLDS, "seed": SEED, "n": N,
              "train_through": TRAIN_THROUGH, "patience": PATIENCE, "max_rounds": MAX_ROUNDS,
              "constraints": constraints, "results": results,
              "chosen": {k: best[k] for k in ("max_depth", "min_child_weight", "lambda", "eta", "rounds")},
              "seconds": round(time.perf_counter() - started, 1)}
    print("chosen:", json.dumps(report["chosen"]))
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="\n") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
