"""scripts/loanmodel/backtest_tape.py: backtest tapes from the training process (issue 23 reference checks).
The checks themselves (green on fresh seeds, PSI on a shifted mix, red on a shifted intercept, the model card's
holdout) are in test/validation/reference-checks.test.ts; here: the writer keeps the training process."""

import contextlib
import io
import os
import tempfile
import unittest

import numpy as np
import pandas as pd

from scripts.loanmodel import backtest_tape, history, scenario_training
from scripts.loanmodel.schema import ID_FIELD, LABEL, RECORD_FIELDS


class HistoryUnchanged(unittest.TestCase):
    def test_factor_one_is_the_training_history_byte_for_byte(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            (o1, p1), r1 = history.write_history(a, 3000, 5, horizon=36)
            (o2, p2), r2 = history.write_history(b, 3000, 5, horizon=36, hazard_factor=1.0)
            self.assertEqual(r1, r2)
            for x, y in ((o1, o2), (p1, p2)):
                with open(x, "rb") as f, open(y, "rb") as g:
                    self.assertEqual(f.read(), g.read())

    def test_tape_loans_are_the_training_simulation(self):
        with tempfile.TemporaryDirectory() as work:
            expected, _ = scenario_training.simulate(3000, 6, work)
        got = backtest_tape.loans_for(3000, 6)
        pd.testing.assert_frame_equal(got, expected.iloc[:3000].reset_index(drop=True))


class Shifts(unittest.TestCase):
    def test_hazard_factor_moves_outcomes_not_loans(self):
        base = backtest_tape.loans_for(4000, 7)
        high = backtest_tape.loans_for(4000, 7, hazard_factor=2.0)
        common = base.merge(high, on=ID_FIELD, suffixes=("", "_2"))
        self.assertGreater(len(common), 3900)  # only loans the loader labels differently may differ
        for f in ("credit_score", "ltv", "first_payment_date", "original_interest_rate"):
            np.testing.assert_array_equal(common[f].to_numpy(), common[f + "_2"].to_numpy())
        self.assertGreater(high[LABEL].mean(), 1.5 * base[LABEL].mean())
        self.assertLess(high[LABEL].mean(), 2.0 * base[LABEL].mean())  # a loan defaults at most once

    def test_vintages_keep_only_those_years_first_loans_first(self):
        got = backtest_tape.loans_for(1500, 8, vintages=[2006, 2007])
        self.assertEqual(len(got), 1500)
        self.assertEqual(set((got["first_payment_date"] // 100).astype(int)), {2006, 2007})
        # The same loans as filtering a longer simulation of the training process (prefix property).
        full = backtest_tape.simulate(30_000, 8)[0]
        year = (full["first_payment_date"] // 100).astype(int)
        pd.testing.assert_frame_equal(got, full[year.isin([2006, 2007])].iloc[:1500].reset_index(drop=True))


class Cli(unittest.TestCase):
    def run_main(self, argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            try:
                code = backtest_tape.main(argv)
            except SystemExit as e:
                code = e.code
        return code, out.getvalue()

    def test_writes_csv_tapes_with_the_record_header_and_default_36m(self):
        with tempfile.TemporaryDirectory() as d:
            code, out = self.run_main(["--n", "800", "--seed", "3-4", "--out", os.path.join(d, "t-{seed}.csv")])
            self.assertEqual(code, 0)
            self.assertIn("800 loans", out)
            for s in (3, 4):
                path = os.path.join(d, f"t-{s}.csv")
                with open(path, encoding="utf-8") as f:
                    self.assertEqual(f.readline().strip().split(","), RECORD_FIELDS + [LABEL])
                df = pd.read_csv(path)
                self.assertEqual(len(df), 800)
                self.assertTrue(set(df[LABEL].unique()) <= {0, 1})
            a, b = (pd.read_csv(os.path.join(d, f"t-{s}.csv")) for s in (3, 4))
            self.assertFalse(a.equals(b))

    def test_refuses_bad_options(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "t.csv")
            for argv in (["--n", "10", "--out", out], ["--seed", "1", "--out", out],
                         ["--n", "10", "--seed", "1,2", "--out", out],
                         ["--n", "10", "--seed", "1", "--hazard-factor", "0", "--out", out],
                         ["--n", "10", "--seed", "1", "--vintages", "1998", "--out", out],
                         ["--n", "10", "--seed", "x", "--out", out],
                         ["--holdout", "--seed", "1", "--out", out],
                         ["--n", "10", "--seed", "1", "--out-of-time", out, "--out", out]):
                code, _ = self.run_main(argv)
                self.assertEqual(code, 2, argv)
            self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
