"""Train the shipped loan-default models and write model-artifacts/ (`npm run train`).

  npm run train                                  # simulated loan history, seed 21 → model-artifacts/
  npm run train -- --sample 20000 --out /tmp/ci  # quick CI run, never touches model-artifacts/
  npm run train -- --n 120000 --seed 7 --out DIR # another size or seed

Steps (scripts/loanmodel/scenario_training.py): simulate origination + monthly performance files
(history.py) → label them with the Freddie Mac loader (default within 36 months) → scenario features
of each loan's realised house-price path → out-of-time validation (fit ≤ 2005, score 2006–2010; those
models exported to model-artifacts/reference/out-of-time/, not served) → fit
the four families and the XGBoost challenger on every vintage (no vintage year; linear families by a
sign-consistent backward elimination, XGBoost with monotone constraints) → export and verify →
reference rows with their scenarios → MODEL_CARD.md. See docs/MODELS.md, docs/DATA.md and
docs/ARTIFACT_FORMAT.md.

The former origination-only path (drawn labels from generate.py, the vintage year as a feature) is
retired: `--freddie-orig/--freddie-perf` still train those legacy models on real Freddie Mac files
(scripts/loanmodel/pipeline.py), into --out only; they are not what the service ships.
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

SHIPPED = os.path.join(ROOT, "model-artifacts")
DEFAULT_N = 100_000
DEFAULT_SEED = 21


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="npm run train --", description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="output directory (default model-artifacts/; a temporary directory with --sample)")
    ap.add_argument("--seed", type=int, help=f"random seed (default {DEFAULT_SEED})")
    ap.add_argument("--n", type=int, help=f"simulated loans (default {DEFAULT_N:,})")
    ap.add_argument("--sample", type=int, metavar="N", help="CI mode: N simulated loans, smaller reference set")
    ap.add_argument("--train-through", type=int, default=2005,
                    help="out-of-time split: fit on vintages up to this year, test on later ones (default 2005)")
    ap.add_argument("--work-dir", help="where the simulated files go (default: a temporary directory, removed)")
    ap.add_argument("--freddie-orig", nargs="+", action="extend", metavar="PATH",
                    help="legacy: origination-only models on Freddie Mac origination file(s) (needs --out)")
    ap.add_argument("--freddie-perf", nargs="+", action="extend", metavar="PATH",
                    help="legacy: the matching monthly performance file(s) or glob(s)")
    args = ap.parse_args(argv)
    if bool(args.freddie_orig) != bool(args.freddie_perf):
        ap.error("--freddie-orig and --freddie-perf go together")
    if args.freddie_orig and (args.sample or args.n):
        ap.error("--sample and --n are for the simulated history")
    if args.freddie_orig and not args.out:
        ap.error("--freddie-orig trains the retired origination-only models: give --out (never model-artifacts/)")
    if args.sample and args.n:
        ap.error("--sample and --n go separately")
    n = args.sample or args.n or DEFAULT_N
    if not args.freddie_orig and n < 2_000:
        ap.error("--n/--sample must be at least 2000")
    if not 1999 <= args.train_through <= 2009:
        ap.error("--train-through must leave later vintages to test (1999 to 2009)")
    return args


def without_out(argv):
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--out", "--work-dir"):
            skip = True
        elif not a.startswith(("--out=", "--work-dir=")):
            out.append(a)
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    argv = [a for a in argv if a != "--history"]  # the former flag: the history pipeline is the default now
    args = parse_args(argv)
    check_dependencies()
    # The recorded command leaves out --out: where the files go does not change what is in them, and
    # the same seed must give the same bytes in any folder.
    recorded = without_out(argv)
    command = "npm run train" + (" -- " + shlex.join(recorded) if recorded else "")
    if args.freddie_orig:
        if os.path.realpath(args.out) == os.path.realpath(SHIPPED):
            sys.exit("--freddie-orig: the legacy models must not replace model-artifacts/")
        from scripts.loanmodel.pipeline import Config, run
        cfg = Config(out=args.out, command=command, freddie_orig=args.freddie_orig, freddie_perf=args.freddie_perf)
        if args.seed is not None:
            cfg.seed = args.seed
        run(cfg)
        return 0
    from scripts.loanmodel import scenario_training

    out = args.out or (tempfile.mkdtemp(prefix="loanmodel-sample-") if args.sample else SHIPPED)
    n = args.sample or args.n or DEFAULT_N
    seed = DEFAULT_SEED if args.seed is None else args.seed
    small = {"monotone_loans": 500} if args.sample else {}
    if args.work_dir:
        scenario_training.run(out, n, seed, args.train_through, args.work_dir, command, **small)
    else:
        with tempfile.TemporaryDirectory(prefix="loan-history-") as work:
            scenario_training.run(out, n, seed, args.train_through, work, command, **small)
    print(f"artifacts, reference rows and MODEL_CARD.md in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
