"""The Freddie Mac loader on hand-made files in the dataset's exact layout."""

import math
import os
import tempfile
import unittest

from scripts.loanmodel import freddie
from scripts.loanmodel.schema import LABEL

FPD = 200502  # first payment February 2005: month 36 is January 2008


def period(month):
    """Reporting period of loan-age month `month` (1 = the first payment month)."""
    m = 2005 * 12 + 1 + (month - 1)
    return f"{m // 12}{m % 12 + 1:02d}"


def orig_line(seq, values=None, fields=32):
    row = {1: "720", 2: str(FPD), 3: "N", 4: "203501", 5: "31084", 6: "000", 7: "1", 8: "P", 9: "80", 10: "35",
           11: "200000", 12: "80", 13: "5.875", 14: "R", 15: "N", 16: "FRM", 17: "CA", 18: "SF", 19: "94500",
           20: seq, 21: "P", 22: "360", 23: "02", 24: "Other sellers", 25: "Other servicers", 26: "", 27: "",
           28: "9", 29: "", 30: "9", 31: "N", 32: "7"}
    row.update(values or {})
    return "|".join(row[i] for i in range(1, fields + 1))


def perf_line(seq, month, status="0", zb=""):
    # 1 seq, 2 period, 3 UPB, 4 status, 5 age, 6 remaining, 7 defect date, 8 mod flag, 9 ZB code, 10 ZB date,
    # then trailing fields the loader ignores.
    return "|".join([seq, period(month), "195000.00", status, str(month - 1), str(361 - month), "", "N", zb,
                     period(month) if zb else "", "", "", "0.00"])


def history(seq, months, events=None):
    """Status '0' for months 1..months, with {month: (status, zb)} overrides."""
    events = events or {}
    return [perf_line(seq, m, *events.get(m, ("0", ""))) for m in range(1, months + 1)]


class FreddieLoaderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        orig = [orig_line(s) for s in ("DPD90", "LATE", "REO", "ZB03", "PREPAID", "SHORT", "REPURCH", "ZB09LATE",
                                       "NOPERF", "UNKNOWN", "EDGE36", "EDGE37")]
        orig.append(orig_line("SENTINEL", {1: "9999", 3: "9", 6: "999", 7: "99", 8: "9", 9: "999", 10: "999",
                                             12: "999", 14: "9", 18: "99", 21: "9", 23: "99"}))
        perf = []
        perf += history("DPD90", 48, {10: ("1", ""), 11: ("2", ""), 12: ("3", "")})
        perf += history("LATE", 45, {37: ("1", ""), 38: ("2", ""), 39: ("3", "")})
        perf += history("REO", 20, {18: ("1", ""), 19: ("2", ""), 20: ("RA", "")})
        perf += history("ZB03", 15, {15: ("2", "03")})
        perf += history("PREPAID", 10, {10: ("0", "01")})
        perf += history("SHORT", 20)
        perf += history("REPURCH", 12, {12: ("0", "96")})
        perf += history("ZB09LATE", 40, {38: ("3", ""), 40: ("5", "09")})
        perf += history("UNKNOWN", 36, {5: ("XX", ""), 6: ("", "")})
        perf += history("EDGE36", 40, {36: ("3", "")})
        perf += history("EDGE37", 40, {37: ("3", "")})
        perf += history("SENTINEL", 36)
        perf += history("NOTINORIG", 40, {3: ("3", "")})
        cls.orig_path = os.path.join(d, "sample_orig_2005.txt")
        cls.perf_path = os.path.join(d, "sample_svcg_2005.txt")
        with open(cls.orig_path, "w") as f:
            f.write("\n".join(orig) + "\n")
        # An older release: 26 origination fields.
        with open(os.path.join(d, "old_orig_2005.txt"), "w") as f:
            f.write(orig_line("OLDFMT", fields=26) + "\n")
        with open(os.path.join(d, "old_svcg_2005.txt"), "w") as f:
            f.write("\n".join(history("OLDFMT", 36)) + "\n")
        with open(cls.perf_path, "w") as f:
            f.write("\n".join(perf) + "\n")
        # Tiny chunks: a loan's history spans many chunks, as in a real multi-gigabyte file.
        cls.loans, cls.stats = freddie.load([cls.orig_path], [cls.perf_path], chunk_rows=7)
        cls.label = dict(zip(cls.loans["loan_sequence_number"], cls.loans[LABEL]))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_labels(self):
        self.assertEqual(self.label, {
            "DPD90": 1,     # 90+ days delinquent in month 12
            "LATE": 0,      # delinquent only after month 36
            "REO": 1,       # REO acquisition
            "ZB03": 1,      # short sale / charge-off
            "PREPAID": 0,   # paid off in month 10: can no longer default
            "ZB09LATE": 0,  # 90+ in month 38, REO disposition in month 40: outside the window
            "UNKNOWN": 0,   # unknown statuses ("XX", blank) are not events
            "EDGE36": 1,    # 90+ exactly in month 36 (first payment + 35 months)
            "EDGE37": 0,    # 90+ in month 37
            "SENTINEL": 0,
        })

    def test_dropped(self):
        for seq in ("SHORT", "REPURCH", "NOPERF", "NOTINORIG"):
            self.assertNotIn(seq, self.label)
        s = self.stats
        self.assertEqual((s["originations"], s["labelled"], s["defaults"]), (13, 10, 4))
        self.assertEqual((s["dropped_short_history"], s["dropped_removed_other"], s["without_performance"]), (1, 1, 1))
        self.assertEqual(s["non_defaults_prepaid_early"], 1)

    def test_sentinels_are_missing(self):
        row = self.loans.set_index("loan_sequence_number").loc["SENTINEL"]
        for name in ("credit_score", "mi_percent", "number_of_units", "cltv", "dti", "ltv", "number_of_borrowers"):
            self.assertTrue(math.isnan(row[name]), name)
        for name in ("first_time_homebuyer_flag", "occupancy_status", "channel", "property_type", "loan_purpose"):
            self.assertIsNone(row[name], name)

    def test_values(self):
        row = self.loans.set_index("loan_sequence_number").loc["DPD90"]
        self.assertEqual(row["credit_score"], 720)
        self.assertEqual(row["first_payment_date"], FPD)
        self.assertEqual(row["original_interest_rate"], 5.875)
        self.assertEqual(row["number_of_borrowers"], 2)  # "02"
        self.assertEqual(row["mi_percent"], 0)  # "000"
        self.assertEqual((row["property_state"], row["amortization_type"], row["loan_purpose"]), ("CA", "FRM", "P"))

    def test_older_layout_and_globs(self):
        d = self.tmp.name
        loans, stats = freddie.load([os.path.join(d, "*_orig_2005.txt")], [os.path.join(d, "*_svcg_2005.txt")])
        self.assertEqual(stats["originations"], 14)
        self.assertIn("OLDFMT", set(loans["loan_sequence_number"]))

    def test_unknown_code_refused(self):
        path = os.path.join(self.tmp.name, "bad_orig.txt")
        with open(path, "w") as f:
            f.write(orig_line("BAD", {8: "X"}) + "\n")
        with self.assertRaisesRegex(ValueError, "occupancy_status"):
            freddie.read_origination([path])

    def test_missing_file(self):
        with self.assertRaises(FileNotFoundError):
            freddie.load([os.path.join(self.tmp.name, "nope_*.txt")], [self.perf_path])


if __name__ == "__main__":
    unittest.main()
