"""The scenario-conditional training option (scripts/train_history.py, scenario_training.py) on a small
simulated history: artifacts without the vintage year, with the scenario features, monotone XGBoost,
an out-of-time report, and never model-artifacts/."""

import io
import json
import os
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

from scripts import train, train_history
from scripts.loanmodel import scenario, scenario_training, training
from scripts.loanmodel.encoding import VINTAGE_FIELD

SMALL = {"gradient_boosting": {"n_estimators": 10}, "xgboost": {"num_boost_round": 15}}


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class ScenarioTrainingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "out")
        cls.report = scenario_training.run(cls.out, 6_000, 4, 2005, os.path.join(cls.tmp.name, "work"), "test",
                                           monotone_loans=300, log=lambda _: None, overrides=SMALL)
        cls.docs = {f"{n}/{v}": read_json(os.path.join(cls.out, f"{n}/{v}.json")) for n, _, v, _ in training.MODELS}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_model_without_the_vintage_and_with_the_scenario_features(self):
        self.assertEqual(len(self.docs), 5)
        for key, doc in self.docs.items():
            used = {c["field"] for c in doc["columns"]}
            self.assertNotIn(VINTAGE_FIELD, used, key)
            self.assertTrue(set(scenario.FEATURES) <= used, key)
            self.assertEqual([f["name"] for f in doc["fields"]][-len(scenario.FEATURES):], list(scenario.FEATURES))
            support = doc["training"]["scenario_feature_support"]
            self.assertEqual(list(support), list(scenario.FEATURES))
            for name, r in support.items():
                self.assertTrue(r["min"] <= r["p01"] <= r["p99"] <= r["max"], name)

    def test_xgboost_is_monotone_in_house_prices_and_credit_fields(self):
        for key in ("xgboost/1.0.0", "xgboost/1.1.0"):
            self.assertIn("monotone_constraints", self.docs[key]["training"]["params"])
            for check, counts in self.report["models"][key]["monotonicity"].items():
                self.assertGreater(counts["checks"], 0, check)
                self.assertEqual(counts["violations"], 0, f"{key}: {check}")

    def test_out_of_time_report_scores_only_later_vintages(self):
        for key, rows in self.report["out_of_time"].items():
            vintages = [int(v) for v in rows if v != "all later vintages"]
            self.assertTrue(vintages and min(vintages) > 2005, key)
        with open(os.path.join(self.out, "REPORT.md"), encoding="utf-8") as f:
            text = f.read()
        self.assertIn("Out-of-time validation", text)
        self.assertIn("Monotonicity", text)

    def test_refuses_to_write_model_artifacts(self):
        with redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            train_history.parse_args(["--out", os.path.join(train_history.ROOT, "model-artifacts")])
        with redirect_stderr(io.StringIO()), redirect_stdout(io.StringIO()), self.assertRaises(SystemExit):
            train.main(["--history", "--out", os.path.join(train_history.ROOT, "model-artifacts", "x")])


if __name__ == "__main__":
    unittest.main()
