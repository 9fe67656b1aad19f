"""Freddie Mac Single-Family Loan-Level Dataset: origination + monthly performance → labelled loans.

Label (docs/DATA.md): a loan defaults when, at a monthly reporting period within its first 36 months
(reporting period <= first payment date + 35 months), it is 90+ days delinquent (status >= 3 or "RA",
REO acquisition) or leaves the book with zero balance code 02 (third-party sale), 03 (short sale or
charge-off), 09 (REO disposition) or 15 (non-performing note sale).
A loan without such an event is a non-default when it was observed through month 36 or was prepaid
(zero balance code 01) before: a paid-off loan can no longer default. Loans observed for less than 36
months that are still active, or removed for another reason (96 repurchase, 16 reperforming sale, ...)
without a default, are dropped as unlabelled: their outcome is unknown.
"""

import glob
import os

import numpy as np
import pandas as pd

from .schema import FIELD_BY_NAME, ID_FIELD, LABEL
from .tape import ORIGINATION_MIN_FIELDS, ORIGINATION_POSITIONS

WINDOW_MONTHS = 36
DEFAULT_ZERO_BALANCE = frozenset({"02", "03", "09", "15"})
PREPAID_ZERO_BALANCE = "01"
PERF_CHUNK_ROWS = 1_000_000
LABEL_DEFINITION = (
    "default_36m = 1 when, at a monthly reporting period within the first 36 months from the first "
    "payment (period <= first_payment_date + 35 months), the loan is 90+ days delinquent (status >= 3 or "
    "'RA') or has zero balance code 02, 03, 09 or 15; 0 when observed through month 36 without such an "
    "event or prepaid (zero balance code 01) before it. Other loans are unlabelled and dropped."
)


def expand(patterns):
    """Paths from file names and glob patterns, sorted, each pattern required to match something."""
    paths = []
    for p in patterns:
        found = sorted(glob.glob(p)) if glob.has_magic(p) else [p]
        if not found or not all(os.path.isfile(f) for f in found):
            raise FileNotFoundError(f"no such file: {p}")
        paths.extend(found)
    return paths


def _month_index(yyyymm):
    """YYYYMM (float array) → months since year 0, NaN kept."""
    return (yyyymm // 100) * 12 + (yyyymm % 100) - 1


def read_origination(paths):
    """Origination files → a DataFrame of loan records, sentinels and blanks mapped to missing."""
    frames = []
    for path in paths:
        raw = pd.read_csv(path, sep="|", header=None, dtype=str, keep_default_na=False, na_filter=False)
        if raw.shape[1] < ORIGINATION_MIN_FIELDS:
            raise ValueError(f"{path}: {raw.shape[1]} fields per line, an origination file has at least "
                             f"{ORIGINATION_MIN_FIELDS}")
        frames.append(pd.DataFrame({name: raw[pos - 1].str.strip() for name, pos in ORIGINATION_POSITIONS.items()}))
    text = pd.concat(frames, ignore_index=True)
    out = pd.DataFrame({ID_FIELD: text[ID_FIELD]})
    for name in ORIGINATION_POSITIONS:
        if name == ID_FIELD:
            continue
        field = FIELD_BY_NAME[name]
        col = text[name]
        if field["kind"] == "numeric":
            values = pd.to_numeric(col.replace("", np.nan), errors="coerce")
            bad = values.isna() & (col != "")
            if bad.any():
                raise ValueError(f"{name}: non-numeric values {sorted(set(col[bad]))[:5]} in origination rows")
            out[name] = values.where(~values.isin(field["missing_values"]))
        else:
            # Freddie writes some codes with padding ("P ", "09"); anything else unknown is refused.
            values = col.where(~col.isin(field["missing_values"] + [""]), None)
            bad = values.notna() & ~values.isin(field["levels"])
            if bad.any():
                examples = sorted(set(values[bad]))[:5]
                raise ValueError(f"{name}: unknown codes {examples} in {int(bad.sum())} origination rows")
            out[name] = values
    if out[ID_FIELD].duplicated().any():
        raise ValueError("duplicate loan sequence numbers in the origination files")
    return out[[ID_FIELD] + [n for n in ORIGINATION_POSITIONS if n != ID_FIELD]]


def performance_outcomes(paths, first_payment, chunk_rows=PERF_CHUNK_ROWS):
    """Streams performance files → per loan: default within the window, last period seen, prepaid early.

    `first_payment` maps loan sequence number → first payment month index. Returns a DataFrame indexed
    by loan sequence number with columns default (bool), last_month (float), prepaid (bool), removed (bool).
    """
    parts = []
    for path in paths:
        reader = pd.read_csv(path, sep="|", header=None, usecols=[0, 1, 3, 8], dtype=str,
                             keep_default_na=False, na_filter=False, chunksize=chunk_rows)
        for chunk in reader:
            chunk.columns = ["loan", "period", "status", "zb"]
            fpm = chunk["loan"].map(first_payment)
            chunk = chunk[fpm.notna()]
            month = _month_index(pd.to_numeric(chunk["period"], errors="coerce"))
            in_window = month <= fpm[fpm.notna()] + (WINDOW_MONTHS - 1)
            status = chunk["status"].str.strip()
            dpd = pd.to_numeric(status, errors="coerce")  # "XX", blank → NaN (unknown)
            zb = chunk["zb"].str.strip().str.zfill(2).where(chunk["zb"].str.strip() != "", "")
            event = (dpd >= 3) | (status == "RA") | zb.isin(DEFAULT_ZERO_BALANCE)
            parts.append(pd.DataFrame({
                "loan": chunk["loan"],
                "default": event & in_window,
                "last_month": month,
                "prepaid": (zb == PREPAID_ZERO_BALANCE) & in_window,
                "removed": (zb != "") & ~zb.isin(DEFAULT_ZERO_BALANCE) & (zb != PREPAID_ZERO_BALANCE) & in_window,
            }).groupby("loan").agg({"default": "any", "last_month": "max", "prepaid": "any", "removed": "any"}))
    if not parts:
        return pd.DataFrame(columns=["default", "last_month", "prepaid", "removed"])
    # A loan may span chunks and files: combine the partial aggregates.
    return pd.concat(parts).groupby(level=0).agg({"default": "any", "last_month": "max", "prepaid": "any",
                                                   "removed": "any"})


def load(orig_patterns, perf_patterns, chunk_rows=PERF_CHUNK_ROWS):
    """Labelled loans from Freddie Mac files, plus counts of what was kept and dropped."""
    orig_paths, perf_paths = expand(orig_patterns), expand(perf_patterns)
    loans = read_origination(orig_paths)
    fpm = _month_index(loans["first_payment_date"])
    first_payment = pd.Series(fpm.to_numpy(), index=loans[ID_FIELD])
    first_payment = first_payment[first_payment.notna()]
    outcome = performance_outcomes(perf_paths, first_payment, chunk_rows).reindex(loans[ID_FIELD])
    seen = outcome["last_month"].notna().to_numpy()
    default = outcome["default"].fillna(False).to_numpy(bool)
    full_window = (outcome["last_month"].to_numpy(float) >= fpm.to_numpy() + (WINDOW_MONTHS - 1))
    prepaid = outcome["prepaid"].fillna(False).to_numpy(bool)
    labelled = seen & (default | full_window | prepaid)
    removed = outcome["removed"].fillna(False).to_numpy(bool)
    stats = {
        "origination_files": [os.path.basename(p) for p in orig_paths],
        "performance_files": [os.path.basename(p) for p in perf_paths],
        "originations": int(len(loans)),
        "without_performance": int((~seen).sum()),
        "defaults": int(default.sum()),
        "non_defaults_full_window": int((seen & ~default & full_window).sum()),
        "non_defaults_prepaid_early": int((seen & ~default & ~full_window & prepaid).sum()),
        "dropped_short_history": int((seen & ~labelled & ~removed).sum()),
        "dropped_removed_other": int((seen & ~labelled & removed).sum()),
        "labelled": int(labelled.sum()),
    }
    out = loans[labelled].reset_index(drop=True)
    out[LABEL] = default[labelled].astype(np.int8)
    return out, stats
