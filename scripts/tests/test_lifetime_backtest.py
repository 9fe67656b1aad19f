"""Vintage backtest (issue 22, item 5; scripts/loanmodel/lifetime_backtest.py, docs/LOSS.md "Vintage backtest"):
projected with the history's true default and prepayment curves, each vintage's cumulative default at 36 and
108 months falls inside the Clopper–Pearson interval of what the simulated history realised; a hazard × 1.5
or a seasoning ramp 12 months late does not."""

import unittest

import numpy as np

from scripts.loanmodel import history, lifetime_backtest as bt


class VintageBacktestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.results = bt.run(n=30_000, seed=1)

    def outside(self, name):
        return [r for r in self.results[name] if not r["inside"]]

    def test_true_curves_fall_inside_every_vintage_interval(self):
        rows = self.results["true curves"]
        self.assertEqual(len(rows), 12 * len(bt.HORIZONS))  # vintages 1999–2010 × horizons
        self.assertEqual(self.outside("true curves"), [])
        self.assertTrue(all(r["defaults"] >= 20 for r in rows))  # the intervals are not vacuous

    def test_wrong_curves_fail(self):
        self.assertGreaterEqual(len(self.outside("hazard × 1.5")), 6)
        self.assertGreaterEqual(len(self.outside("timing 12 months late")), 6)

    def test_recorder_does_not_change_the_history(self):
        # The recorded batch draws the same numbers as history.Batch: same exits, same losses.
        df, L = history.origination_block(1, 0)
        Ls = L.iloc[:history.BATCH].reset_index(drop=True)
        a, b = history.Batch(Ls, 1, 0, 48), bt._Recorder(Ls, 1, 0, 48)
        a.run(want_rows=False)
        b.run(want_rows=False)
        np.testing.assert_array_equal(a.exit_age, b.exit_age)
        np.testing.assert_array_equal(a.first60, b.first60)
        self.assertTrue((b.first_miss > 0).any())
        # A first miss comes no later than the first 60+ days.
        both = (b.first60 > 0)
        self.assertTrue(((b.first_miss[both] > 0) & (b.first_miss[both] < b.first60[both])).all())


if __name__ == "__main__":
    unittest.main()
