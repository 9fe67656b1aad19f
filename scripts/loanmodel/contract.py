"""The contract shared with the TypeScript service: src/contract/loan-contract.json.

The loan record's fields (names, kinds, ranges, codes, missing-value sentinels), the Freddie Mac origination
layout, the model name and version patterns and the XGBoost acceptance rules are written once, in that file;
both this package and the service read it (docs/ARCHITECTURE-contract.md).
"""

import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTRACT_PATH = os.path.join(ROOT, "src", "contract", "loan-contract.json")
# Scenario presets and the synthetic historical market (hpi.py, scenario.py, src/scenario/index.ts).
SCENARIOS_PATH = os.path.join(ROOT, "src", "contract", "scenarios.json")

# The simulated history's default (CLTV term) and prepayment constants (history.py, lifetime.py, src/loss/engine.ts).
BEHAVIOUR_PATH = os.path.join(ROOT, "src", "contract", "loan-behaviour.json")

with open(CONTRACT_PATH, encoding="utf-8") as _f:
    CONTRACT = json.load(_f)
with open(SCENARIOS_PATH, encoding="utf-8") as _f:
    SCENARIOS = json.load(_f)
with open(BEHAVIOUR_PATH, encoding="utf-8") as _f:
    BEHAVIOUR = json.load(_f)


def whole_match(pattern):
    """A contract pattern as a compiled regex that must match the whole string (use with .match)."""
    return re.compile(rf"(?:{pattern})\Z")


MODEL_NAME = whole_match(CONTRACT["model_name_pattern"])
MODEL_VERSION = whole_match(CONTRACT["model_version_pattern"])
FREDDIE = CONTRACT["freddie_origination"]
XGBOOST = CONTRACT["xgboost"]
