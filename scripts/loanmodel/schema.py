"""The loan record: field names, kinds, levels and Freddie Mac missing-value sentinels.

The names are shared with the TypeScript service (snake_case, after the Freddie Mac Single-Family
Loan-Level Dataset origination file). `FIELDS` is written verbatim into every artifact's `fields`.
"""

STATES = (
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "GU", "HI", "IA", "ID", "IL", "IN",
    "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE", "NH", "NJ", "NM",
    "NV", "NY", "OH", "OK", "OR", "PA", "PR", "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VI", "VT", "WA",
    "WI", "WV", "WY",
)  # fmt: skip

# States with their own column in every model: the ones the synthetic data-generating process treats
# specially (sand states, rust belt, large low-/high-risk markets). Other states encode as all zeros.
MODELLED_STATES = ("CA", "FL", "NV", "AZ", "MI", "OH", "GA", "IL", "TX", "NY", "NJ", "PA")


def _numeric(name, missing, lo, hi, unit, description):
    return {"name": name, "kind": "numeric", "missing_values": missing, "min": lo, "max": hi, "unit": unit,
            "description": description}


def _categorical(name, levels, missing, description):
    return {"name": name, "kind": "categorical", "levels": list(levels), "missing_values": missing,
            "description": description}


# Ranges are the service's loan record (src/loan/record.ts); test/service/registry.test.ts checks
# that the shipped artifacts advertise the same ones.
FIELDS = [
    _numeric("credit_score", [9999], 300, 850, "FICO points", "Borrower credit score at origination."),
    _numeric("first_payment_date", [], 199901, 209912, "YYYYMM", "First scheduled payment (the vintage)."),
    _categorical("first_time_homebuyer_flag", ["Y", "N"], ["9"], "First-time homebuyer."),
    _numeric("mi_percent", [999], 0, 55, "%", "Mortgage insurance coverage."),
    _numeric("number_of_units", [99], 1, 4, "units", "Number of dwelling units."),
    _categorical("occupancy_status", ["P", "I", "S"], ["9"],
                 "P primary residence, I investment property, S second home."),
    _numeric("cltv", [999], 1, 200, "%", "Original combined loan-to-value (all liens)."),
    _numeric("dti", [999], 0, 65, "%", "Original debt-to-income ratio."),
    _numeric("original_upb", [], 1000, 10_000_000, "USD", "Original unpaid principal balance."),
    _numeric("ltv", [999], 1, 200, "%", "Original loan-to-value."),
    _numeric("original_interest_rate", [], 0, 20, "%", "Original note rate."),
    _categorical("channel", ["R", "B", "C", "T"], ["9"],
                 "R retail, B broker, C correspondent, T third-party origination not specified."),
    _categorical("amortization_type", ["FRM", "ARM"], [], "Fixed or adjustable rate."),
    _categorical("property_state", STATES, [], "USPS code of the property's state or territory."),
    _categorical("property_type", ["SF", "CO", "PU", "MH", "CP"], ["99"],
                 "SF single-family, CO condo, PU planned unit development, MH manufactured housing, CP co-op."),
    _categorical("loan_purpose", ["P", "C", "N", "R"], ["9"],
                 "P purchase, C cash-out refinance, N no-cash-out refinance, R refinance not specified."),
    _numeric("original_loan_term", [], 60, 480, "months", "Original loan term."),
    _numeric("number_of_borrowers", [99], 1, 10, "borrowers", "Number of borrowers."),
]

FIELD_BY_NAME = {f["name"]: f for f in FIELDS}
FIELD_NAMES = [f["name"] for f in FIELDS]
ID_FIELD = "loan_sequence_number"
LABEL = "default_36m"  # 1 = default within 36 months of the first payment (docs/DATA.md)
# Loan-record order of a tape (identifier last, as in the record definition).
RECORD_FIELDS = FIELD_NAMES + [ID_FIELD]
# Fields written as integers in tapes and reference loans (the note rate is the only decimal).
INTEGER_FIELDS = frozenset(f["name"] for f in FIELDS if f["kind"] == "numeric") - {"original_interest_rate"}
