"""Scenario features (scripts/loanmodel/scenario.py) against the fixture both languages check
(test/fixtures/scenario-features.json, scripts/scenario_fixture.py; test/scenario/features.test.ts is the
TypeScript side), and their properties: one source for the historical market, flat means zero, a lower
path never gives higher house-price features."""

import json
import math
import os
import unittest

import numpy as np

from scripts import scenario_fixture
from scripts.loanmodel import hpi, scenario
from scripts.loanmodel.contract import ROOT, SCENARIOS


class ScenarioFixtureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(ROOT, "test", "fixtures", "scenario-features.json"), encoding="utf-8") as f:
            cls.fixture = json.load(f)

    def test_fixture_is_current(self):
        self.assertEqual(scenario_fixture.main(["--check"]), 0)

    def test_features_match_the_fixture(self):
        loans = self.fixture["loans"]
        self.assertGreater(len(loans), 300)
        self.assertEqual([c["scenario"] for c in self.fixture["cases"][:len(scenario.NAMES)]], list(scenario.NAMES))
        for case in self.fixture["cases"]:
            got = scenario.features(loans, case["scenario"])[list(scenario.FEATURES)].to_numpy()
            want = np.array([[math.nan if x is None else x for x in row] for row in case["rows"]])
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True,
                                       err_msg=str(case["scenario"])[:80])

    def test_invalid_scenarios_name_the_fields(self):
        for case in self.fixture["invalid"]:
            found = scenario.problems(case["scenario"])
            self.assertEqual(sorted({p["field"] for p in found}), case["fields"])
            with self.assertRaises(scenario.ScenarioError):
                scenario.resolve(case["scenario"])


class ScenarioPropertiesTest(unittest.TestCase):
    loans = [{"property_state": s, "first_payment_date": 200001 + 100 * (i % 10) + i % 12, "cltv": 70 + i % 30,
              "ltv": 70, "original_interest_rate": 6.0} for i, s in enumerate(hpi.STATES)]

    def test_hpi_reads_the_one_source(self):
        h = SCENARIOS["historical"]
        self.assertEqual(hpi.STATE_BETA, {s: tuple(b) for s, b in h["state_beta"].items()})
        self.assertEqual(hpi.PMMS, {int(y): r for y, r in h["pmms_annual"].items()})
        self.assertEqual(hpi.LOG_HPI.shape[1], hpi.QUARTERS)

    def test_flat_path_gives_zero_changes_and_the_cltv_itself(self):
        f = scenario.features(self.loans, {"national": [0.0] * 12})
        self.assertTrue((f[["hpi_change_12m", "hpi_change_36m", "hpi_trough_36m"]].to_numpy() == 0).all())
        np.testing.assert_array_equal(f["mtm_cltv_trough"], [loan["cltv"] for loan in self.loans])

    def test_a_lower_path_never_raises_house_price_features(self):
        rng = np.random.default_rng(5)
        for _ in range(50):
            high = rng.uniform(-0.1, 0.1, 12)
            low = high - rng.uniform(0, 0.05, 12)
            a = scenario.features(self.loans, {"national": high.tolist()})
            b = scenario.features(self.loans, {"national": low.tolist()})
            for name in ("hpi_change_12m", "hpi_change_36m", "hpi_trough_36m"):
                self.assertTrue((b[name] <= a[name]).all(), name)
            self.assertTrue((b["mtm_cltv_trough"] >= a["mtm_cltv_trough"]).all())

    def test_historical_equals_the_simulated_market(self):
        f = scenario.features([{"property_state": "NV", "first_payment_date": 200607, "cltv": 80}], "historical")
        i = hpi.STATES.index("NV")
        q0 = hpi._quarter(2006, 3)
        self.assertEqual(f["hpi_change_36m"][0], hpi.LOG_HPI[i, q0 + 12] - hpi.LOG_HPI[i, q0])
        self.assertLess(f["hpi_trough_36m"][0], -0.4)

    def test_severely_adverse_falls_25_percent_in_nine_quarters(self):
        path = scenario.PRESETS["severely_adverse"]["national"]
        self.assertAlmostEqual(math.exp(sum(path[:9])), 0.75, places=12)
        f = scenario.features([{"property_state": None, "first_payment_date": 202401}], "severely_adverse")
        self.assertAlmostEqual(math.exp(f["hpi_trough_36m"][0]), 0.75, places=12)


if __name__ == "__main__":
    unittest.main()
