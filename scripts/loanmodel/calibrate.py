"""Simulates a SYNTHETIC loan history and prints target vs generated for the published figures of issue 21
(docs/DATA.md "Calibration of the simulated history").

CLI: /usr/bin/python3 -m scripts.loanmodel.calibrate --n 200000 --seed 1
"""

import argparse
import sys

import numpy as np
import pandas as pd

from . import history

# Lifetime 60+ default by first-payment vintage, agency 30-year FRMs, UPB-weighted (%), read from public
# charts of the Fannie Mae and Freddie Mac loan-level data (as given in issue 21).
VINTAGE_TARGET = dict(zip(range(1999, 2011), (4.8, 4.3, 4.0, 4.1, 5.4, 8.4, 13.2, 17.0, 19.3, 13.9, 2.5, 1.1)))
# Cox hazard multipliers on 2005–07 vintages (issue 21), relative to the reference values implied by a
# log-linear fit through the two points of each target (FICO 716, current CLTV 81, DTI 37, spread −0.1).
COX_TARGET = {("fico", 600): 3.0, ("fico", 800): 0.45, ("cltv", 30): 0.3, ("cltv", 140): 4.0,
              ("dti", 15): 0.6, ("dti", 60): 1.7, ("spread", -0.8): 0.77, ("spread", 0.6): 1.3}
COX_REFERENCE = {"fico": 716, "cltv": 81, "dti": 37, "spread": -0.1}
SEVERITY_TARGET = {"mean": 38.6, "median": 36.8}  # realised loss severity on 2005–07 defaults (%)


def vintage_rates(s):
    frm30 = s[(s["term"] == 360) & (s["amortization_type"] == "FRM")]
    d = frm30["first60"] > 0
    w = frm30["upb"]
    return {y: 100 * float((w * d)[frm30["year"] == y].sum() / w[frm30["year"] == y].sum()) for y in VINTAGE_TARGET}


def cox_episodes(s, max_loans=30_000, seed=0):
    """Counting-process rows (entry, exit, event, covariates) per loan-year, 2005–07 vintages."""
    v = s[(s["year"] >= 2005) & (s["year"] <= 2007)]
    if len(v) > max_loans:
        v = v.sample(max_loans, random_state=seed)
    end = np.where(v["first60"] > 0, v["first60"], np.where(v["exit_age"] > 0, v["exit_age"], v["last_age"]))
    rows = []
    paths = np.stack(v["cltv_path"].to_numpy())
    for j in range(paths.shape[1]):
        start = 12 * j
        alive = end > start
        if not alive.any():
            break
        stop = np.minimum(end, start + 12)
        event = alive & (v["first60"].to_numpy() > 0) & (v["first60"].to_numpy() <= start + 12)
        rows.append(pd.DataFrame({"entry": start, "time": stop, "event": event, "fico": v["fico"].to_numpy(),
                                  "cltv": paths[:, j], "dti": v["dti"].to_numpy(),
                                  "spread": v["spread"].to_numpy()})[alive])
    e = pd.concat(rows, ignore_index=True)
    return e[np.isfinite(e["cltv"])]


def cox_multipliers(s):
    from statsmodels.duration.hazard_regression import PHReg

    e = cox_episodes(s)
    names = ["fico", "cltv", "dti", "spread"]
    x = np.column_stack([e[c] - COX_REFERENCE[c] for c in names])
    fit = PHReg(e["time"].to_numpy(float), x, status=e["event"].to_numpy(int), entry=e["entry"].to_numpy(float),
                ties="breslow").fit()
    beta = dict(zip(names, fit.params))
    return {k: float(np.exp(beta[k[0]] * (k[1] - COX_REFERENCE[k[0]]))) for k in COX_TARGET}, int(e["event"].sum())


def severity(s):
    v = s[(s["year"] >= 2005) & (s["year"] <= 2007) & s["loss"].notna()]
    sev = 100 * v["loss"] / v["removal_upb"]
    return {"mean": float(sev.mean()), "median": float(sev.median())}, len(v)


def tester_figures(s):
    """36-month default (90+ or liquidation by month 36, the loader's label) on the generator's questions."""
    lab = s[(s["first90"] > 0) & (s["first90"] <= 36) | (s["last_age"] >= 36) | (s["exit_code"] == "01")]
    d = (lab["first90"] > 0) & (lab["first90"] <= 36)
    # Origination CLTV is not in the summary; use the first mark-to-market value (age 1).
    cltv0 = np.stack(lab["cltv_path"].to_numpy())[:, 0]
    layered = (lab["fico"] < 660) & (cltv0 > 90) & (lab["dti"] > 45)
    return {"all": 100 * d.mean(), "dti_gt_50": 100 * d[lab["dti"] > 50].mean(),
            "dti_le_30": 100 * d[lab["dti"] <= 30].mean(), "layered": 100 * d[layered].mean(),
            "layered_n": int(layered.sum()), "v2005": 100 * d[lab["year"] == 2005].mean(),
            "v2008": 100 * d[lab["year"] == 2008].mean()}


def report(n, seed):
    s = history.summaries(n, seed)
    lines = [f"SYNTHETIC history: {n} loans, seed {seed} (python -m scripts.loanmodel.calibrate --n {n} --seed {seed})",
             "", "| figure | target | generated |", "|---|---:|---:|"]
    for y, g in vintage_rates(s).items():
        lines.append(f"| lifetime 60+ default, {y} vintage, 30-year FRM, UPB-weighted | {VINTAGE_TARGET[y]:.1f} % | {g:.1f} % |")
    cox, events = cox_multipliers(s)
    for (k, x), m in cox.items():
        lines.append(f"| Cox hazard multiplier 2005–07, {k} {x} (vs {COX_REFERENCE[k]}) | {COX_TARGET[(k, x)]:.2f}× | {m:.2f}× |")
    sev, nliq = severity(s)
    for k, v in sev.items():
        lines.append(f"| loss severity 2005–07 liquidations, {k} | {SEVERITY_TARGET[k]:.1f} % | {v:.1f} % |")
    t = tester_figures(s)
    lines += [
        f"| 36-month default, all labelled loans | — | {t['all']:.2f} % |",
        f"| 36-month default, DTI > 50 (tester: 10.5 % was far too high) | far below 10.5 % | {t['dti_gt_50']:.2f} % (DTI ≤ 30: {t['dti_le_30']:.2f} %) |",
        f"| 36-month default, FICO < 660 & CLTV > 90 & DTI > 45 ({t['layered_n']} loans) | 15–30 % | {t['layered']:.1f} % |",
        f"| 36-month default, 2008 vs 2005 vintage | close | {t['v2008']:.2f} % vs {t['v2005']:.2f} % |",
        "", f"Cox fit on {events} 60+ events; {nliq} liquidations in 2005–07 vintages.",
    ]
    return "\n".join(lines), s


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m scripts.loanmodel.calibrate", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    print(report(args.n, args.seed)[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
