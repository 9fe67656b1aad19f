"""The shipped training pipeline (scripts/train.py → scenario_training.py) on a small simulated history:
artifacts without the vintage year, with the scenario features; monotone XGBoost; linear models whose
monotone-constrained coefficients all have their sign; support and stability baselines that agree with the
training data; reference rows that carry their scenarios; an out-of-time model card; gradient boosting as a
monotone-constrained HistGradientBoostingClassifier whose exported trees compare float64 rows as scikit-learn
does."""

import io
import json
import os
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

import numpy as np

from scripts import train
from scripts.loanmodel import export, scenario, scenario_training, training
from scripts.loanmodel.encoding import VINTAGE_FIELD

SMALL = {"gradient_boosting": {"max_iter": 10}, "xgboost": {"num_boost_round": 15}}
LINEAR = ("logistic_regression/1.0.0", "lda/1.0.0")


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class ScenarioTrainingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "out")
        cls.report = scenario_training.run(cls.out, 6_000, 4, 2005, os.path.join(cls.tmp.name, "work"), "test",
                                           monotone_loans=300, log=lambda _: None, overrides=SMALL,
                                           reference_holdout=400, probes=30)
        cls.docs = {f"{n}/{v}": read_json(os.path.join(cls.out, f"{n}/{v}.json")) for n, _, v, _ in training.MODELS}
        cls.reference = read_json(os.path.join(cls.out, "reference", "holdout.json"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_model_without_the_vintage_and_with_the_scenario_features(self):
        self.assertEqual(len(self.docs), 5)
        for key, doc in self.docs.items():
            used = {c["field"] for c in doc["columns"]}
            self.assertNotIn(VINTAGE_FIELD, used, key)
            self.assertIn("mtm_cltv_trough", used, key)
            if key not in LINEAR:
                self.assertTrue(set(scenario.FEATURES) <= used, key)
            self.assertEqual([f["name"] for f in doc["fields"]][-len(scenario.FEATURES):], list(scenario.FEATURES))

    def test_tree_models_are_monotone_in_house_prices_and_credit_fields(self):
        for key in ("gradient_boosting/1.0.0", "xgboost/1.0.0", "xgboost/1.1.0"):
            params = self.docs[key]["training"]["params"]
            signs = scenario_training.monotone_signs(self.docs[key]["columns"])
            if key.startswith("xgboost"):
                self.assertEqual(params["monotone_constraints"], "(" + ",".join(map(str, signs)) + ")")
            else:
                self.assertEqual(params["monotonic_cst"], signs)
            self.assertIn(-1, signs)
            self.assertIn(1, signs)
            for check, counts in self.report["models"][key]["monotonicity"].items():
                self.assertGreater(counts["checks"], 0, check)
                self.assertEqual(counts["violations"], 0, f"{key}: {check}")

    def test_gradient_boosting_is_a_hist_gradient_boosting_classifier_on_float64_rows(self):
        doc = self.docs["gradient_boosting/1.0.0"]
        model = doc["model"]
        self.assertEqual(model["estimator"], "HistGradientBoostingClassifier")
        self.assertEqual(model["split_rows"], "float64")
        self.assertNotIn("learning_rate", model)  # the leaves already include it
        self.assertEqual(len(model["trees"]), SMALL["gradient_boosting"]["max_iter"])
        params = doc["training"]["params"]
        self.assertFalse(params["early_stopping"])
        self.assertEqual(params["random_state"], 4)
        for t in model["trees"]:
            left, right, cover = (np.array(t[k]) for k in ("children_left", "children_right", "cover"))
            inner = left != -1
            np.testing.assert_array_equal(cover[left[inner]] + cover[right[inner]], cover[inner])

    def test_linear_coefficients_have_their_signs_and_no_violations(self):
        for key in LINEAR:
            doc = self.docs[key]
            coef = (doc["model"]["coefficients"] if doc["family"] == "logistic_regression"
                    else export.lda_discriminant(doc["model"])[0])
            self.assertEqual(scenario_training.wrong_signs(doc["columns"], coef), [], key)
            constrained = [c for c in doc["columns"] if c["op"] == "numeric"
                           and c["field"] in scenario_training.MONOTONE_FIELDS]
            self.assertTrue(constrained, key)
            for check, counts in self.report["models"][key]["monotonicity"].items():
                self.assertEqual(counts["violations"], 0, f"{key}: {check}")
            elimination = doc["training"]["sign_elimination"]
            kept = {c["name"] for c in doc["columns"]}
            for d in elimination["dropped"]:
                self.assertNotIn(d["column"], kept)

    def test_elimination_drops_a_wrong_sign(self):
        cols = [{"op": "numeric", "name": "ltv", "field": "ltv"}, {"op": "numeric", "name": "dti", "field": "dti"},
                {"op": "numeric", "name": "hpi_trough_36m", "field": "hpi_trough_36m"},
                {"op": "is_missing", "name": "ltv_missing", "field": "ltv"}]
        self.assertEqual(scenario_training.wrong_signs(cols, [-0.5, 0.2, 0.3, -9.0]), [0, 2])
        self.assertEqual(scenario_training.wrong_signs(cols, [0.5, 0.2, -0.3, 9.0]), [])

    def test_support_and_stability_baseline_agree_with_the_training_rows(self):
        rows = self.report["data"]["train_loans"]
        for key, doc in self.docs.items():
            t = doc["training"]
            read = {c["field"] for c in doc["columns"]}
            support, base = t["support"], t["stability_baseline"]
            self.assertEqual(read, set(support) - {"first_payment_date_range"}, key)
            self.assertEqual(read, set(base["fields"]), key)
            fpd = support["first_payment_date_range"]
            self.assertTrue(199901 <= fpd["min"] <= fpd["max"] <= 201012, key)
            for name, s in support.items():
                if "p01" in s:
                    self.assertTrue(s["min"] <= s["p01"] <= s["p99"] <= s["max"], f"{key} {name}")
            self.assertEqual(base["rows"], rows)
            score = base["score"]
            self.assertEqual(sum(score["counts"]), rows, key)
            self.assertEqual(len(score["counts"]), len(score["edges"]) + 2)
            self.assertTrue(all(b > a for a, b in zip(score["edges"], score["edges"][1:])))
            for name, b in base["fields"].items():
                self.assertEqual(sum(b["counts"]), rows, f"{key} {name}")
                # numeric: one bin more than edges, then missing; levels: the levels, other, missing
                size = len(b["edges"]) + 2 if b["kind"] == "numeric" else len(b["levels"]) + 2
                self.assertEqual(len(b["counts"]), size, f"{key} {name}")
            self.assertTrue(set(support["credit_score"]) == {"min", "p01", "p99", "max"})

    def test_numeric_bins_are_right_closed(self):
        b = scenario_training.numeric_bins(np.arange(1.0, 11.0), missing=3)
        np.testing.assert_allclose(b["edges"], [1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1], rtol=1e-15)
        self.assertEqual(b["counts"], [1] * 10 + [3])
        b = scenario_training.numeric_bins(np.array([1.0, 1.0, 1.0, 2.0]))
        np.testing.assert_allclose(b["edges"], [1.0, 1.1, 1.4, 1.7], rtol=1e-15)
        self.assertEqual(b["counts"], [3, 0, 0, 0, 1, 0])

    def test_reference_rows_carry_their_scenarios(self):
        ref = self.reference
        n = len(ref["loans"])
        self.assertEqual(len(ref["scenarios"]), n)
        self.assertEqual(len(ref["features"]), n)
        names = {s if isinstance(s, str) else s["name"] for s in ref["scenarios"]}
        self.assertTrue({"baseline", "adverse", "severely_adverse", "historical", "custom"} <= names)
        for kind in ("holdout", "threshold_probe_xgboost", "threshold_probe_xgboost_scenario",
                     "threshold_probe_gradient_boosting_scenario", "all_missing_null"):
            self.assertIn(kind, ref["kinds"])
        for loan, spec, feats in zip(ref["loans"], ref["scenarios"], ref["features"]):
            self.assertEqual(scenario.problems(spec), [])
            got = scenario.features([loan], spec).iloc[0]
            for name in scenario.FEATURES:
                want = feats[name]
                self.assertEqual(None if np.isnan(got[name]) else float(got[name]), want, name)
            if spec == "historical":
                self.assertTrue(199901 <= loan["first_payment_date"] <= 201912)
        for key, doc in self.docs.items():
            self.assertEqual(len(ref["models"][key]["probability"]), n, key)

    def test_out_of_time_model_card(self):
        for key, rows in self.report["out_of_time"].items():
            vintages = [int(v) for v in rows if v != "all later vintages"]
            self.assertTrue(vintages and min(vintages) > 2005, key)
            for m in rows.values():
                lo, hi = m["observed_jeffreys_95"]
                self.assertTrue(0 <= lo <= m["observed"] <= hi <= 1, key)
        with open(os.path.join(self.out, "MODEL_CARD.md"), encoding="utf-8") as f:
            text = f.read()
        for heading in ("Intended use and limits", "Out-of-time validation", "Monotonicity", "Sensitivity",
                        "Calibration per vintage", "SYNTHETIC", "not** a prediction"):
            self.assertIn(heading, text)

    def test_out_of_time_models_are_exported_and_reproduce_the_table(self):
        """Each out-of-time model as an artifact under reference/out-of-time/ (not a model folder): scored from
        its exported parameters on the out-of-time test set, it gives the table's figures."""
        import scipy.special
        import xgboost as xgb

        from scripts.loanmodel import encoding, metrics

        loans, _ = scenario_training.simulate(6_000, 4, os.path.join(self.tmp.name, "again"))
        loans = scenario_training.add_historical_features(loans)
        test = loans[(loans[VINTAGE_FIELD] // 100) > 2005].reset_index(drop=True)
        y = test["default_36m"].to_numpy()
        self.assertEqual(set(self.report["oot_bytes"]), set(self.docs))
        for key, shipped in self.docs.items():
            path = os.path.join(self.out, "reference", "out-of-time", f"{key}.json")
            doc = read_json(path)
            self.assertEqual(os.path.getsize(path), self.report["oot_bytes"][key], key)
            self.assertEqual([doc[k] for k in ("format", "name", "version", "family")],
                             [shipped[k] for k in ("format", "name", "version", "family")], key)
            self.assertEqual(doc["training"]["out_of_time"]["by_vintage"], self.report["out_of_time"][key], key)
            self.assertEqual(doc["training"]["data"]["train_loans"], self.report["oot_split"]["train_loans"], key)
            self.assertIn("stability_baseline", doc["training"])
            X = encoding.encode(doc["fields"], doc["columns"], test)
            params = doc["model"]
            if doc["family"] == "xgboost":
                p = export.booster_from_document(params["booster"]).predict(xgb.DMatrix(X, missing=np.nan))
            elif doc["family"] == "gradient_boosting":
                p = scipy.special.expit(export.gbm_margins(params, X))
            else:
                coef, intercept = export.linear_coefficients(params)
                p = scipy.special.expit(X @ coef + intercept)
            want = self.report["out_of_time"][key]["all later vintages"]
            got = metrics.holdout_metrics(y, np.asarray(p, np.float64))
            self.assertEqual([got["auc"], got["ks"]], [want["auc"], want["ks"]], key)
            self.assertAlmostEqual(float(np.mean(p)), want["mean_pd"], places=6, msg=key)

    def test_legacy_freddie_path_never_replaces_the_shipped_models(self):
        with redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            train.parse_args(["--freddie-orig", "a", "--freddie-perf", "b"])
        with redirect_stderr(io.StringIO()), redirect_stdout(io.StringIO()), self.assertRaises(SystemExit):
            train.main(["--freddie-orig", "a", "--freddie-perf", "b", "--out", train.SHIPPED])
        with redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            train.parse_args(["--n", "100"])


if __name__ == "__main__":
    unittest.main()


class HistGradientBoostingExportTest(unittest.TestCase):
    """export.hgb_parameters / gbm_margins against scikit-learn 1.2's own predictions, on rows built to tell
    float64 from float32 comparisons apart: every threshold, the doubles either side of it, its float32
    rounding, NaN and ±Infinity."""

    @classmethod
    def setUpClass(cls):
        from sklearn.ensemble import HistGradientBoostingClassifier
        rng = np.random.default_rng(5)
        X = rng.normal(size=(4000, 4))
        X[rng.random(X.shape) < 0.05] = np.nan
        y = (np.nan_to_num(X[:, 0]) - np.nan_to_num(X[:, 2]) + rng.normal(size=len(X)) > 1).astype(int)
        cls.model = HistGradientBoostingClassifier(max_iter=25, max_depth=3, monotonic_cst=[1, 0, -1, 0],
                                                   early_stopping=False, random_state=0).fit(X, y)
        cls.params = export.hgb_parameters(cls.model)
        rows = []
        for t in cls.params["trees"]:
            for left, j, thr in zip(t["children_left"], t["feature"], t["threshold"]):
                if left != -1:
                    for v in (thr, np.nextafter(thr, np.inf), np.nextafter(thr, -np.inf), float(np.float32(thr))):
                        row = X[len(rows) % len(X)].copy()
                        row[j] = v
                        rows.append(row)
        for v in (np.nan, np.inf, -np.inf):
            rows += [np.full(4, v)]
        cls.rows = np.array(rows)

    def test_margins_from_the_exported_trees_equal_decision_function_bit_for_bit(self):
        np.testing.assert_array_equal(export.gbm_margins(self.params, self.rows), self.model.decision_function(self.rows))
        export.verify("gradient_boosting", self.params, self.model, self.rows)

    def test_scikit_learn_compares_float64_rows(self):
        # The same trees read as float32 rows (GradientBoostingClassifier's rule) miss scikit-learn somewhere.
        as_float32 = {k: v for k, v in self.params.items() if k not in ("estimator", "split_rows")}
        as_float32["learning_rate"] = 1.0
        differ = export.gbm_margins(as_float32, self.rows) != self.model.decision_function(self.rows)
        self.assertTrue(differ.any())

    def test_section_records_estimator_and_split_rows_and_no_learning_rate(self):
        self.assertEqual((self.params["estimator"], self.params["split_rows"]),
                         ("HistGradientBoostingClassifier", "float64"))
        self.assertNotIn("learning_rate", self.params)
        self.assertEqual(self.params["init_margin"], float(self.model._baseline_prediction.ravel()[0]))
        with self.assertRaises(ValueError):
            export.gbm_margins({**self.params, "split_rows": "float32"}, self.rows)
