"""Backtest tapes from the training process (issue 23, reference checks; docs/VALIDATION.md "Reference checks").

  /usr/bin/python3 -m scripts.loanmodel.backtest_tape --n 5000 --seed 101 --out tape.csv
  /usr/bin/python3 -m scripts.loanmodel.backtest_tape --n 5000 --seed 101 --vintages 2006,2007 --out mix.csv
  /usr/bin/python3 -m scripts.loanmodel.backtest_tape --n 5000 --seed 101 --hazard-factor 2 --out shifted.csv
  /usr/bin/python3 -m scripts.loanmodel.backtest_tape --n 5000 --seed 101-120 --out 'dir/tape-{seed}.csv'
  /usr/bin/python3 -m scripts.loanmodel.backtest_tape --holdout --out holdout.csv   # the model card's holdout

`--seed` takes one seed, a range A-B or a comma list; with several, `--out` names each file with `{seed}`
(one process writes them all: cheaper than one process each).

A tape is a CSV with the loan-record header (the fields of the contract, as POST /pools/score and
POST /pools/backtest read them) and `default_36m` (0/1). The loans are simulated exactly as
`npm run train` simulates its history (scenario_training.simulate: history.py's processes and parameters,
36 months of performance, labelled by the Freddie Mac loader freddie.load with the training label rule), with
another seed; loans the loader leaves unlabelled are left out, as in training.

- `--vintages 2006,2007`: a shifted mix. The history is simulated as usual and only loans with a first
  payment in those years are kept (in order), simulating more loans until n are kept: the loans of those
  years are exactly the training process's loans of those years, only the mix changes.
- `--hazard-factor K`: a shifted intercept. Every loan's monthly default (delinquency-entry) intensity
  exp(lp) is multiplied by K, i.e. the log-hazard intercept H_BASE moves by ln K (history.iter_batches); no
  other draw changes, so the loans are those of K = 1 and only their outcomes move. Defaults within 36 months
  rise by somewhat less than K (a loan defaults at most once; delinquencies still need to roll to 90 days).
- `--holdout` (and `--out-of-time FILE`): the model card's "Shipped artifacts" holdout: `npm run train`'s history (n 100,000, seed 21),
  the same random 25 % (scenario_training.run's permutation with default_rng(seed)), in that order. The card's
  holdout AUC, KS, Brier and calibration per vintage are computed on exactly these loans, so a backtest of this
  tape with a shipped model reproduces them (test/validation/reference-checks.test.ts). `--out-of-time FILE`
  also writes the card's out-of-time test set (vintages after 2005 of the same history, in loan order): a
  backtest of it with the out-of-time models (fitted on vintages up to 2005, exported by `npm run train` under
  model-artifacts/reference/out-of-time/, not served) reproduces the card's out-of-time table; the shipped
  artifacts, fitted on every vintage, give other figures.
"""

import argparse
import math
import os
import sys
import tempfile

import numpy as np

from . import freddie, history
from .schema import LABEL
from .tape import write_tape

TRAINING_N, TRAINING_SEED = 100_000, 21  # scripts/train.py DEFAULT_N, DEFAULT_SEED
TRAIN_THROUGH = 2005  # scripts/train.py --train-through default


def simulate(n, seed, hazard_factor=1.0):
    """Labelled loans of the training process (scenario_training.simulate, optionally a shifted hazard)."""
    with tempfile.TemporaryDirectory() as work:
        (orig, perf), _ = history.write_history(work, n, seed, horizon=freddie.WINDOW_MONTHS,
                                                hazard_factor=hazard_factor)
        loans, stats = freddie.load([orig], [perf])
    return loans, stats


def loans_for(n, seed, vintages=None, hazard_factor=1.0):
    """n labelled loans (fewer only if the loader drops some), restricted to `vintages` when given."""
    if not vintages:
        return simulate(n, seed, hazard_factor)[0].iloc[:n].reset_index(drop=True)
    share = history.VINTAGE_SHARE / history.VINTAGE_SHARE.sum()
    p = float(sum(share[list(history.VINTAGES).index(v)] for v in vintages))
    m = int(math.ceil(n / p * 1.15))
    while True:  # the history of m loans is a prefix of a longer one: growing m keeps the first loans
        loans = simulate(m, seed, hazard_factor)[0]
        year = (loans["first_payment_date"] // 100).astype(int)
        kept = loans[year.isin(vintages)]
        if len(kept) >= n:
            return kept.iloc[:n].reset_index(drop=True)
        m = int(m * 1.5)


def card_sets(seed=TRAINING_SEED, n=TRAINING_N, train_through=TRAIN_THROUGH):
    """(holdout, out_of_time) of `npm run train`'s history: scenario_training.run's random 25 % holdout (its
    permutation, in its order) and out_of_time's test set (vintages after train_through, in loan order)."""
    loans = simulate(n, seed)[0]
    order = np.random.default_rng(seed).permutation(len(loans))
    year = (loans["first_payment_date"] // 100).astype(int)
    return (loans.iloc[order[: len(loans) // 4]].reset_index(drop=True),
            loans[year > train_through].reset_index(drop=True))


def write(path, loans):
    with open(path, "w", encoding="utf-8", newline="") as out:
        write_tape(out, [loans], "csv", with_label=True)


def parse_seeds(text):
    seeds = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            seeds.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a seed, a range A-B or a comma list, got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"must name at least one seed ≥ 0, got {text!r}")
    return seeds


def parse_vintages(text):
    try:
        years = sorted({int(y) for y in text.split(",") if y.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a comma list of years, got {text!r}") from None
    bad = [y for y in years if y not in history.VINTAGES]
    if not years or bad:
        raise argparse.ArgumentTypeError(f"years must be in {history.VINTAGES[0]}–{history.VINTAGES[-1]}, got {text!r}")
    return years


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m scripts.loanmodel.backtest_tape", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, help="labelled loans in the tape")
    ap.add_argument("--seed", type=parse_seeds, help="seed(s) of the simulated history: S, A-B or a comma list "
                                                     "(training uses 21)")
    ap.add_argument("--vintages", type=parse_vintages, help="keep only these first-payment years, e.g. 2006,2007")
    ap.add_argument("--hazard-factor", type=float, default=1.0,
                    help="multiply every default hazard by this factor (default 1: the training process)")
    ap.add_argument("--holdout", action="store_true", help="the model card's holdout (npm run train's 25 %%)")
    ap.add_argument("--out-of-time", metavar="FILE",
                    help="with --holdout: also write the card's out-of-time test set (vintages 2006-2010) to FILE")
    ap.add_argument("--out", required=True, help="CSV tape to write")
    args = ap.parse_args(argv)
    if args.holdout:
        if args.n or args.seed is not None or args.vintages or args.hazard_factor != 1.0:
            ap.error("--holdout is the training run's holdout: no --n, --seed, --vintages or --hazard-factor")
        held, oot = card_sets()
        tapes = [(args.out, held)] + ([(args.out_of_time, oot)] if args.out_of_time else [])
    else:
        if args.out_of_time:
            ap.error("--out-of-time goes with --holdout")
        if not args.n or args.n < 1 or args.seed is None:
            ap.error("give --n (at least 1) and --seed, or --holdout")
        if not (args.hazard_factor > 0 and math.isfinite(args.hazard_factor)):
            ap.error("--hazard-factor must be a positive number")
        if len(args.seed) > 1 and "{seed}" not in args.out:
            ap.error("several seeds: name the files with {seed} in --out")
        tapes = ((args.out.replace("{seed}", str(s)), loans_for(args.n, s, args.vintages, args.hazard_factor))
                 for s in args.seed)
    for path, loans in tapes:
        write(path, loans)
        print(f"{len(loans):,} loans, {int(loans[LABEL].sum()):,} defaults → {os.path.abspath(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
