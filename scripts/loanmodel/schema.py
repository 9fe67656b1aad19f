"""The loan record: field names, kinds, levels and Freddie Mac missing-value sentinels.

Read from the contract shared with the TypeScript service (src/contract/loan-contract.json, snake_case
names after the Freddie Mac Single-Family Loan-Level Dataset origination file). `FIELDS` is written
verbatim into every artifact's `fields`.
"""

from .contract import CONTRACT

STATES = tuple(CONTRACT["us_states"])

# States with their own column in every model: the ones the synthetic data-generating process treats
# specially (sand states, rust belt, large low-/high-risk markets). Other states encode as all zeros.
MODELLED_STATES = ("CA", "FL", "NV", "AZ", "MI", "OH", "GA", "IL", "TX", "NY", "NJ", "PA")


def _artifact_field(f):
    """A contract field as an artifact's `fields` entry (docs/ARTIFACT_FORMAT.md): codes become `categorical`
    levels, the sentinel becomes `missing_values`."""
    missing = [] if "sentinel" not in f else [f["sentinel"]]
    description = f.get("artifact_description", f["description"])
    if f["kind"] == "numeric":
        return {"name": f["name"], "kind": "numeric", "missing_values": missing, "min": f["min"], "max": f["max"],
                "unit": f.get("artifact_unit", f["unit"]), "description": description}
    levels = STATES if f["codes"] == "us_states" else f["codes"]
    return {"name": f["name"], "kind": "categorical", "levels": list(levels), "missing_values": missing,
            "description": description}


# The model inputs: every loan-record field but the identifier, in the contract's order.
FIELDS = [_artifact_field(f) for f in CONTRACT["loan_fields"] if f["kind"] != "text"]

FIELD_BY_NAME = {f["name"]: f for f in FIELDS}
FIELD_NAMES = [f["name"] for f in FIELDS]
ID_FIELD = next(f["name"] for f in CONTRACT["loan_fields"] if f["kind"] == "text")
LABEL = "default_36m"  # 1 = default within 36 months of the first payment (docs/DATA.md)
# Loan-record order of a tape (identifier last, as in the record definition).
RECORD_FIELDS = FIELD_NAMES + [ID_FIELD]
# Fields written as integers in tapes and reference loans (the note rate is the only decimal).
INTEGER_FIELDS = frozenset(f["name"] for f in FIELDS if f["kind"] == "numeric") - {"original_interest_rate"}
