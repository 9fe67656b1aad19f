"""Scenario-conditional models on the simulated loan history (issue 21 item 3; NOT served yet).

  npm run train -- --history --out /tmp/scenario-models [--n 120000] [--seed 21] [--train-through 2005]
  /usr/bin/python3 scripts/train_history.py --out DIR ...          # the same

Simulates the history (history.py), labels it with the Freddie Mac loader, fits the four families and the
XGBoost challenger on origination attributes without the vintage year plus the scenario features of each
loan's realised house-price path, and writes DIR/<model>/<version>.json and DIR/REPORT.md (out-of-time
validation, monotonicity counts). These artifacts carry fields that are not loan-record fields: the
service refuses them until it accepts scenarios (docs/MODELS.md). Never writes model-artifacts/.
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

SHIPPED = os.path.realpath(os.path.join(ROOT, "model-artifacts"))


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="npm run train -- --history", description=__doc__.split("\n")[0])
    ap.add_argument("--history", action="store_true", help=argparse.SUPPRESS)  # from npm run train
    ap.add_argument("--out", required=True, help="output directory (not model-artifacts/)")
    ap.add_argument("--n", type=int, default=120_000, help="simulated loans (default 120000)")
    ap.add_argument("--seed", type=int, default=21, help="random seed (default 21)")
    ap.add_argument("--train-through", type=int, default=2005,
                    help="out-of-time split: fit on vintages up to this year, test on later ones (default 2005)")
    ap.add_argument("--work-dir", help="where the simulated files go (default: a temporary directory, removed)")
    args = ap.parse_args(argv)
    out = os.path.realpath(args.out)
    if out == SHIPPED or out.startswith(SHIPPED + os.sep):
        ap.error("--out must not be model-artifacts/: these models are not served yet")
    if args.n < 2_000:
        ap.error("--n must be at least 2000")
    if not 1999 <= args.train_through <= 2009:
        ap.error("--train-through must leave later vintages to test (1999 to 2009)")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    check_dependencies()
    from scripts.loanmodel import scenario_training

    command = "npm run train -- --history " + shlex.join(a for a in argv if a != "--history"
                                                         and not a.startswith("--out") and a != args.out)
    if args.work_dir:
        scenario_training.run(args.out, args.n, args.seed, args.train_through, args.work_dir, command.strip())
    else:
        with tempfile.TemporaryDirectory(prefix="loan-history-") as work:
            scenario_training.run(args.out, args.n, args.seed, args.train_through, work, command.strip())
    print(f"artifacts and REPORT.md in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
