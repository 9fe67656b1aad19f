"""XGBoost's own C++ predictor, single-threaded, on synthetic loans encoded by the artifact's columns.

  /usr/bin/python3 scripts/bench_xgboost_native.py --artifact model-artifacts/xgboost/1.0.0.json \
      --rows 100000 --seed 11 [--dump-rows rows.f64]

Prints one JSON object (last line of stdout): rows, batch_us_per_row_inplace, batch_us_per_row_dmatrix,
single_row_us_median, contribs_rows, contribs_us_per_row (`predict(..., pred_contribs=True)`: exact
path-dependent TreeSHAP, on the first --contribs-rows rows, best of --contribs-repeats), xgboost_version. The DMatrix timing includes building the DMatrix: XGBoost caches
predictions per DMatrix, so predicting twice on one DMatrix would not run the predictor. --dump-rows writes the encoded float64 matrix (rows × columns,
little-endian, row-major) so the TypeScript benchmark scores exactly the same rows.
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from scripts.loanmodel.deps import check_dependencies  # noqa: E402


def best_seconds(fn, repeats):
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--artifact", default=os.path.join(ROOT, "model-artifacts", "xgboost", "1.0.0.json"))
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--single-calls", type=int, default=2000)
    ap.add_argument("--contribs-rows", type=int, default=1000)
    ap.add_argument("--contribs-repeats", type=int, default=3)
    ap.add_argument("--dump-rows", metavar="PATH")
    args = ap.parse_args(argv)
    check_dependencies()

    import numpy as np
    import xgboost as xgb

    from scripts.loanmodel.encoding import encode
    from scripts.loanmodel.export import booster_from_document
    from scripts.loanmodel.generate import generate

    with open(args.artifact, encoding="utf-8") as f:
        doc = json.load(f)
    X = encode(doc["fields"], doc["columns"], generate(args.rows, args.seed))
    if args.dump_rows:
        X.astype("<f8").tofile(args.dump_rows)
    booster = booster_from_document(doc["model"]["booster"])
    booster.set_param({"nthread": 1})

    inplace = best_seconds(lambda: booster.inplace_predict(X, missing=np.nan), args.repeats)

    def via_dmatrix():
        booster.predict(xgb.DMatrix(X, missing=np.nan, nthread=1))

    dmatrix = best_seconds(via_dmatrix, args.repeats)
    # TreeSHAP: XGBoost's pred_contribs, one thread (DMatrix built inside: it is negligible next to
    # ~2 ms a row, and a fresh DMatrix rules out any prediction cache).
    C = X[: args.contribs_rows]

    def contribs():
        booster.predict(xgb.DMatrix(C, missing=np.nan, nthread=1), pred_contribs=True)

    contribs_s = best_seconds(contribs, args.contribs_repeats)
    times = np.empty(args.single_calls)
    for i in range(args.single_calls):
        row = X[i % len(X): i % len(X) + 1]
        t0 = time.perf_counter()
        booster.inplace_predict(row, missing=np.nan)
        times[i] = time.perf_counter() - t0
    print(json.dumps({
        "rows": args.rows,
        "batch_us_per_row_inplace": inplace * 1e6 / args.rows,
        "batch_us_per_row_dmatrix": dmatrix * 1e6 / args.rows,
        "single_row_us_median": float(np.median(times)) * 1e6,
        "contribs_rows": len(C),
        "contribs_us_per_row": contribs_s * 1e6 / len(C),
        "xgboost_version": xgb.__version__,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
