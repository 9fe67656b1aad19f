"""scripts/loanmodel/tune_xgboost.py chooses xgboost/1.0.0's parameters on training rows only: none of the
rows it searches is in the model card's random holdout or in the out-of-time test set, its folds share the
defaults out evenly, and the parameters it chose are the ones training.py ships."""

import json
import os
import tempfile
import unittest

import numpy as np
import pandas as pd

from scripts.loanmodel import scenario_training, training, tune_xgboost

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TuneXgboostTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with tempfile.TemporaryDirectory() as work:
            loans, _ = scenario_training.simulate(3_000, 4, work)
        cls.loans = loans.reset_index(drop=True)

    def test_the_rows_searched_are_neither_holdout_nor_out_of_time_test_rows(self):
        ids = self.loans["loan_sequence_number"]
        order = np.random.default_rng(4).permutation(len(self.loans))  # scenario_training.run's holdout
        holdout = set(ids.iloc[order[:len(self.loans) // 4]])
        rows = tune_xgboost.tuning_rows(self.loans, seed=4, train_through=2005)
        searched = set(rows["loan_sequence_number"])
        self.assertGreater(len(searched), 0)
        self.assertEqual(searched & holdout, set())
        self.assertTrue(((rows[scenario_training.VINTAGE] // 100) <= 2005).all())
        later = self.loans[(self.loans[scenario_training.VINTAGE] // 100) > 2005]
        self.assertEqual(searched & set(later["loan_sequence_number"]), set())
        # and it is every such row: the training rows of both splits
        expected = {i for i in set(ids) - holdout
                    if int(self.loans.loc[ids == i, scenario_training.VINTAGE].iloc[0]) // 100 <= 2005}
        self.assertEqual(searched, expected)

    def test_folds_are_stratified_by_the_label(self):
        y = pd.Series(np.r_[np.ones(23), np.zeros(977)]).to_numpy()
        fold = tune_xgboost.folds(y, k=5, seed=1)
        for k in range(5):
            self.assertIn(int(y[fold == k].sum()), (4, 5))
            self.assertIn(int((fold == k).sum()), (200, 199, 201))

    def test_the_shipped_parameters_are_the_recorded_choice(self):
        with open(os.path.join(ROOT, "scripts", "loanmodel", "tune_xgboost_results.json"), encoding="utf-8") as f:
            results = json.load(f)
        best = min(results["results"], key=lambda r: r["logloss"])
        chosen = results["chosen"]
        self.assertEqual(chosen, {k: best[k] for k in chosen})
        changes = next(c for n, _, v, c in training.MODELS if (n, v) == ("xgboost", "1.0.0"))
        shipped = {**training.default_params(21)["xgboost"], **changes}
        self.assertEqual({"max_depth": shipped["max_depth"], "min_child_weight": shipped["min_child_weight"],
                          "lambda": shipped.get("lambda", 1), "eta": shipped["eta"],
                          "rounds": shipped["num_boost_round"]}, chosen)

if __name__ == "__main__":
    unittest.main()
