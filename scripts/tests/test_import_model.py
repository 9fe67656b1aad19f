"""scripts/import_model.py: every supported kind round trips through the service's runtime (the library
is the oracle on every sample row), what is refused is refused with a message, and the check fails when
the artifact does not match the model."""

import copy
import copyreg
import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
import types
import unittest
import warnings
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock

import numpy as np
import pandas as pd
import sklearn
import xgboost as xgb
from scipy.special import expit
from sklearn.datasets import load_breast_cancer
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from scripts import byom_example, import_model
from scripts.import_model import version_tuple
from scripts.loanmodel import fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "byom")
OLD_XGBOOST = version_tuple(xgb.__version__) < (3, 1, 0)


def write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join("" if np.isnan(v) else repr(float(v)) for v in r) + "\n")


def importer(*argv):
    """Runs the importer in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = import_model.main(list(argv), out=out)
        except SystemExit as e:  # argparse
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def dump_json(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


class ImportModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        data = load_breast_cancer(as_frame=True)
        X, y = data.data.astype(np.float64), data.target.to_numpy()
        cls.features = list(X.columns)
        cls.X, cls.y = X, y
        rng = np.random.default_rng(7)
        sample = X.iloc[rng.choice(len(X), 80, replace=False)].to_numpy()
        cls.sample = os.path.join(d, "sample.csv")  # complete rows
        write_csv(cls.sample, cls.features, sample)
        holes = sample.copy()
        holes[rng.random(holes.shape) < 0.15] = np.nan
        holes[0, :] = np.nan
        cls.sample_missing = os.path.join(d, "sample_missing.csv")
        write_csv(cls.sample_missing, cls.features, holes)
        cls.background = os.path.join(d, "background.csv")
        write_csv(cls.background, cls.features, X.to_numpy()[:200])

        # XGBoost 1.7 document, base_score 0.3 (so that reading it as 0.5 would show), trained with NaN.
        Xm = X.mask(rng.random(X.shape) < 0.05)
        params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 1,
                  "base_score": 0.3}
        cls.booster = xgb.train(params, xgb.DMatrix(Xm, label=y, missing=np.nan), num_boost_round=12)
        cls.xgb17 = os.path.join(d, "xgb17.json")
        cls.booster.save_model(cls.xgb17)
        cls.doc17 = read_json(cls.xgb17)

        def save(name, model):
            path = os.path.join(d, name + ".pkl")
            with open(path, "wb") as f:
                pickle.dump(model, f)
            return path

        Xn = X.to_numpy()
        y3 = np.digitize(X["mean radius"], np.quantile(X["mean radius"], [1 / 3, 2 / 3]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # models to refuse only have to exist
            cls.pkl = cls.models(save, X, Xn, y, y3)

    @staticmethod
    def models(save, X, Xn, y, y3):
        return {
            "lr": save("lr", LogisticRegression(max_iter=10000).fit(X, y)),
            "lr_numpy": save("lr_numpy", LogisticRegression(max_iter=10000).fit(Xn, y)),
            "lr_multinomial": save("lr_mn", LogisticRegression(max_iter=10000, multi_class="multinomial").fit(X, y)),
            "lr_pipeline": save("lr_pipe", make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)),
            "lda": save("lda", LinearDiscriminantAnalysis().fit(X, y)),
            "lda_pipeline": save("lda_pipe", make_pipeline(StandardScaler(), LinearDiscriminantAnalysis()).fit(X, y)),
            "lr_pipeline_std_only": save("lr_pipe_std", make_pipeline(StandardScaler(with_mean=False),
                                                                      LogisticRegression()).fit(X, y)),
            "gbm": save("gbm", GradientBoostingClassifier(n_estimators=20, max_depth=3, subsample=0.8,
                                                          random_state=0).fit(X, y)),
            "gbm_zero": save("gbm_zero", GradientBoostingClassifier(n_estimators=10, init="zero",
                                                                    random_state=0).fit(X, y)),
            # refused
            "lr_3": save("lr_3", LogisticRegression(max_iter=10000).fit(X, y3)),
            "gbm_3": save("gbm_3", GradientBoostingClassifier(n_estimators=3, random_state=0).fit(X, y3)),
            "gbm_exp": save("gbm_exp", GradientBoostingClassifier(n_estimators=3, loss="exponential",
                                                                  random_state=0).fit(X, y)),
            "gbm_init": save("gbm_init", GradientBoostingClassifier(n_estimators=3, init=DummyClassifier(
                strategy="prior"), random_state=0).fit(X, y)),
            "minmax": save("minmax", make_pipeline(MinMaxScaler(), LogisticRegression()).fit(X, y)),
            "scaled_gbm": save("scaled_gbm", make_pipeline(StandardScaler(), GradientBoostingClassifier(
                n_estimators=3, random_state=0)).fit(X, y)),
            "forest": save("forest", RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)),
            "xgb_classifier": save("xgb_classifier", xgb.XGBClassifier(n_estimators=3, nthread=1).fit(X, y)),
        }

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def out_dir(self):
        return tempfile.mkdtemp(dir=self.dir)

    def xgb_doc(self, name, doc):
        path = os.path.join(self.dir, name)
        dump_json(path, doc)
        return path

    def assert_imported(self, argv, name="m", family=None, sample=None):
        out = self.out_dir()
        sample = sample or self.sample
        rc, stdout, stderr = importer(*argv, "--name", name, "--out", out, "--sample", sample)
        self.assertEqual(rc, 0, stdout + stderr)
        self.assertIn("max |reference − service|", stdout)
        path = os.path.join(out, name, "1.0.0.json")
        doc = read_json(path)
        self.assertEqual(doc["inputs"], "features")
        self.assertEqual((doc["format"], doc["name"], doc["version"]), ("loan-default-model/1", name, "1.0.0"))
        if family:
            self.assertEqual(doc["family"], family)
        self.assertEqual([f["name"] for f in doc["fields"]], self.features)
        self.assertEqual(doc["fields"][0], {"name": "mean radius", "kind": "numeric", "missing_values": []})
        self.assertEqual(doc["columns"][0], {"name": "mean radius", "field": "mean radius", "op": "numeric"})
        self.assertEqual(os.listdir(os.path.join(out, name)), ["1.0.0.json"])  # no temporary file left
        return doc, stdout, path

    def assert_refused(self, argv, *fragments, name="m", sample=None):
        out = self.out_dir()
        extra = ["--sample", sample] if sample else []
        rc, stdout, stderr = importer(*argv, "--name", name, "--out", out, *extra)
        self.assertEqual(rc, 2, stdout + stderr)
        for fragment in fragments:
            self.assertIn(fragment, stderr)
        self.assertEqual(os.listdir(out), [])  # nothing written
        return stderr

    # ---------------------------------------------------------------------------------------- XGBoost

    def test_xgboost_17(self):
        doc, stdout, _ = self.assert_imported(["--xgboost", self.xgb17], family="xgboost",
                                              sample=self.sample_missing)
        self.assertEqual(doc["model"], {"booster": self.doc17})  # embedded as written
        self.assertEqual(doc["training"]["feature_names_from"], "model")
        self.assertIn("margin       max |reference − service| = 0 ", stdout)

    def layouts(self):
        """The 1.7 document rewritten as other XGBoost versions write it (what the TS runtime's tests use):
        1.x booleans for default_left; 2.x iteration_indptr, num_target, size_leaf_vector 1, 0/1; 3.1
        base_score as a vector "[3E-1]"."""
        def rewrite(style):
            doc = copy.deepcopy(self.doc17)
            learner = doc["learner"]
            model = learner["gradient_booster"]["model"]
            for t in model["trees"]:
                t["default_left"] = [bool(v) for v in t["default_left"]] if style == "1" else \
                    [1 if v else 0 for v in t["default_left"]]
                if style in ("2", "3"):
                    t["tree_param"]["size_leaf_vector"] = "1"
            if style in ("2", "3"):
                model["iteration_indptr"] = list(range(len(model["trees"]) + 1))
                learner["learner_model_param"]["num_target"] = "1"
                doc["version"] = [2, 1, 4] if style == "2" else [3, 1, 0]
            if style == "3":
                base = learner["learner_model_param"]["base_score"]
                learner["learner_model_param"]["base_score"] = f"[{base}]"
            return doc
        return {style: rewrite(style) for style in ("1", "2", "3")}

    def test_xgboost_layouts_2x_3x(self):
        for style, layout in self.layouts().items():
            with self.subTest(style=style):
                path = self.xgb_doc(f"xgb_{style}.json", layout)
                doc, stdout, _ = self.assert_imported(["--xgboost", path], family="xgboost",
                                                      sample=self.sample_missing)
                self.assertEqual(doc["model"]["booster"], layout)  # as written, whatever the layout
                if style == "3" and OLD_XGBOOST:
                    self.assertIn("reads base_score [3E-1] as 3E-1", stdout)
                    self.assertEqual(doc["model"]["booster"]["learner"]["learner_model_param"]["base_score"],
                                     "[3E-1]")

    @unittest.skipUnless(OLD_XGBOOST, "only XGBoost < 3.1 misreads the 3.1 spelling of base_score")
    def test_the_installed_xgboost_misreads_3x_base_score(self):
        # Why the importer rewrites base_score for its oracle: read as written, the model is silently wrong.
        path = self.xgb_doc("xgb_3_raw.json", self.layouts()["3"])
        d = xgb.DMatrix(self.X.to_numpy()[:20], feature_names=self.features)
        raw = xgb.Booster(model_file=path).predict(d)
        self.assertFalse(np.array_equal(raw, self.booster.predict(d)))

    def test_xgboost_ubj(self):
        path = os.path.join(self.dir, "model.ubj")
        self.booster.save_model(path)
        doc, stdout, _ = self.assert_imported(["--xgboost", path], family="xgboost", sample=self.sample_missing)
        self.assertIn("UBJSON: converted to JSON by the installed XGBoost", stdout)
        self.assertEqual(doc["model"]["booster"]["learner"]["gradient_booster"]["model"]["trees"],
                         self.doc17["learner"]["gradient_booster"]["model"]["trees"])
        if OLD_XGBOOST:
            with open(path, "rb") as f:
                raw = f.read()
            i = raw.index(b"base_score")
            head = raw[i:i + 11 + 1 + 8]  # key, 'S', 'L' + 8-byte length
            self.assertEqual(head[10:12], b"SL")
            newer = raw.replace(head + b"3E-1", head[:12] + (6).to_bytes(8, "big") + b"[3E-1]", 1)
            self.assertNotEqual(newer, raw)
            with open(path, "wb") as f:
                f.write(newer)
            self.assert_refused(["--xgboost", path], "written by XGBoost 3.1 or later", "would misread it")

    def test_xgboost_logitraw_compares_margins(self):
        params = {"objective": "binary:logitraw", "max_depth": 2, "nthread": 1, "seed": 1}
        b = xgb.train(params, xgb.DMatrix(self.X, label=self.y), num_boost_round=4)
        path = os.path.join(self.dir, "logitraw.json")
        b.save_model(path)
        _, stdout, _ = self.assert_imported(["--xgboost", path], sample=self.sample_missing)
        self.assertIn("probability  not compared", stdout)
        self.assertIn("margin       max |reference − service| = 0 ", stdout)

    def test_xgboost_without_feature_names(self):
        b = xgb.train({"objective": "binary:logistic", "max_depth": 2, "nthread": 1},
                      xgb.DMatrix(self.X.to_numpy(), label=self.y), num_boost_round=3)
        path = os.path.join(self.dir, "nameless.json")
        b.save_model(path)
        self.assert_refused(["--xgboost", path], "records no feature names", "--features")
        self.assert_refused(["--xgboost", path, "--features", "a,b,c"], "--features names 3 features, the model has 30")
        names = os.path.join(self.dir, "names.txt")
        with open(names, "w", encoding="utf-8") as f:
            f.write("\n".join(self.features) + "\n")
        doc, _, _ = self.assert_imported(["--xgboost", path, "--features-file", names], sample=self.sample_missing)
        self.assertEqual(doc["training"]["feature_names_from"], "--features-file")

    def test_xgboost_refusals(self):
        def variant(name, change):
            doc = copy.deepcopy(self.doc17)
            change(doc["learner"])
            return self.xgb_doc(name, doc)

        dart = variant("dart.json", lambda L: L["gradient_booster"].update(name="dart"))
        self.assert_refused(["--xgboost", dart], "unsupported XGBoost booster 'dart'", "only 'gbtree'")
        early = variant("early.json", lambda L: L["attributes"].update(best_iteration="4"))
        self.assert_refused(["--xgboost", early], "best_iteration=4", "booster[: 5].save_model")
        cat = variant("cat.json", lambda L: L.update(feature_types=["c"] + L["feature_types"][1:]))
        self.assert_refused(["--xgboost", cat], "categorical features")
        multi = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "nthread": 1},
                          xgb.DMatrix(self.X, label=self.y + (self.X["mean radius"] > 15)), num_boost_round=2)
        path = os.path.join(self.dir, "multi.json")
        multi.save_model(path)
        self.assert_refused(["--xgboost", path], "unsupported XGBoost objective 'multi:softprob'")
        bad = os.path.join(self.dir, "bad.json")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("{not json")
        self.assert_refused(["--xgboost", bad], "not a JSON document")
        names = ",".join(["x"] + self.features[1:])
        self.assert_refused(["--xgboost", self.xgb17, "--features", names], "disagrees with the feature names",
                            "'mean radius' in the model, 'x' in --features")

    # ------------------------------------------------------------------------------------ scikit-learn

    def test_logistic_regression(self):
        doc, stdout, _ = self.assert_imported(["--sklearn", self.pkl["lr"]], family="logistic_regression")
        self.assertNotIn("reference", doc["model"])
        self.assertIn("cannot explain", stdout)
        doc, stdout, _ = self.assert_imported(["--sklearn", self.pkl["lr"], "--background", self.background])
        np.testing.assert_allclose(doc["model"]["reference"], self.X.to_numpy()[:200].mean(axis=0), rtol=1e-14)
        self.assertEqual(doc["training"]["classes"], [0, 1])

    def test_logistic_regression_without_names(self):
        self.assert_refused(["--sklearn", self.pkl["lr_numpy"]], "records no feature names")
        self.assert_imported(["--sklearn", self.pkl["lr_numpy"], "--features", ",".join(self.features)])

    def test_logistic_regression_multinomial(self):
        doc, stdout, _ = self.assert_imported(["--sklearn", self.pkl["lr_multinomial"]])
        self.assertIn("coefficients are doubled", stdout)
        with open(self.pkl["lr_multinomial"], "rb") as f:
            est = pickle.load(f)
        self.assertEqual(doc["model"]["coefficients"], (2 * est.coef_[0]).tolist())

    def test_pipelines_fold_the_scaler(self):
        for key, family in (("lr_pipeline", "logistic_regression"), ("lda_pipeline", "lda"),
                            ("lr_pipeline_std_only", "logistic_regression")):
            with self.subTest(key=key):
                doc, stdout, _ = self.assert_imported(["--sklearn", self.pkl[key]], family=family)
                self.assertIn("StandardScaler folded", stdout)
                with open(self.pkl[key], "rb") as f:
                    pipe = pickle.load(f)
                scaler, est = pipe.steps[0][1], pipe.steps[1][1]
                # the reference is the training mean the scaler learnt; the coefficients are divided by its scale
                self.assertEqual(doc["model"]["reference"], scaler.mean_.tolist())
                self.assertEqual(doc["model"]["coefficients"], (est.coef_[0] / scaler.scale_).tolist())
                if not scaler.with_mean:  # nothing subtracted: the intercept is the estimator's
                    self.assertEqual(doc["model"]["intercept"], est.intercept_[0])
                # the folded model is the pipeline: raw rows through both give the same margins (to rounding)
                X = self.X.to_numpy()
                folded = X @ np.array(doc["model"]["coefficients"]) + doc["model"]["intercept"]
                np.testing.assert_allclose(folded, pipe.decision_function(self.X), rtol=0, atol=1e-12)

    def test_lda(self):
        doc, stdout, _ = self.assert_imported(["--sklearn", self.pkl["lda"]], family="lda")
        # with empirical priors, Σ priors · class means is the training mean
        np.testing.assert_allclose(doc["model"]["reference"], self.X.mean(axis=0), rtol=1e-12)
        self.assertIn("priors_", stdout)

    def test_gradient_boosting(self):
        for key in ("gbm", "gbm_zero"):
            with self.subTest(key=key):
                doc, stdout, _ = self.assert_imported(["--sklearn", self.pkl[key]], family="gradient_boosting")
                self.assertIn("margin       max |reference − service| = 0 ", stdout)
                self.assertTrue(all("cover" in t for t in doc["model"]["trees"]))
        self.assertEqual(doc["model"]["init_margin"], 0.0)

    def test_sklearn_refusals(self):
        p = self.pkl
        self.assert_refused(["--sklearn", p["lr_3"]], "has 3 classes: only binary")
        self.assert_refused(["--sklearn", p["gbm_3"]], "has 3 classes: only binary")
        self.assert_refused(["--sklearn", p["gbm_exp"]], "loss='exponential'")
        self.assert_refused(["--sklearn", p["gbm_init"]], "init=DummyClassifier", "only the default init")
        self.assert_refused(["--sklearn", p["minmax"]], "unsupported Pipeline(MinMaxScaler, LogisticRegression)")
        self.assert_refused(["--sklearn", p["scaled_gbm"]], "unsupported Pipeline(StandardScaler, "
                            "GradientBoostingClassifier)")
        self.assert_refused(["--sklearn", p["forest"]], "unsupported model", "RandomForestClassifier")
        self.assert_refused(["--sklearn", p["xgb_classifier"]], "XGBoost scikit-learn wrapper", "--xgboost")
        self.assert_refused(["--sklearn", p["lr"]], "has missing values", "cannot score missing values",
                            sample=self.sample_missing)
        self.assert_refused(["--sklearn", p["gbm"]], "has missing values", sample=self.sample_missing)
        self.assert_refused(["--sklearn", p["lr"], "--background", self.sample_missing], "has missing values")
        self.assert_refused(["--sklearn", p["gbm"], "--background", self.background], "--background is for linear")
        self.assert_refused(["--sklearn", self.xgb17], "cannot unpickle")

    # -------------------------------------------------------------------------------- sample and usage

    def test_sample_refusals(self):
        bad = os.path.join(self.dir, "bad_cell.csv")
        rows = self.X.to_numpy()[:3]
        write_csv(bad, self.features, rows)
        with open(bad, encoding="utf-8") as f:
            text = f.read().replace(repr(float(rows[1, 2])), "0x10", 1)
        with open(bad, "w", encoding="utf-8") as f:
            f.write(text)
        self.assert_refused(["--xgboost", self.xgb17], "data row 2, column 'mean perimeter': not a finite number",
                            sample=bad)
        short = os.path.join(self.dir, "short.csv")
        write_csv(short, self.features[1:], rows[:, 1:])
        self.assert_refused(["--xgboost", self.xgb17], "no column for feature(s) ['mean radius']", sample=short)

    def test_usage(self):
        for argv, fragment in (
                (["--xgboost", self.xgb17, "--name", "Bad-Name", "--out", self.dir], "--name 'Bad-Name'"),
                (["--xgboost", self.xgb17, "--name", "m", "--out", self.dir, "--version", "1.0"], "MAJOR.MINOR.PATCH"),
                (["--xgboost", self.xgb17, "--name", "m", "--out", self.dir, "--threshold", "1"], "must lie in (0, 1)"),
                (["--xgboost", self.xgb17, "--sklearn", self.pkl["lr"], "--name", "m", "--out", self.dir],
                 "not allowed"),
                (["--xgboost", self.xgb17, "--check", self.xgb17], "--check needs --sample")):
            with self.subTest(fragment=fragment):
                rc, _, stderr = importer(*argv)
                self.assertEqual(rc, 2)
                self.assertIn(fragment, stderr)

    def test_without_sample_warns_and_existing_versions_are_kept(self):
        out = self.out_dir()
        rc, stdout, _ = importer("--sklearn", self.pkl["gbm"], "--name", "m", "--out", out)
        self.assertEqual(rc, 0)
        self.assertIn("WARNING: no --sample: nothing was checked", stdout)
        rc, _, stderr = importer("--sklearn", self.pkl["gbm"], "--name", "m", "--out", out)
        self.assertEqual(rc, 2)
        self.assertIn("exists: a published version is never overwritten", stderr)

    # ---------------------------------------------------------------------------------- the check fails

    def test_check_fails_on_a_tampered_artifact(self):
        def tamper_xgboost(doc):  # every leaf of one tree (leaves keep their value in split_conditions)
            tree = doc["model"]["booster"]["learner"]["gradient_booster"]["model"]["trees"][3]
            for i, left in enumerate(tree["left_children"]):
                if left == -1:
                    tree["split_conditions"][i] += 1e-3

        def tamper_linear(doc):
            doc["model"]["coefficients"][0] *= 1 + 1e-6

        def tamper_gbm(doc):  # every node value of the first tree, by 1e-9
            tree = doc["model"]["trees"][0]
            tree["value"] = [v + 1e-9 for v in tree["value"]]

        cases = (("xgboost", ["--xgboost", self.xgb17], self.sample_missing, tamper_xgboost, "margin: "),
                 ("lr", ["--sklearn", self.pkl["lr_pipeline"]], self.sample, tamper_linear, "probability: "),
                 ("gbm", ["--sklearn", self.pkl["gbm"]], self.sample, tamper_gbm, "margin: "))
        for name, model, sample, tamper, what in cases:
            with self.subTest(model=name):
                _, _, path = self.assert_imported(model, sample=sample)
                rc, stdout, stderr = importer("--check", path, *model, "--sample", sample)
                self.assertEqual(rc, 0, stdout + stderr)
                self.assertIn("OK: ", stdout)
                doc = read_json(path)
                tamper(doc)
                dump_json(path, doc)
                rc, stdout, stderr = importer("--check", path, *model, "--sample", sample)
                self.assertEqual(rc, 1, stdout + stderr)
                self.assertIn("CHECK FAILED", stderr)
                self.assertIn(what, stderr)
                self.assertIn("differ by more than the tolerance", stderr)

    def test_a_failed_check_writes_nothing(self):
        build = import_model.build_artifact

        def wrong(*args):
            doc = build(*args)
            doc["model"]["intercept"] += 1e-6
            return doc

        out = self.out_dir()
        with mock.patch.object(import_model, "build_artifact", wrong):
            rc, stdout, stderr = importer("--sklearn", self.pkl["lr"], "--name", "m", "--out", out,
                                          "--sample", self.sample)
        self.assertEqual(rc, 1, stdout + stderr)
        self.assertIn("CHECK FAILED: probability", stderr)
        self.assertEqual(os.listdir(out), [])  # not even an empty folder

    def test_the_service_refusing_the_artifact_fails_the_check(self):
        build = import_model.build_artifact

        def broken(*args):
            doc = build(*args)
            doc["model"]["coefficients"].pop()
            return doc

        with mock.patch.object(import_model, "build_artifact", broken):
            rc, _, stderr = importer("--sklearn", self.pkl["lr"], "--name", "m", "--out", self.out_dir(),
                                     "--sample", self.sample)
        self.assertEqual(rc, 1)
        self.assertIn("the service's runtime refused it", stderr)
        self.assertIn("feature count mismatch", stderr)

    def test_float32_ulps(self):
        a = np.float32(0.3)
        up = np.nextafter(a, np.float32(1))
        bits = int(a.view(np.int32))
        got = import_model.float32_ulps(np.array([a, a, -a, 0.0]), np.array([a, up, a, -0.0]))
        self.assertEqual(got.tolist(), [0, 1, 2 * bits, 0])


# ------------------------------------------------------------------------------ foreign pickles (issue 17)

INSTALLED_SKLEARN = sklearn.__version__


class _ForeignPickler(pickle.Pickler):
    """Pickles fitted estimators as another scikit-learn version writes them: every estimator's state carries
    that version's `_sklearn_version` (the installed library would stamp its own), `patch` rewrites an
    estimator's state by class name, and `tree` rewrites each `Tree` state (e.g. 1.3+'s node layout)."""

    def __init__(self, f, version, patch=None, tree=None):
        super().__init__(f, protocol=pickle.HIGHEST_PROTOCOL)
        self.version, self.patch, self.tree = version, patch or {}, tree

    def reducer_override(self, obj):
        from sklearn.base import BaseEstimator
        from sklearn.tree._tree import Tree
        if isinstance(obj, BaseEstimator):
            state = dict(obj.__dict__, _sklearn_version=self.version)
            fix = self.patch.get(type(obj).__name__)
            return copyreg.__newobj__, (type(obj),), (fix(state) if fix else state)
        if isinstance(obj, Tree) and self.tree is not None:
            cls, args, state = obj.__reduce__()
            return cls, args, self.tree(state)
        return NotImplemented


def foreign_pickle(path, model, version, patch=None, tree=None):
    with open(path, "wb") as f:
        _ForeignPickler(f, version, patch, tree).dump(model)
    return path


def nodes_with_missing_go_to_left(state):
    """A Tree state as scikit-learn ≥ 1.3 writes it: the node records gain `missing_go_to_left`."""
    nodes = state["nodes"]
    wider = np.zeros(nodes.shape, dtype=nodes.dtype.descr + [("missing_go_to_left", "u1")])
    for name in nodes.dtype.names:
        wider[name] = nodes[name]
    return dict(state, nodes=wider)


class _MesonGlobal:
    """A callable that pickles as a global of the bare module `_loss`: scikit-learn 1.5+ (built with Meson)
    writes its Cython loss objects so, and no other version can import that module."""

    def __reduce__(self):
        return _meson_unpickle, ("CyHalfBinomialLoss", 0xABCDEF, None)


def _meson_unpickle(*args):
    raise AssertionError("never called")


def gbm_16_state(state):
    """GradientBoostingClassifier as 1.6 writes it: loss 'log_loss', `_loss` a HalfBinomialLoss whose Cython
    part pickles as `_loss.__pyx_unpickle_CyHalfBinomialLoss`, no `loss_`."""
    state = dict(state, loss="log_loss", _loss=_MesonGlobal())
    state.pop("loss_", None)
    return state


class ForeignModelTest(unittest.TestCase):
    """Issue 17: imports that passed their own check and then served wrong probabilities."""

    out_dir, assert_imported, assert_refused = (ImportModelTest.out_dir, ImportModelTest.assert_imported,
                                                ImportModelTest.assert_refused)
    models = ImportModelTest.models
    tearDownClass = classmethod(ImportModelTest.tearDownClass.__func__)

    @classmethod
    def setUpClass(cls):
        ImportModelTest.setUpClass.__func__(cls)
        fake = types.ModuleType("_loss")
        _meson_unpickle.__module__, _meson_unpickle.__qualname__ = "_loss", "__pyx_unpickle_CyHalfBinomialLoss"
        _meson_unpickle.__name__ = "__pyx_unpickle_CyHalfBinomialLoss"
        setattr(fake, "__pyx_unpickle_CyHalfBinomialLoss", _meson_unpickle)  # no name mangling
        sys.modules["_loss"] = fake
        try:
            X, y, d = cls.X, cls.y, cls.dir
            cls.liblinear = LogisticRegression(solver="liblinear", max_iter=10000).fit(X, y)
            cls.lr15 = foreign_pickle(os.path.join(d, "lr15.pkl"), cls.liblinear, "1.5.2",
                                      {"LogisticRegression": lambda s: dict(s, multi_class="deprecated")})
            cls.mn = LogisticRegression(max_iter=10000, multi_class="multinomial").fit(X, y)
            cls.mn15 = foreign_pickle(os.path.join(d, "mn15.pkl"), cls.mn, "1.5.2")
            cls.pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
            cls.pipe10 = foreign_pickle(os.path.join(d, "pipe10.pkl"), cls.pipe, "1.0.2")
            cls.lda = LinearDiscriminantAnalysis().fit(X, y)
            cls.lda16 = foreign_pickle(os.path.join(d, "lda16.pkl"), cls.lda, "1.6.1")
            cls.future = foreign_pickle(os.path.join(d, "lr_future.pkl"), cls.liblinear, "1.9.0")
            cls.odd = foreign_pickle(os.path.join(d, "lr_odd.pkl"), cls.liblinear, "1.4.2",
                                     {"LogisticRegression": lambda s: dict(s, multi_class="deprecated")})
            cls.gbm = GradientBoostingClassifier(n_estimators=20, max_depth=3, subsample=0.8, random_state=0).fit(X, y)
            cls.gbm16 = foreign_pickle(os.path.join(d, "gbm16.pkl"), cls.gbm, "1.6.1",
                                       {"GradientBoostingClassifier": gbm_16_state}, nodes_with_missing_go_to_left)
            cls.forest16 = foreign_pickle(os.path.join(d, "forest16.pkl"),
                                          RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y), "1.6.1",
                                          tree=nodes_with_missing_go_to_left)
        finally:
            del sys.modules["_loss"]

    def served(self, artifact, X):
        """The service's runtime on the rows of X (scripts/check-artifact.ts)."""
        csv_path = os.path.join(self.out_dir(), "rows.csv")
        write_csv(csv_path, self.features, X)
        got = import_model.run_service(artifact, csv_path)
        return np.array(got["probability"]), np.array(got["margin"])

    # 1. the link comes from the parameters and the writer's version, not from the installed library
    def test_liblinear_written_by_15_is_binary_logistic(self):
        with open(self.lr15, "rb") as f:  # what the installed library makes of it: the multinomial formula
            misread = pickle.load(f)
        X = self.X.to_numpy()[:50]
        m = self.liblinear.decision_function(X)
        self.assertFalse(np.allclose(misread.predict_proba(X)[:, 1], expit(m), atol=1e-3))
        doc, stdout, path = self.assert_imported(["--sklearn", self.lr15], family="logistic_regression")
        self.assertEqual(doc["model"]["coefficients"], self.liblinear.coef_[0].tolist())  # not doubled
        self.assertNotIn("multinomial", stdout.split("check:")[0].replace("multi_class='deprecated'", ""))
        self.assertIn("scikit-learn 1.5.2", stdout)
        self.assertIn(f"installed scikit-learn {INSTALLED_SKLEARN}", stdout)
        self.assertIn("reads this pickle differently", stdout)
        self.assertIn("reference = the writer's semantics", stdout)
        p, _ = self.served(path, X)
        np.testing.assert_allclose(p, self.liblinear.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
        self.assertEqual(doc["training"]["written_by"], "1.5.2")

    def test_multinomial_written_by_15_is_doubled(self):
        doc, stdout, path = self.assert_imported(["--sklearn", self.mn15])
        self.assertEqual(doc["model"]["coefficients"], (2 * self.mn.coef_[0]).tolist())
        p, _ = self.served(path, self.X.to_numpy()[:50])
        np.testing.assert_allclose(p, self.mn.predict_proba(self.X.to_numpy()[:50])[:, 1], rtol=0, atol=1e-12)

    def test_foreign_pipeline_and_lda(self):
        for pkl, model in ((self.pipe10, self.pipe), (self.lda16, self.lda)):
            with self.subTest(pkl=os.path.basename(pkl)):
                _, stdout, path = self.assert_imported(["--sklearn", pkl])
                self.assertIn("reference = the writer's semantics", stdout)
                X = self.X.to_numpy()[:50]
                p, m = self.served(path, X)
                np.testing.assert_allclose(p, model.predict_proba(self.X.iloc[:50])[:, 1], rtol=0, atol=1e-12)
                np.testing.assert_allclose(m, model.decision_function(self.X.iloc[:50]), rtol=0, atol=1e-11)

    def test_unknown_semantics_are_refused_naming_both_versions(self):
        self.assert_refused(["--sklearn", self.future], "scikit-learn 1.9.0", INSTALLED_SKLEARN, "run it where")
        # 'deprecated' is 1.5's default: written by 1.4 it is no value that version defines
        self.assert_refused(["--sklearn", self.odd], "multi_class='deprecated'", "scikit-learn 1.4.2",
                            INSTALLED_SKLEARN)

    # 4. pickles the installed library cannot unpickle: parameters read from the arrays
    def test_gbm_written_by_16_imports_under_the_installed_version(self):
        with open(self.gbm16, "rb") as f, self.assertRaises(Exception):
            pickle.load(f)  # the installed scikit-learn cannot read it
        doc, stdout, path = self.assert_imported(["--sklearn", self.gbm16], family="gradient_boosting")
        self.assertIn("scikit-learn 1.6.1", stdout)
        self.assertIn("cannot unpickle", stdout)
        self.assertIn("margin       max |reference − service| = 0 ", stdout)
        X = self.X.to_numpy()
        p, m = self.served(path, X)
        # the model as trained (the same parameters in the installed library): margins bit-identical
        self.assertEqual(m.tolist(), self.gbm.decision_function(X).tolist())
        np.testing.assert_allclose(p, self.gbm.predict_proba(X)[:, 1], rtol=0, atol=1e-15)
        self.assertTrue(all("missing_go_to_left" in t for t in doc["model"]["trees"]))

    def test_unreadable_pickle_names_both_versions_and_a_remedy(self):
        err = self.assert_refused(["--sklearn", self.forest16], "RandomForestClassifier")
        self.assertIn("scikit-learn 1.6.1", err)
        self.assertIn(INSTALLED_SKLEARN, err)

    # 2. XGBClassifier(missing=-999)
    def test_xgboost_missing_value_is_honoured(self):
        rng = np.random.default_rng(3)
        X = self.X.to_numpy().copy()
        X[rng.random(X.shape) < 0.14] = -999.0
        clf = xgb.XGBClassifier(n_estimators=20, max_depth=3, missing=-999, nthread=1, random_state=0)
        clf.fit(pd.DataFrame(X, columns=self.features), self.y)
        path = os.path.join(self.dir, "missing999.json")
        clf.save_model(path)
        sample = os.path.join(self.dir, "sample999.csv")
        rows = X[:120].copy()
        rows[0, :] = np.nan  # NaN is missing too, as in XGBoost
        rows[1, 0] = -999.00001  # the same float32 as -999: missing for XGBoost
        write_csv(sample, self.features, rows)
        doc, stdout, artifact = self.assert_imported(["--xgboost", path], sample=sample)
        self.assertEqual(doc["model"]["missing"], -999.0)
        self.assertIn("missing = -999", stdout)
        p, m = self.served(artifact, rows)
        expected = clf.get_booster().predict(xgb.DMatrix(rows, missing=-999.0, feature_names=self.features),
                                             output_margin=True)
        self.assertEqual(m.tolist(), expected.astype(np.float64).tolist())
        np.testing.assert_allclose(p, clf.predict_proba(pd.DataFrame(rows, columns=self.features))[:, 1], rtol=0,
                                   atol=1.2e-7)

    def test_missing_option_for_a_booster_that_does_not_record_it(self):
        rng = np.random.default_rng(4)
        X = self.X.to_numpy().copy()
        X[rng.random(X.shape) < 0.1] = -1.0
        b = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1, "seed": 1},
                      xgb.DMatrix(X, label=self.y, missing=-1.0, feature_names=self.features), num_boost_round=8)
        path = os.path.join(self.dir, "native_missing.json")
        b.save_model(path)
        sample = os.path.join(self.dir, "sample_minus1.csv")
        write_csv(sample, self.features, X[:60])
        doc, _, artifact = self.assert_imported(["--xgboost", path, "--missing", "-1"], sample=sample)
        self.assertEqual(doc["model"]["missing"], -1.0)
        _, m = self.served(artifact, X[:60])
        expected = b.predict(xgb.DMatrix(X[:60], missing=-1.0, feature_names=self.features), output_margin=True)
        self.assertEqual(m.tolist(), expected.astype(np.float64).tolist())
        recorded = os.path.join(self.dir, "recorded.json")
        doc17 = copy.deepcopy(self.doc17)
        doc17["learner"]["attributes"]["scikit_learn"] = json.dumps({"missing": -999})
        dump_json(recorded, doc17)
        self.assert_refused(["--xgboost", recorded, "--missing", "-1"], "--missing -1 disagrees", "-999")

    # 3. binary:logitraw with base_score outside (0, 1)
    def test_logitraw_base_score_outside_unit_interval(self):
        params = {"objective": "binary:logitraw", "base_score": 2.5, "max_depth": 2, "nthread": 1, "seed": 1}
        b = xgb.train(params, xgb.DMatrix(self.X, label=self.y), num_boost_round=4)
        path = os.path.join(self.dir, "logitraw25.json")
        b.save_model(path)
        _, stdout, _ = self.assert_imported(["--xgboost", path], sample=self.sample_missing)
        self.assertIn("margin       max |reference − service| = 0 ", stdout)

    # 5. sample values beyond float32 range
    def test_sample_beyond_float32_is_refused(self):
        big = os.path.join(self.dir, "big.csv")
        rows = self.X.to_numpy()[:3].copy()
        rows[1, 2] = 1e39
        write_csv(big, self.features, rows)
        self.assert_refused(["--xgboost", self.xgb17], "data row 2, column 'mean perimeter'", "float32",
                            sample=big)
        self.assert_refused(["--sklearn", self.pkl["gbm"]], "data row 2, column 'mean perimeter'", "float32",
                            sample=big)


class EntryPointsTest(unittest.TestCase):
    def test_script_module_and_npm(self):
        for cmd in ([sys.executable, "scripts/import_model.py", "--help"],
                    [sys.executable, "-m", "scripts.import_model", "--help"]):
            p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("--sample", p.stdout)
        self.assertEqual(read_json(os.path.join(ROOT, "package.json"))["scripts"]["import-model"],
                         "/usr/bin/python3 scripts/import_model.py")


class WorkedExampleTest(unittest.TestCase):
    def test_fixtures_are_what_byom_example_writes(self):
        reference = read_json(os.path.join(FIXTURES, "reference.json"))
        import sklearn
        if reference["libraries"] != {"xgboost": xgb.__version__, "scikit-learn": sklearn.__version__}:
            self.skipTest(f"fixtures written with {reference['libraries']}")
        with tempfile.TemporaryDirectory() as tmp:
            with redirect_stdout(io.StringIO()):
                byom_example.main(["--out", tmp])
            written = sorted(os.path.relpath(os.path.join(d, f), tmp) for d, _, fs in os.walk(tmp) for f in fs)
            committed = sorted(os.path.relpath(os.path.join(d, f), FIXTURES) for d, _, fs in os.walk(FIXTURES)
                               for f in fs)
            self.assertEqual(written, committed)
            for rel in written:
                with open(os.path.join(tmp, rel), "rb") as a, open(os.path.join(FIXTURES, rel), "rb") as b:
                    mine, theirs = a.read(), b.read()
                stale = f"{rel} differs: run /usr/bin/python3 scripts/byom_example.py"
                if rel.endswith(".json"):
                    # The fit's last bits depend on the CPU's BLAS and SIMD kernels (scripts/loanmodel/fixtures.py),
                    # and so does the sha256 of the fitted model's file that an artifact records: compared apart.
                    mine_doc, theirs_doc = json.loads(mine), json.loads(theirs)
                    hashes = [d.get("training", {}).pop("source_sha256", None) for d in (mine_doc, theirs_doc)]
                    self.assertEqual(hashes[0] is None, hashes[1] is None, stale)
                    self.assertTrue(fixtures.same_json(json.dumps(mine_doc), json.dumps(theirs_doc)), stale)
                else:
                    self.assertEqual(mine, theirs, stale)
        total = sum(os.path.getsize(os.path.join(FIXTURES, rel)) for rel in committed)
        self.assertLess(total, 300 * 1024)
        self.assertEqual(len(reference["kinds"]), reference["rows"])
        self.assertIsInstance(pd.read_csv(os.path.join(FIXTURES, reference["sample"])), pd.DataFrame)


if __name__ == "__main__":
    unittest.main()
