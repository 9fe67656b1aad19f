"""The reference figures of src/validation (issue 23): test/fixtures/validation.json is current
(scripts/validation_fixture.py; test/validation/reference.test.ts is the TypeScript side), and the fixture's own
DeLong agrees with scikit-learn and with the textbook variance of a known case."""

import unittest

import numpy as np
from sklearn.metrics import roc_auc_score

from scripts import validation_fixture
from scripts.loanmodel.fixtures import same_json


class ValidationFixtureTest(unittest.TestCase):
    def test_fixture_is_current(self):
        self.assertEqual(validation_fixture.main(["--check"]), 0)

    def test_delong_auc_is_sklearns_with_ties(self):
        rng = np.random.default_rng(5)
        y = rng.integers(0, 2, 200)
        s = np.round(rng.normal(size=200) + y, 1)
        (auc,), _ = validation_fixture.delong([s], y)
        self.assertAlmostEqual(auc, roc_auc_score(y, s), places=14)

    def test_delong_variance_of_a_perfect_split_is_zero(self):
        (auc,), cov = validation_fixture.delong([[0.1, 0.2, 0.8, 0.9]], [0, 0, 1, 1])
        self.assertEqual(auc, 1.0)
        self.assertEqual(cov[0, 0], 0.0)

    def test_delong_variance_by_hand(self):
        # X = defaults {0.4, 0.8}, Y = others {0.2, 0.6}: V10 = (1/2, 1), V01 = (1, 1/2); var = 1/8/2 + 1/8/2
        (auc,), cov = validation_fixture.delong([[0.4, 0.8, 0.2, 0.6]], [1, 1, 0, 0])
        self.assertAlmostEqual(auc, 0.75)
        self.assertAlmostEqual(cov[0, 0], 0.125)


class SameJsonTest(unittest.TestCase):
    """--check's comparison (scripts/loanmodel/fixtures.py): a CPU's last bits pass, anything else is stale."""

    def test_last_bits_pass_and_real_changes_do_not(self):
        doc = '{"a":[0.1,2,-0.11462841565341386],"b":{"c":"x","d":null,"e":true,"f":0.0}}'
        self.assertTrue(same_json(doc, doc))
        # The worked example's coefficient as two CPUs fit it.
        self.assertTrue(same_json(doc, doc.replace("-0.11462841565341386", "-0.11462841565341385")))
        for changed in (
            doc.replace("-0.11462841565341386", "-0.114628415653"),  # 3.6e-12 relative
            doc.replace("-0.11462841565341386", "-0.11462841565441386"),
            doc.replace('"x"', '"y"'),
            doc.replace("null", "0"),
            doc.replace("true", "1"),
            doc.replace("0.0}", "1e-300}"),
            doc.replace("[0.1,", "[0.1,0.1,"),
            doc.replace('"c"', '"g"'),
            doc.replace("2,", "3,"),
        ):
            self.assertFalse(same_json(doc, changed), changed)
        self.assertFalse(same_json(doc, "not json"))


if __name__ == "__main__":
    unittest.main()
