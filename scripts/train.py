"""Train the four loan-default models and write model-artifacts/ (`npm run train`).

  npm run train                                  # synthetic data, fixed seed → model-artifacts/
  npm run train -- --sample 20000 --out /tmp/ci  # quick CI run, never touches model-artifacts/
  npm run train -- --freddie-orig 'data/sample_orig_*.txt' --freddie-perf 'data/sample_svcg_*.txt'
  npm run train -- --history --out DIR           # scenario-conditional models, not served (train_history.py)

Steps: generate (or load Freddie Mac files) → encode → train → export and verify → reference
predictions → model card. See docs/DATA.md and docs/ARTIFACT_FORMAT.md.
"""

import argparse
import os
import shlex
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from scripts.loanmodel.deps import check_dependencies  # noqa: E402


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="npm run train --", description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="output directory (default model-artifacts/; a temporary directory with --sample)")
    ap.add_argument("--seed", type=int, help="random seed (default 20240501)")
    ap.add_argument("--sample", type=int, metavar="N", help="CI mode: train on N synthetic loans")
    ap.add_argument("--n-train", type=int, help="synthetic training loans (default 200000)")
    ap.add_argument("--n-holdout", type=int, help="synthetic holdout loans (default 100000)")
    ap.add_argument("--freddie-orig", nargs="+", action="extend", metavar="PATH",
                    help="Freddie Mac origination file(s) or glob(s)")
    ap.add_argument("--freddie-perf", nargs="+", action="extend", metavar="PATH",
                    help="the matching monthly performance file(s) or glob(s)")
    args = ap.parse_args(argv)
    if bool(args.freddie_orig) != bool(args.freddie_perf):
        ap.error("--freddie-orig and --freddie-perf go together")
    if args.sample and args.freddie_orig:
        ap.error("--sample is for synthetic data")
    return args


def without_out(argv):
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--out":
            skip = True
        elif not a.startswith("--out="):
            out.append(a)
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--history" in argv:
        from scripts import train_history
        return train_history.main(argv)
    args = parse_args(argv)
    check_dependencies()
    from scripts.loanmodel.pipeline import Config, run

    # The recorded command leaves out --out: where the files go does not change what is in them, and
    # the same seed must give the same bytes in any folder.
    recorded = without_out(argv)
    cfg = Config(out=args.out or os.path.join(ROOT, "model-artifacts"),
                 command="npm run train" + (" -- " + shlex.join(recorded) if recorded else ""))
    if args.seed is not None:
        cfg.seed = args.seed
    if args.sample:
        cfg.n_train, cfg.n_holdout = args.sample, max(args.sample // 2, 6000)
        cfg.out = args.out or tempfile.mkdtemp(prefix="loanmodel-sample-")
    cfg.n_train = args.n_train or cfg.n_train
    cfg.n_holdout = args.n_holdout or cfg.n_holdout
    cfg.freddie_orig, cfg.freddie_perf = args.freddie_orig, args.freddie_perf
    run(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
