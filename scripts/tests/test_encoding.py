"""The encoder against a plain, loan-at-a-time reading of docs/ARTIFACT_FORMAT.md, and against the
encoding fixture both languages check (test/fixtures/encoding.json, scripts/encoding_fixture.py)."""

import json
import math
import os
import unittest

import numpy as np

from scripts.loanmodel import encoding
from scripts.loanmodel.encoding import EncodingError, encode
from scripts.loanmodel.generate import generate
from scripts.loanmodel.reference import loan_records
from scripts.loanmodel.contract import MODEL_NAME, MODEL_VERSION, ROOT
from scripts.loanmodel.schema import FIELDS


def spec_row(fields, columns, loan):
    """One loan, one column at a time, as the format document words it."""
    state = {}
    for f in fields:
        v = loan.get(f["name"])
        missing = v is None or v in f["missing_values"]
        if not missing and f["kind"] == "categorical" and v not in f["levels"]:
            raise EncodingError(f["name"], "unknown code")
        state[f["name"]] = (missing, v)
    row = []
    for c in columns:
        missing, v = state[c["field"]]
        if c["op"] == "is_missing":
            row.append(1.0 if missing else 0.0)
            continue
        if not missing and c.get("derive") == "year":
            v = math.floor(v / 100)
        if c["op"] == "one_hot":
            row.append(1.0 if not missing and v == c["level"] else 0.0)
            continue
        x = c.get("impute", math.nan) if missing else float(v)
        if "center" in c:
            x = (x - c["center"]) / c["scale"]
        row.append(x)
    return row


class EncoderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.train = generate(20_000, 3)
        cls.loans = loan_records(generate(3_000, 4), np.random.default_rng(0))
        cls.layouts = {
            "xgboost": encoding.tree_columns(cls.train, impute=False),
            "gradient_boosting": encoding.tree_columns(cls.train, impute=True),
            "linear": encoding.linear_columns(cls.train),
        }

    def test_matches_the_specification_bit_for_bit(self):
        for name, columns in self.layouts.items():
            got = encode(FIELDS, columns, self.loans)
            want = np.array([spec_row(FIELDS, columns, loan) for loan in self.loans])
            # Same bits, NaN where NaN.
            self.assertTrue(np.array_equal(got.view(np.int64), want.view(np.int64)), name)

    def test_dataframe_and_records_agree(self):
        df = generate(2_000, 5)
        for columns in self.layouts.values():
            a = encode(FIELDS, columns, df)
            b = encode(FIELDS, columns, loan_records(df, np.random.default_rng(1)))
            self.assertTrue(np.array_equal(a, b, equal_nan=True))

    def test_null_sentinel_and_absent_are_the_same(self):
        base = dict(self.loans[0])
        null = {**base, "credit_score": None, "occupancy_status": None}
        sentinel = {**base, "credit_score": 9999, "occupancy_status": "9"}
        absent = {k: v for k, v in base.items() if k not in ("credit_score", "occupancy_status")}
        for columns in self.layouts.values():
            X = encode(FIELDS, columns, [null, sentinel, absent])
            self.assertTrue(np.array_equal(X[0], X[1], equal_nan=True))
            self.assertTrue(np.array_equal(X[0], X[2], equal_nan=True))

    def test_layouts(self):
        xgb = self.layouts["xgboost"]
        self.assertFalse(any("impute" in c or c["op"] == "is_missing" for c in xgb))
        self.assertEqual(sum(c["field"] == "property_state" for c in xgb), 12)
        gbm = self.layouts["gradient_boosting"]
        self.assertTrue(all("impute" in c for c in gbm if c["op"] == "numeric"))
        self.assertIn("dti_missing", [c["name"] for c in gbm])
        lin = self.layouts["linear"]
        self.assertNotIn("occupancy_status=P", [c["name"] for c in lin])  # the reference level
        self.assertFalse(any(c["op"] == "numeric" and c["field"] == "first_payment_date" for c in lin))
        self.assertTrue(all("center" in c and "impute" in c for c in lin if c["op"] == "numeric"))
        X = encode(FIELDS, lin, self.train)
        numeric = [j for j, c in enumerate(lin) if c["op"] == "numeric"]
        self.assertTrue(np.allclose(X[:, numeric].mean(axis=0), 0, atol=1e-9))
        self.assertTrue(np.allclose(X[:, numeric].std(axis=0), 1))

    def test_operation_order(self):
        fields = [f for f in FIELDS if f["name"] in ("dti", "first_payment_date")]
        columns = [{"op": "numeric", "name": "d", "field": "dti", "impute": 30.0, "center": 33.0, "scale": 4.0},
                   {"op": "numeric", "name": "y", "field": "first_payment_date", "derive": "year", "impute": 2004.0},
                   {"op": "one_hot", "name": "y=2007", "field": "first_payment_date", "derive": "year", "level": 2007}]
        X = encode(fields, columns, [{"dti": 41, "first_payment_date": 200712}, {"dti": 999}])
        self.assertEqual(X[0].tolist(), [2.0, 2007.0, 1.0])
        self.assertEqual(X[1].tolist(), [-0.75, 2004.0, 0.0])

    def test_invalid_values_are_refused(self):
        columns = self.layouts["xgboost"]
        for field, value in (("channel", "Z"), ("credit_score", "700"), ("property_state", "XX"),
                             ("dti", True), ("ltv", float("inf"))):
            with self.assertRaisesRegex(EncodingError, field):
                encode(FIELDS, columns, [{**self.loans[0], field: value}])


class EncodingFixtureTest(unittest.TestCase):
    """The Python side of the contract's encoding fixture (test/runtime/contract.test.ts is the other): each
    shipped artifact's feature rows of the edge-case loans, column by column, so a drift names the column."""

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(ROOT, "test", "fixtures", "encoding.json"), encoding="utf-8") as f:
            cls.fixture = json.load(f)

    def test_every_shipped_artifact_is_in_the_fixture(self):
        root = os.path.join(ROOT, "model-artifacts")
        shipped = sorted(os.path.relpath(os.path.join(d, n), root)[:-5] for d, _, files in os.walk(root)
                         # reference/ is not a model folder (its out-of-time models are not served)
                         if os.path.relpath(d, root).split(os.sep)[0] != "reference"
                         for n in files if n.count(".") == 3 and n.endswith(".json"))
        self.assertEqual(sorted(self.fixture["artifacts"]), shipped)

    def test_rows_column_by_column(self):
        loans = [item["loan"] for item in self.fixture["loans"]]
        for key, expected in self.fixture["artifacts"].items():
            with open(os.path.join(ROOT, "model-artifacts", f"{key}.json"), encoding="utf-8") as f:
                doc = json.load(f)
            self.assertEqual([c["name"] for c in doc["columns"]], expected["columns"], key)
            X = encode(doc["fields"], doc["columns"], loans)
            drifts = []
            for i, item in enumerate(self.fixture["loans"]):
                for j, column in enumerate(expected["columns"]):
                    want = math.nan if expected["rows"][i][j] is None else expected["rows"][i][j]
                    got = float(X[i, j])
                    same = (math.isnan(got) and math.isnan(want)) or (
                        got == want and math.copysign(1, got) == math.copysign(1, want))
                    if not same:
                        drifts.append(f"{key}, loan {item['case']!r}, column {column}: Python {got!r}, fixture {want!r}")
            self.assertEqual(drifts, [], f"{len(drifts)} cells differ; first: {drifts[:3]}")

    def test_name_and_version_patterns(self):
        for case in self.fixture["names"]:
            self.assertEqual(bool(MODEL_NAME.match(case["text"])), case["valid"], repr(case["text"]))
        for case in self.fixture["versions"]:
            self.assertEqual(bool(MODEL_VERSION.match(case["text"])), case["valid"], repr(case["text"]))


if __name__ == "__main__":
    unittest.main()
