"""The synthetic tape: determinism, calibration to the public figures, risk structure, tape formats."""

import io
import json
import os
import tempfile
import unittest

import numpy as np
import pandas as pd

from scripts.loanmodel import freddie, generate, metrics
from scripts.loanmodel.schema import FIELD_BY_NAME, LABEL, RECORD_FIELDS
from scripts.loanmodel.tape import read_csv_tape, write_tape


class GeneratorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.df = generate.generate(150_000, 20240501)
        cls.fig = metrics.data_figures(cls.df)

    def test_deterministic_and_prefix_stable(self):
        a = generate.generate(60_000, 9)  # crosses a block boundary
        b = generate.generate(1_000, 9)
        pd.testing.assert_frame_equal(a.iloc[:1_000], b)
        pd.testing.assert_frame_equal(a, generate.generate(60_000, 9))
        self.assertFalse(a.iloc[:1_000].equals(generate.generate(1_000, 10)))

    def test_calibration(self):
        f = self.fig
        self.assertTrue(0.81 <= f["fico_above_660"] <= 0.87, f["fico_above_660"])
        self.assertTrue(0.035 <= f["fico_below_620"] <= 0.065, f["fico_below_620"])
        self.assertTrue(0.79 <= f["ltv_at_most_80"] <= 0.85, f["ltv_at_most_80"])
        self.assertTrue(0.07 <= f["ltv_at_least_90"] <= 0.11, f["ltv_at_least_90"])
        self.assertTrue(0.01 <= f["default_rate"] <= 0.04, f["default_rate"])
        self.assertEqual(f["cltv_at_least_ltv"], 1.0)
        self.assertGreater(f["mi_positive_when_ltv_above_80"], 0.9)
        self.assertLess(f["mi_positive_when_ltv_at_most_80"], 0.01)
        self.assertTrue(0.001 <= f["missing_rate"]["credit_score"] <= 0.003)
        self.assertTrue(0.01 <= f["missing_rate"]["dti"] <= 0.03)

    def test_risk_structure(self):
        f = self.fig
        by_fico = [v["default_rate"] for v in f["default_rate_by_fico"].values()]
        by_ltv = [v["default_rate"] for v in f["default_rate_by_ltv"].values()]
        by_dti = [v["default_rate"] for v in f["default_rate_by_dti"].values()]
        for rates in (by_fico[::-1], by_ltv, by_dti):
            self.assertEqual(rates, sorted(rates))
        vintage = f["default_rate_by_vintage"]
        self.assertGreater(vintage["2007"]["default_rate"], 3 * vintage["2003"]["default_rate"])
        region = f["default_rate_2006_2007_by_region"]
        self.assertGreater(region["sand states CA/FL/NV/AZ"]["default_rate"], 2 * region["other states"]["default_rate"])
        self.assertGreater(region["MI/OH"]["default_rate"], 1.5 * region["other states"]["default_rate"])
        self.assertGreater(f["default_rate_layered_fico_lt_660_cltv_gt_90_dti_gt_45"], 10 * f["default_rate"])

    def test_missing_values_in_both_spellings(self):
        cs = self.df["credit_score"]
        self.assertGreater((cs == 9999).sum(), 0)
        self.assertGreater(cs.isna().sum(), 0)
        self.assertGreater(self.df["occupancy_status"].isna().sum() + (self.df["channel"] == "9").sum(), 0)

    def test_csv_round_trip(self):
        df = self.df.iloc[:3000]
        buf = io.StringIO()
        write_tape(buf, [df.iloc[:1000], df.iloc[1000:]], "csv")
        self.assertEqual(buf.getvalue().splitlines()[0], ",".join(RECORD_FIELDS))
        back = read_csv_tape(io.StringIO(buf.getvalue()))
        for name in RECORD_FIELDS:
            if name in FIELD_BY_NAME and FIELD_BY_NAME[name]["kind"] == "numeric":
                np.testing.assert_array_equal(back[name].to_numpy(float), df[name].to_numpy(float), name)
            else:
                self.assertEqual(back[name].tolist(), df[name].tolist(), name)

    def test_json_tape(self):
        buf = io.StringIO()
        write_tape(buf, [self.df.iloc[:50], self.df.iloc[50:80]], "json", with_label=True)
        loans = json.loads(buf.getvalue())["loans"]
        self.assertEqual(len(loans), 80)
        self.assertEqual(list(loans[0]), RECORD_FIELDS + [LABEL])
        self.assertIsInstance(loans[0]["credit_score"], (int, type(None)))
        buf = io.StringIO()
        write_tape(buf, [self.df.iloc[:5]], "json")
        self.assertNotIn(LABEL, json.loads(buf.getvalue())["loans"][0])

    def test_freddie_tape_reads_back_with_the_loader(self):
        df = self.df.iloc[:5000]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "orig.txt")
            with open(path, "w") as f:
                write_tape(f, [df], "freddie")
            with open(path) as f:
                self.assertEqual(len(f.readline().rstrip("\n").split("|")), 32)
            back = freddie.read_origination([path])
        for name, field in FIELD_BY_NAME.items():
            if field["kind"] == "numeric":
                want = df[name].where(~df[name].isin(field["missing_values"])).to_numpy(float)
                np.testing.assert_array_equal(back[name].to_numpy(float), want, name)
            else:
                want = df[name].where(~df[name].isin(field["missing_values"]), None)
                self.assertEqual(back[name].tolist(), want.tolist(), name)

    def test_cli(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "tape.csv")
            self.assertEqual(generate.main(["--n", "120", "--seed", "7", "--out", out, "--with-label"]), 0)
            back = read_csv_tape(out)
            self.assertEqual(len(back), 120)
            self.assertEqual(back[LABEL].astype(int).tolist(), generate.generate(120, 7)[LABEL].tolist())


if __name__ == "__main__":
    unittest.main()
