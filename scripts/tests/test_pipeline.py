"""A small end-to-end run: artifacts, export checks, reference set, determinism, benchmark script."""

import copy
import hashlib
import io
import json
import os
import tempfile
import unittest
from contextlib import redirect_stdout

import numpy as np

from scripts import bench_xgboost_native
from scripts.loanmodel import export, pipeline, reference
from scripts.loanmodel.encoding import encode

SMALL = {"gradient_boosting": {"max_iter": 15}, "xgboost": {"num_boost_round": 15}}
FILES = ["logistic_regression/1.0.0.json", "lda/1.0.0.json", "gradient_boosting/1.0.0.json", "xgboost/1.0.0.json",
         "xgboost/1.1.0.json",
         "reference/holdout.json", "reference/contributions.json", "MODEL_CARD.md"]


def run_small(out):
    cfg = pipeline.Config(out=out, seed=5, n_train=6_000, n_holdout=2_500, reference_holdout=2_000, probes=40,
                          overrides=SMALL, command="test")
    with redirect_stdout(io.StringIO()):
        return pipeline.run(cfg)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def digests(out):
    return {f: hashlib.sha256(read_bytes(os.path.join(out, f))).hexdigest() for f in FILES}


class PipelineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "a")
        cls.results = run_small(cls.out)
        cls.docs = {f: json.loads(read_bytes(os.path.join(cls.out, f))) for f in FILES if f.endswith(".json")}
        cls.ref = cls.docs["reference/holdout.json"]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_artifacts(self):
        for family in ("logistic_regression", "lda", "gradient_boosting", "xgboost"):
            doc = self.docs[f"{family}/1.0.0.json"]
            self.assertEqual((doc["format"], doc["name"], doc["family"], doc["version"]),
                             ("loan-default-model/1", family, family, "1.0.0"))
            self.assertEqual(len(doc["fields"]), 18)
            self.assertTrue(0 < doc["decision_threshold"] < 1)
            self.assertEqual(set(doc["training"]["holdout_metrics"]), {"auc", "ks", "gini", "brier", "log_loss"})
            self.assertEqual(doc["training"]["date"], pipeline.artifact_date())
        booster = self.docs["xgboost/1.0.0.json"]["model"]["booster"]
        self.assertEqual(booster["learner"]["objective"]["name"], "binary:logistic")
        self.assertEqual(int(booster["learner"]["learner_model_param"]["num_feature"]),
                         len(self.docs["xgboost/1.0.0.json"]["columns"]))
        gbm = self.docs["gradient_boosting/1.0.0.json"]["model"]
        self.assertEqual(len(gbm["trees"]), 15)

    def test_reference_set(self):
        kinds = self.ref["kinds"]
        self.assertEqual(len(kinds), len(self.ref["loans"]))
        self.assertEqual(kinds.count("holdout"), 2_000)
        # One probe per distinct split point of a plain numeric field, at most 40 (15 shallow trees have fewer).
        for family in ("xgboost", "gradient_boosting"):
            doc = self.docs[f"{family}/1.0.0.json"]
            points = reference.split_points(family, doc["model"], doc["columns"])
            self.assertEqual(kinds.count(f"threshold_probe_{family}"), min(40, len(points)), family)
            self.assertGreater(len(points), 20, family)
        self.assertTrue(any(None in loan.values() for loan in self.ref["loans"]))
        self.assertTrue(any(loan.get("credit_score") == 9999 for loan in self.ref["loans"]))
        for name, pred in self.ref["models"].items():
            self.assertEqual(len(pred["probability"]), len(kinds), name)
            p, m = np.array(pred["probability"]), np.array(pred["margin"])
            self.assertTrue(np.allclose(p, 1 / (1 + np.exp(-m)), atol=1e-6), name)

    def test_probes_sit_on_thresholds(self):
        doc = self.docs["gradient_boosting/1.0.0.json"]
        thresholds = {(doc["columns"][j]["field"], thr) for t in doc["model"]["trees"]
                      for j, thr, left in zip(t["feature"], t["threshold"], t["children_left"]) if left != -1}
        probes = [loan for loan, k in zip(self.ref["loans"], self.ref["kinds"])
                  if k == "threshold_probe_gradient_boosting"]
        for loan in probes:
            self.assertTrue(any(loan[field] == thr for field, thr in thresholds))

    def test_exported_parameters_reproduce_the_libraries(self):
        loans = self.ref["loans"]
        gbm = self.docs["gradient_boosting/1.0.0.json"]
        X = encode(gbm["fields"], gbm["columns"], loans)
        np.testing.assert_array_equal(export.gbm_margins(gbm["model"], X), self.ref["models"]["gradient_boosting/1.0.0"]["margin"])
        xgb_doc = self.docs["xgboost/1.0.0.json"]
        import xgboost as xgb
        booster = export.booster_from_document(xgb_doc["model"]["booster"])
        X = encode(xgb_doc["fields"], xgb_doc["columns"], loans)
        margin = booster.predict(xgb.DMatrix(X, missing=np.nan), output_margin=True)
        np.testing.assert_array_equal(margin.astype(float), self.ref["models"]["xgboost/1.0.0"]["margin"])
        for name in ("logistic_regression", "lda"):
            doc = self.docs[f"{name}/1.0.0.json"]
            X = encode(doc["fields"], doc["columns"], loans)
            coef, intercept = export.linear_coefficients(doc["model"])
            m = X @ coef + intercept
            np.testing.assert_allclose(m, self.ref["models"][f"{name}/1.0.0"]["margin"], rtol=0, atol=1e-12)

    def test_lda_carries_its_parameters(self):
        """LDA is written as class means, pooled covariance and priors; the discriminant derived from them is
        scikit-learn's coef_ / intercept_ (recorded in the reference set) within LDA_TOLERANCE."""
        doc = self.docs["lda/1.0.0.json"]
        section, c = doc["model"], len(doc["columns"])
        self.assertEqual(set(section), {"means", "covariance", "priors", "reference"})
        self.assertEqual(np.array(section["means"]).shape, (2, c))
        sigma = np.array(section["covariance"])
        self.assertEqual(sigma.shape, (c, c))
        np.testing.assert_array_equal(sigma, sigma.T)
        self.assertAlmostEqual(sum(section["priors"]), 1, places=12)
        ref = self.ref["models"]["lda/1.0.0"]
        coef, intercept = export.lda_discriminant(section)
        self.assertLessEqual(np.max(np.abs(coef - ref["coef"])) / np.max(np.abs(ref["coef"])), export.LDA_TOLERANCE)
        self.assertLessEqual(abs(intercept - ref["intercept"]) / (1 + abs(ref["intercept"])), export.LDA_TOLERANCE)
        lr = self.ref["models"]["logistic_regression/1.0.0"]
        self.assertEqual(lr["coef"], self.docs["logistic_regression/1.0.0.json"]["model"]["coefficients"])

    def test_one_family_list(self):
        from scripts.loanmodel import families, training
        firsts = [family for _name, family, version, _params in training.MODELS if version == "1.0.0"]
        self.assertEqual(firsts, list(families.FAMILIES))
        self.assertEqual(set(families.LINEAR) | set(families.TREES), set(families.FAMILIES))

    def test_explanation_fields(self):
        """The optional fields explanations need: linear column means, GBM node covers, XGBoost's own
        contributions for every reference row (one per column plus the bias, summing to the margin)."""
        loans = self.ref["loans"]
        for name in ("logistic_regression", "lda"):
            doc = self.docs[f"{name}/1.0.0.json"]
            self.assertEqual(len(doc["model"]["reference"]), len(doc["columns"]))
            # One-hot and is_missing columns: their mean is a share in [0, 1].
            for c, mean in zip(doc["columns"], doc["model"]["reference"]):
                if c["op"] != "numeric":
                    self.assertTrue(0 <= mean <= 1, c["name"])
                else:
                    self.assertAlmostEqual(mean, 0, places=9)  # standardised with the training mean
        for t in self.docs["gradient_boosting/1.0.0.json"]["model"]["trees"]:
            cover, left, right = (np.array(t[k]) for k in ("cover", "children_left", "children_right"))
            self.assertEqual(len(cover), len(left))
            inner = left != -1
            np.testing.assert_array_equal(cover[left[inner]] + cover[right[inner]], cover[inner])
        contrib = self.docs["reference/contributions.json"]
        self.assertEqual(contrib["rows"], len(loans))
        xgb_doc = self.docs["xgboost/1.0.0.json"]
        self.assertEqual(contrib["models"]["xgboost/1.0.0"]["columns"], [c["name"] for c in xgb_doc["columns"]] + ["bias"])
        values = np.array(contrib["models"]["xgboost/1.0.0"]["contributions"])
        self.assertEqual(values.shape, (len(loans), len(xgb_doc["columns"]) + 1))
        np.testing.assert_allclose(values.sum(axis=1), self.ref["models"]["xgboost/1.0.0"]["margin"], rtol=0, atol=1e-4)
        # Written as the shortest spelling of XGBoost's float32 values: re-spelling the float32 changes nothing.
        f32 = values.astype(np.float32)
        self.assertEqual([float(str(v)) for v in f32.ravel()], values.ravel().tolist())

    def test_verification_catches_a_wrong_export(self):
        gbm = self.docs["gradient_boosting/1.0.0.json"]
        X = encode(gbm["fields"], gbm["columns"], self.ref["loans"])
        tampered = copy.deepcopy(gbm["model"])
        tampered["trees"][0]["value"] = [v * 1.000001 for v in tampered["trees"][0]["value"]]

        class Library:
            def decision_function(self, X):
                return export.gbm_margins(gbm["model"], X)

        export.verify("gradient_boosting", gbm["model"], Library(), X)
        with self.assertRaises(AssertionError):
            export.verify("gradient_boosting", tampered, Library(), X)
        bad_cover = copy.deepcopy(gbm["model"])
        bad_cover["trees"][3]["cover"][0] += 1
        with self.assertRaisesRegex(AssertionError, "tree 3: children's covers"):
            export.verify("gradient_boosting", bad_cover, Library(), X)

    def test_same_seed_same_bytes(self):
        again = os.path.join(self.tmp.name, "b")
        run_small(again)
        self.assertEqual(digests(self.out), digests(again))

    def test_native_benchmark(self):
        dump = os.path.join(self.tmp.name, "rows.f64")
        buf = io.StringIO()
        with redirect_stdout(buf):
            bench_xgboost_native.main(["--artifact", os.path.join(self.out, "xgboost", "1.0.0.json"), "--rows", "300",
                                       "--repeats", "1", "--single-calls", "20", "--dump-rows", dump,
                                       "--contribs-rows", "50", "--contribs-repeats", "1"])
        result = json.loads(buf.getvalue().strip().splitlines()[-1])
        self.assertEqual(set(result), {"rows", "batch_us_per_row_inplace", "batch_us_per_row_dmatrix",
                                       "single_row_us_median", "contribs_rows", "contribs_us_per_row",
                                       "xgboost_version"})
        self.assertEqual(result["contribs_rows"], 50)
        self.assertGreater(result["contribs_us_per_row"], 0)
        columns = len(self.docs["xgboost/1.0.0.json"]["columns"])
        self.assertEqual(os.path.getsize(dump), 300 * columns * 8)


if __name__ == "__main__":
    unittest.main()


class FreddiePipelineTest(unittest.TestCase):
    def test_trains_on_freddie_files(self):
        from scripts.loanmodel.generate import generate
        from scripts.loanmodel.tape import write_tape

        loans = generate(4_000, 21)
        with tempfile.TemporaryDirectory() as d:
            orig, perf = os.path.join(d, "sample_orig_2005.txt"), os.path.join(d, "sample_svcg_2005.txt")
            with open(orig, "w") as f:
                write_tape(f, [loans], "freddie")
            # Histories: defaulters reach 90+ days in month 12, the others are current for 36 months.
            with open(perf, "w") as f:
                for seq, fpd, label in zip(loans["loan_sequence_number"], loans["first_payment_date"],
                                           loans["default_36m"]):
                    start = int(fpd) // 100 * 12 + int(fpd) % 100 - 1
                    for age in range(12 if label else 36):
                        m = start + age
                        status = "3" if label and age == 11 else "0"
                        f.write(f"{seq}|{m // 12}{m % 12 + 1:02d}|1000.00|{status}|{age}|{359 - age}||N||\n")
            cfg = pipeline.Config(out=os.path.join(d, "out"), seed=3, freddie_orig=[orig],
                                  freddie_perf=[os.path.join(d, "sample_svcg_*.txt")], reference_holdout=500,
                                  probes=10, overrides=SMALL, command="test")
            with redirect_stdout(io.StringIO()):
                pipeline.run(cfg)
            with open(os.path.join(d, "out", "xgboost", "1.0.0.json")) as f:
                data = json.load(f)["training"]["data"]
        self.assertEqual(data["labelled"], 4_000)
        self.assertEqual(data["defaults"], int(loans["default_36m"].sum()))
        self.assertEqual(data["train_loans"] + data["holdout_loans"], 4_000)
