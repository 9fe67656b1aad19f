"""The simulated loan history: Freddie Mac performance layout, accounting, determinism, the loader's labels."""

import hashlib
import os
import tempfile
import unittest

import numpy as np
import pandas as pd

from scripts.loanmodel import calibrate, freddie, generate, history
from scripts.loanmodel.schema import ID_FIELD, LABEL

N = 2_500


def _read(path):
    return pd.read_csv(path, sep="|", header=None, dtype=str, keep_default_na=False)


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _month(p):
    p = int(p)
    return (p // 100) * 12 + p % 100 - 1


class HistoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        (cls.orig, cls.perf), cls.rows = history.write_history(os.path.join(cls.tmp.name, "full"), N, 3)
        cls.p = _read(cls.perf)
        cls.o = _read(cls.orig)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_layout(self):
        p = self.p
        self.assertEqual(p.shape, (self.rows, 32))
        self.assertEqual(len(history.PERFORMANCE_FIELDS), 32)
        self.assertEqual(history.PERFORMANCE_FIELDS[8], "zero_balance_code")
        self.assertEqual(history.PERFORMANCE_FIELDS[26], "zero_balance_removal_upb")
        status = p[3]
        self.assertTrue((status.str.fullmatch(r"\d+") | (status == "RA")).all())
        self.assertTrue(p[8].isin(["", "01", "02", "03", "09"]).all())
        self.assertTrue(set(p[8]) >= {"", "01", "09"})
        for col in (1, 12):
            self.assertTrue(p[col].str.fullmatch(r"(199\d|20[012]\d)(0[1-9]|1[0-2])").all(), col)
        zb = p[8] != ""
        self.assertTrue((p.loc[zb, 9] == p.loc[zb, 1]).all())  # zero balance date = that period
        self.assertTrue((p.loc[~zb, 9] == "").all())
        self.assertTrue((status[p[8] == "09"] == "RA").all())
        # Remaining months = term − age; the origination file is the loader's layout.
        term = dict(zip(self.o[19], self.o[21].astype(int)))
        np.testing.assert_array_equal(p[5].astype(int), p[0].map(term) - p[4].astype(int))
        self.assertEqual(self.o.shape, (N, 32))

    def test_one_record_per_month_nothing_after_zero_balance(self):
        p = self.p
        m = p[1].map(_month)
        first = self.o.set_index(19)[1].map(_month)
        age = p[4].astype(int)
        np.testing.assert_array_equal(m - p[0].map(first), age - 1)  # age 1 = first payment month
        g = pd.DataFrame({"loan": p[0], "age": age, "zb": p[8] != ""}).groupby("loan", sort=False)
        self.assertTrue((g["age"].diff().dropna() == 1).all())  # consecutive months, loan-major
        self.assertTrue((g["zb"].sum() <= 1).all())  # a loan ends once
        last = g.tail(1)
        ended = set(p.loc[p[8] != "", 0])
        self.assertEqual(set(last.loc[last["zb"], "loan"]), ended)  # the zero-balance row is the last
        self.assertTrue((p.loc[p[8] != "", 2] == "0.00").all())

    def test_upb_amortises_to_the_cent(self):
        p = self.p
        o = self.o.set_index(19)
        checked = 0
        for loan, h in p.groupby(0, sort=False):
            if (h[3] != "0").any() or checked >= 200:
                continue
            checked += 1
            bal = int(round(float(o.loc[loan, 10]) * 100))
            rate = int(round(float(o.loc[loan, 12]) * 1000))
            n = int(o.loc[loan, 21])
            r = rate / 1_200_000
            pmt = int(np.rint(bal * r / (1 - (1 + r) ** -n)))
            for upb, zb in zip(h[2], h[8]):
                interest = (bal * rate + 600_000) // 1_200_000
                bal -= min(max(pmt - interest, 0), bal)
                if zb:
                    break
                self.assertEqual(upb, f"{bal // 100}.{bal % 100:02d}", loan)
        self.assertGreater(checked, 50)

    def test_loss_identity(self):
        p = self.p[self.p[8].isin(["02", "03", "09"])]
        self.assertGreater(len(p), 3)
        c = lambda i: (p[i].astype(float) * 100).round().astype(np.int64)  # noqa: E731
        # expenses = legal + maintenance + taxes and insurance + miscellaneous
        np.testing.assert_array_equal(c(16), c(17) + c(18) + c(19) + c(20))
        # actual loss = removal UPB + delinquent accrued interest + expenses − net sale proceeds − MI − non-MI
        np.testing.assert_array_equal(c(21), c(26) + c(27) + c(16) - c(14) - c(13) - c(15))
        self.assertTrue((c(13) >= 0).all() and (c(14) > 0).all())

    def test_loader_labels_agree_with_a_direct_count(self):
        loans, stats = freddie.load([self.orig], [self.perf], chunk_rows=50_000)
        self.assertEqual(stats["originations"], N)
        self.assertEqual(stats["without_performance"], 0)
        p = self.p
        first = self.o.set_index(19)[1].map(_month)
        in_window = p[1].map(_month) <= p[0].map(first) + 35
        st = pd.to_numeric(p[3], errors="coerce")
        event = in_window & ((st >= 3) | (p[3] == "RA") | p[8].isin(["02", "03", "09"]))
        defaulted = set(p.loc[event, 0])
        label = dict(zip(loans[ID_FIELD], loans[LABEL]))
        self.assertEqual({k for k, v in label.items() if v == 1}, defaulted)
        self.assertGreater(len(defaulted), 0)

    def test_deterministic_prefix_and_horizon(self):
        d = self.tmp.name
        (o2, p2), _ = history.write_history(os.path.join(d, "again"), N, 3)
        self.assertEqual((_sha(o2), _sha(p2)), (_sha(self.orig), _sha(self.perf)))
        (o3, p3), _ = history.write_history(os.path.join(d, "short"), 1_000, 3, horizon=36)
        short = _read(p3)
        self.assertLessEqual(short[4].astype(int).max(), 36)
        full = self.p[self.p[0].isin(set(_read(o3)[19])) & (self.p[4].astype(int) <= 36)]
        pd.testing.assert_frame_equal(short.reset_index(drop=True), full.reset_index(drop=True))
        self.assertNotEqual(_sha(history.write_history(os.path.join(d, "other"), 200, 4)[0][1]), _sha(p3))

    def test_generator_records_unchanged(self):
        df, _ = history.origination_block(7, 0, vintages="generator")
        ref = generate.generate(300, 7).drop(columns=[LABEL])
        pd.testing.assert_frame_equal(df.iloc[:300][ref.columns].reset_index(drop=True), ref)


class CalibrationSmokeTest(unittest.TestCase):
    def test_loose_bounds(self):
        s = history.summaries(20_000, 5)
        v = calibrate.vintage_rates(s)
        self.assertGreater(v[2007], 3 * v[2002])  # boom-bust vintages far worse
        self.assertGreater(v[2006], 3 * v[2010])
        self.assertTrue(5 < v[2006] < 35, v[2006])
        sev, n = calibrate.severity(s)
        self.assertGreater(n, 50)
        self.assertTrue(20 < sev["mean"] < 60, sev)
        t = calibrate.tester_figures(s)
        # The tester's complaints about the drawn label (issue 21): DTI > 50 at 10.5 %, the layered cell
        # (FICO < 660, CLTV > 90, DTI > 45) at 65 %, 2008 below 2005 in 36-month terms.
        self.assertLess(t["dti_gt_50"], 8.0)
        self.assertGreater(t["dti_gt_50"], t["dti_le_30"])
        self.assertGreater(t["layered_n"], 20)
        self.assertTrue(5 < t["layered"] < 40, t)
        self.assertGreaterEqual(t["v2008"], t["v2005"])


if __name__ == "__main__":
    unittest.main()
