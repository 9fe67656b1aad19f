"""Loan tapes on disk: CSV with a loan-record header, Freddie Mac's pipe-delimited origination layout,
or JSON `{"loans": [...]}`. Missing values stay as they are in the DataFrame: a sentinel is written as
the sentinel, a null (NaN/None) as an empty cell, an empty Freddie field or a JSON null.
"""

import json
import math

import numpy as np
import pandas as pd

from .contract import FREDDIE
from .schema import FIELD_BY_NAME, ID_FIELD, INTEGER_FIELDS, LABEL, RECORD_FIELDS

# Freddie Mac origination file layout: 1-based positions of the fields this project read, from the contract
# shared with the service (src/contract/loan-contract.json).
ORIGINATION_FIELDS = FREDDIE["max_fields"]
ORIGINATION_MIN_FIELDS = FREDDIE["min_fields"]  # older releases stop after the super conforming flag
ORIGINATION_POSITIONS = dict(FREDDIE["positions"])
# Constant filler for the synthetic tape's fields the models do not read.
_FREDDIE_FILLER = {15: "N", 24: "Other sellers", 25: "Other servicers", 28: "9", 30: "9", 31: "N", 32: "7"}


def python_values(df, name):
    """One column as JSON-ready Python values: int/float numbers, strings, None for null."""
    col = df[name]
    field = FIELD_BY_NAME.get(name)
    if field is not None and field["kind"] == "numeric":
        integer = name in INTEGER_FIELDS
        return [None if math.isnan(x) else int(x) if integer and x == int(x) else x
                for x in col.to_numpy(float).tolist()]
    if col.dtype.kind in "iub":
        return col.astype(int).tolist()
    return [None if (x is None or (isinstance(x, float) and math.isnan(x))) else x for x in col.tolist()]


def _text_values(df, name):
    """One column as text: integers without a decimal point, the rate by repr, null as ''."""
    return ["" if v is None else str(v) for v in python_values(df, name)]


def _freddie_lines(df):
    n = len(df)
    cols = [[""] * n for _ in range(ORIGINATION_FIELDS)]
    for name, pos in ORIGINATION_POSITIONS.items():
        cols[pos - 1] = _text_values(df, name)
    for pos, text in _FREDDIE_FILLER.items():
        cols[pos - 1] = [text] * n
    # Maturity date = first payment + term - 1 months.
    fpd = df["first_payment_date"].to_numpy(float)
    term = df["original_loan_term"].to_numpy(float)
    months = (fpd // 100) * 12 + (fpd % 100 - 1) + term - 1
    cols[3] = [f"{int(m // 12)}{int(m % 12) + 1:02d}" for m in months]
    return ("|".join(row) for row in zip(*cols))


def write_tape(out, blocks, fmt, with_label=False):
    """Writes DataFrame blocks (from generate.iter_blocks) to the text stream `out`, block by block."""
    fields = RECORD_FIELDS + ([LABEL] if with_label else [])
    first = True
    for df in blocks:
        if fmt == "csv":
            if first:
                out.write(",".join(fields) + "\n")
            for row in zip(*(_text_values(df, f) for f in fields)):
                out.write(",".join(row) + "\n")
        elif fmt == "freddie":
            for i, line in enumerate(_freddie_lines(df)):
                out.write(line + (f"|{df[LABEL].iat[i]}" if with_label else "") + "\n")
        elif fmt == "json":
            out.write('{"loans":[\n' if first else ",\n")
            columns = [python_values(df, f) for f in fields]
            out.write(",\n".join(json.dumps(dict(zip(fields, row))) for row in zip(*columns)))
        else:
            raise ValueError(f"unknown tape format {fmt!r}")
        first = False
    if fmt == "json":
        out.write('{"loans":[\n]}\n' if first else "\n]}\n")


def read_csv_tape(path):
    """Reads a CSV tape back: numbers as floats (NaN for an empty cell), codes as strings or None."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for name in df.columns:
        field = FIELD_BY_NAME.get(name)
        if field is not None and field["kind"] == "numeric":
            df[name] = pd.to_numeric(df[name].replace("", np.nan))
        elif name != ID_FIELD and field is not None:
            df[name] = df[name].replace("", None)
    return df
