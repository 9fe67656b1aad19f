"""Holdout metrics, PD-decile calibration tables and the data calibration figures of docs/DATA.md."""

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve

from .encoding import read_field
from .schema import FIELD_BY_NAME, LABEL

SAND_STATES = ("CA", "FL", "NV", "AZ")


def ks_cutoff(y, p):
    """Kolmogorov-Smirnov statistic and the PD cutoff (classify default when p >= cutoff) attaining it."""
    fpr, tpr, thresholds = roc_curve(y, p, drop_intermediate=False)
    i = int(np.argmax(tpr - fpr))
    return float(tpr[i] - fpr[i]), float(thresholds[i])


def holdout_metrics(y, p):
    auc = roc_auc_score(y, p)
    ks, _ = ks_cutoff(y, p)
    return {"auc": round(float(auc), 6), "ks": round(ks, 6), "gini": round(float(2 * auc - 1), 6),
            "brier": round(float(brier_score_loss(y, p)), 6), "log_loss": round(float(log_loss(y, p)), 6)}


def calibration_table(y, p, bins=10):
    """Mean predicted PD vs observed default rate per PD decile (lowest first)."""
    order = np.argsort(p, kind="stable")
    rows = []
    for k, idx in enumerate(np.array_split(order, bins)):
        rows.append({"decile": k + 1, "count": int(len(idx)), "mean_pd": round(float(np.mean(p[idx])), 6),
                     "observed": round(float(np.mean(y[idx])), 6)})
    return rows


def _present(df, name):
    missing, value = read_field(df, FIELD_BY_NAME[name])
    return pd.Series(np.where(missing, np.nan, value), index=df.index)


def _share(mask, base):
    return round(float(mask[base].mean()), 4) if base.any() else None


def data_figures(df):
    """Marginals and default rates measured on a labelled loan table (printed and put in the model card)."""
    y = df[LABEL].to_numpy()
    fico, ltv, cltv, mi, dti = (_present(df, f) for f in ("credit_score", "ltv", "cltv", "mi_percent", "dti"))
    year = (_present(df, "first_payment_date") // 100)
    state = df["property_state"]
    missing = {f: read_field(df, FIELD_BY_NAME[f])[0] for f in FIELD_BY_NAME}
    nulls = sum(int(df[f].isna().sum()) for f in FIELD_BY_NAME if f in df.columns)
    figures = {
        "loans": int(len(df)),
        "default_rate": round(float(y.mean()), 4),
        "fico_above_660": _share(fico > 660, fico.notna()),
        "fico_below_620": _share(fico < 620, fico.notna()),
        "ltv_at_most_80": _share(ltv <= 80, ltv.notna()),
        "ltv_at_least_90": _share(ltv >= 90, ltv.notna()),
        "mi_positive_when_ltv_above_80": _share(mi > 0, (ltv > 80) & mi.notna()),
        "mi_positive_when_ltv_at_most_80": _share(mi > 0, (ltv <= 80) & mi.notna()),
        "cltv_at_least_ltv": _share(cltv >= ltv, cltv.notna() & ltv.notna()),
        "missing_rate": {f: round(float(m.mean()), 4) for f, m in missing.items() if m.any()},
        "missing_written_as_null": round(nulls / max(1, sum(int(m.sum()) for m in missing.values())), 4),
    }

    def rate_by(groups):
        t = pd.DataFrame({"g": groups, "y": y}).groupby("g", observed=True)["y"].agg(["mean", "size"])
        return {str(k): {"default_rate": round(float(r["mean"]), 4), "loans": int(r["size"])} for k, r in t.iterrows()}

    figures["default_rate_by_vintage"] = rate_by(year.astype("Int64"))
    figures["default_rate_by_fico"] = rate_by(pd.cut(fico, [0, 619, 659, 699, 739, 850]))
    figures["default_rate_by_ltv"] = rate_by(pd.cut(ltv, [0, 60, 80, 90, 95, 200]))
    figures["default_rate_by_dti"] = rate_by(pd.cut(dti, [-1, 30, 36, 43, 50, 65]))
    crisis = year.isin([2006, 2007])
    region = np.where(state.isin(SAND_STATES), "sand states CA/FL/NV/AZ",
                      np.where(state.isin(("MI", "OH")), "MI/OH", "other states"))
    figures["default_rate_2006_2007_by_region"] = rate_by(pd.Series(region, index=df.index).where(crisis))
    layered = (fico < 660) & (cltv > 90) & (dti > 45)
    figures["default_rate_layered_fico_lt_660_cltv_gt_90_dti_gt_45"] = _share(pd.Series(y == 1, index=df.index),
                                                                               layered)
    return figures
