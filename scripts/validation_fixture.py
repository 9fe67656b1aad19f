"""Writes test/fixtures/validation.json: every statistic of src/validation (issue 23) computed by the reference
libraries on several fixtures, for test/validation/reference.test.ts to compare to 1e-9:

- discrimination: sklearn.metrics.roc_auc_score; DeLong's variance and the test of two correlated AUCs by the
  textbook O(n^2) formula in numpy (no library has one; DeLong, DeLong & Clarke-Pearson 1988); scipy.stats.ks_2samp;
- calibration: scipy.stats.binomtest, scipy.stats.beta (Jeffreys), scipy.stats.norm (Vasicek), scipy.stats.chi2
  (Hosmer-Lemeshow), statsmodels' Logit (calibration-in-the-large intercept with the logit of the PD as offset,
  calibration slope and their standard errors);
- drift: PSI/CSI by numpy on numpy.quantile deciles, scipy.stats.chi2 for the critical value and p-value;
- the special functions on grids (scipy.special.betaincinv, betainc, gammainc; scipy.stats.norm, chi2);
- refusals: inputs each statistic must refuse, and the field it must name.

scripts/tests/test_validation.py checks the file is current. Regenerate after changing either side:

    /usr/bin/python3 scripts/validation_fixture.py [--check]
"""

import math
import os
import sys
import warnings

import numpy as np
from scipy import special, stats
from sklearn.metrics import roc_auc_score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from scripts.loanmodel import fixtures  # noqa: E402
from scripts.loanmodel.fixtures import compact, lines  # noqa: E402

FIXTURE = os.path.join(ROOT, "test", "fixtures", "validation.json")
BANDS = [0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1]
RHO = 0.15
ALPHA = 0.05
GREEN, RED = 0.05, 0.01
EPSILON = 1e-4
CLIP = 1e-12


def delong(scores_list, y):
    """DeLong's placement values by the direct O(n^2) formula: AUCs and their covariance matrix."""
    y = np.asarray(y)
    out = []
    for s in scores_list:
        s = np.asarray(s, dtype=float)
        x, z = s[y == 1], s[y == 0]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        out.append((psi.mean(), psi.mean(axis=1), psi.mean(axis=0)))
    m, n = int((y == 1).sum()), int((y == 0).sum())
    k = len(out)
    cov = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            cov[i, j] = (np.cov(out[i][1], out[j][1])[0, 1] / m + np.cov(out[i][2], out[j][2])[0, 1] / n)
    return [o[0] for o in out], cov


def light(p):
    return "green" if p >= GREEN else "amber" if p >= RED else "red"


def row(label, n, d, sum_pd):
    mean = sum_pd / n
    a, b = d + 0.5, n - d + 0.5
    rate = d / n
    g = stats.norm.ppf(mean)
    critical = stats.norm.cdf((g + math.sqrt(RHO) * stats.norm.ppf(1 - ALPHA)) / math.sqrt(1 - RHO))
    if rate <= 0 or mean >= 1:
        vp = 1.0
    elif rate >= 1 or mean <= 0:
        vp = 0.0
    else:
        vp = float(stats.norm.cdf((g - math.sqrt(1 - RHO) * stats.norm.ppf(rate)) / math.sqrt(RHO)))
    binomial = float(stats.binomtest(int(d), int(n), mean).pvalue)
    return {"label": label, "n": n, "defaults": d, "meanPd": mean, "observedRate": rate, "expectedDefaults": sum_pd,
            "binomialP": binomial,
            "jeffreys": {"p": float(stats.beta.cdf(mean, a, b)), "lower": float(stats.beta.ppf(ALPHA / 2, a, b)),
                         "upper": float(stats.beta.ppf(1 - ALPHA / 2, a, b))},
            "vasicek": {"p": vp, "criticalRate": float(critical)}, "light": light(binomial)}


def table(groups):
    rows = [row(label, n, d, s) for label, n, d, s in groups if n > 0]
    total = [sum(g[i] for g in groups) for i in (1, 2, 3)]
    pool = row("pool", *total)
    return {"rows": rows, "pool": pool, "light": pool["light"]}


def band_groups(pd, y):
    groups = []
    for i in range(len(BANDS) - 1):
        lo, hi = BANDS[i], BANDS[i + 1]
        last = i == len(BANDS) - 2
        idx = [j for j in range(len(pd)) if pd[j] >= lo and (pd[j] < hi or (last and pd[j] <= hi))]
        label = f"[{fmt(lo)}, {fmt(hi)}{']' if last else ')'}"
        s = 0.0
        for j in idx:
            s += pd[j]
        groups.append((label, len(idx), sum(y[j] for j in idx), s))
    return groups


def fmt(x):
    """A band edge as JavaScript's String(number) writes it."""
    return str(int(x)) if x == int(x) else repr(x)


def decile_groups(pd, y, k=10):
    order = np.argsort(np.asarray(pd), kind="stable")
    n = len(pd)
    groups = []
    for g in range(k):
        idx = order[(g * n) // k:((g + 1) * n) // k]
        s = 0.0
        for j in idx:
            s += pd[j]
        groups.append((str(g + 1), len(idx), int(sum(y[j] for j in idx)), s))
    return groups


def hosmer(groups):
    h = 0.0
    for _, n, d, e in groups:
        v = e * (1 - e / n)
        if v > 0:
            h += (d - e) ** 2 / v
    df = len(groups) - 2
    return {"statistic": h, "df": df, "p": float(stats.chi2.sf(h, df))}


def logit(p):
    q = np.clip(np.asarray(p, dtype=float), CLIP, 1 - CLIP)
    return np.log(q / (1 - q))


def estimate(value, se):
    z = stats.norm.ppf(1 - ALPHA / 2)
    return {"value": float(value), "se": float(se), "lower": float(value - z * se), "upper": float(value + z * se)}


def logit_fit(y, X, offset=None):
    """statsmodels' logistic regression: Logit for the slope; GLM (Binomial) when there is an offset, which
    Logit does not take."""
    import statsmodels.api as sm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = np.asarray(y, dtype=float)
        if offset is None:
            r = sm.Logit(y, X).fit(method="newton", tol=1e-15, maxiter=200, disp=0)
        else:
            r = sm.GLM(y, X, family=sm.families.Binomial(), offset=offset).fit(method="newton", tol=1e-15, maxiter=200, disp=0)
    return r.params, r.bse


def calibration(pd, y):
    pd_a, y_a = np.asarray(pd), np.asarray(y, dtype=float)
    n, d = len(pd), float(y_a.sum())
    s, v = 0.0, 0.0
    for p in pd:
        s += p
        v += p * (1 - p)
    z = (d - s) / math.sqrt(v)
    x = logit(pd_a)
    (a,), (a_se,) = logit_fit(y_a, np.ones((n, 1)), offset=x)
    params, bse = logit_fit(y_a, np.column_stack([np.ones(n), x]))
    zs = (params[1] - 1) / bse[1]
    return {
        "brier": float(np.mean((pd_a - y_a) ** 2)),
        "inTheLarge": {"meanPd": s / n, "observedRate": d / n, "difference": d / n - s / n,
                       "rateLower": float(stats.beta.ppf(ALPHA / 2, d + .5, n - d + .5)),
                       "rateUpper": float(stats.beta.ppf(1 - ALPHA / 2, d + .5, n - d + .5)),
                       "z": z, "p": float(2 * stats.norm.sf(abs(z))), "intercept": estimate(a, a_se)},
        "slope": {"intercept": estimate(params[0], bse[0]), "slope": estimate(params[1], bse[1]), "z": float(zs),
                  "p": float(2 * stats.norm.sf(abs(zs)))},
    }


def discrimination(pd, challenger, y):
    y_a = np.asarray(y)
    (auc_a, auc_b), cov = delong([pd, challenger], y)
    auc = float(roc_auc_score(y_a, pd))
    assert abs(auc - auc_a) < 1e-12
    se = math.sqrt(cov[0, 0])
    zq = stats.norm.ppf(1 - ALPHA / 2)
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    z = (auc_a - auc_b) / math.sqrt(var)
    pd_a = np.asarray(pd)
    return {
        "auc": {"auc": auc, "gini": 2 * auc - 1, "variance": float(cov[0, 0]), "se": se,
                "lower": max(0.0, auc - zq * se), "upper": min(1.0, auc + zq * se)},
        "ks": float(stats.ks_2samp(pd_a[y_a == 1], pd_a[y_a == 0]).statistic),
        "compare": {"aucA": float(roc_auc_score(y_a, pd)), "aucB": float(roc_auc_score(y_a, challenger)),
                    "varianceA": float(cov[0, 0]), "varianceB": float(cov[1, 1]), "covariance": float(cov[0, 1]),
                    "variance": float(var), "z": float(z), "p": float(2 * stats.norm.sf(abs(z)))},
    }


def psi(base_counts, counts):
    m, n = sum(base_counts), sum(counts)
    total, bins = 0.0, 0
    for e, a in zip(base_counts, counts):
        if e == 0 and a == 0:
            continue
        bins += 1
        pe = EPSILON if e == 0 else e / m
        pa = EPSILON if a == 0 else a / n
        total += (pa - pe) * math.log(pa / pe)
    df = max(bins - 1, 1)
    scale = 1 / m + 1 / n
    band = "significant" if total >= 0.25 else "moderate" if total >= 0.1 else "stable"
    return {"psi": total, "band": band, "bins": bins, "df": df,
            "critical": float(stats.chi2.ppf(1 - ALPHA, df) * scale), "p": float(stats.chi2.sf(total / scale, df))}


def numeric_counts(edges, values):
    counts = [0] * (len(edges) + 2)
    for v in values:
        counts[-1 if v is None or math.isnan(v) else int(np.searchsorted(edges, v, side="left"))] += 1
    return counts


def level_counts(levels, values):
    counts = [0] * (len(levels) + 2)
    for v in values:
        counts[-1 if v is None or v == "" else levels.index(v) if v in levels else -2] += 1
    return counts


def drift(rng, shift):
    base = rng.beta(1.2, 30, 800)
    sample = rng.beta(1.2, 30 / (1 + shift), 600)
    sample[:5] = np.nan
    edges = sorted(set(float(q) for q in np.quantile(base, [k / 10 for k in range(1, 10)])))
    levels = ["C", "R", "B"]
    base_levels = list(rng.choice(levels, 800, p=[0.5, 0.4, 0.1]))
    sample_levels = list(rng.choice(levels + ["T", ""], 600, p=[0.5 - shift / 4, 0.4, 0.1, shift / 4, 0.0]))
    sample_levels[:3] = [None, None, ""]
    bc, sc = numeric_counts(edges, base.tolist()), numeric_counts(edges, sample.tolist())
    bl, sl = level_counts(levels, base_levels), level_counts(levels, sample_levels)
    return {"baseline": base.tolist(), "sample": [None if math.isnan(v) else v for v in sample.tolist()],
            "edges": edges, "baselineCounts": bc, "sampleCounts": sc, "psi": psi(bc, sc),
            "levels": levels, "baselineLevels": [str(v) for v in base_levels], "sampleLevels": [
                None if v is None else str(v) for v in sample_levels],
            "levelBaselineCounts": bl, "levelSampleCounts": sl, "csi": psi(bl, sl)}


def case(name, pd, challenger, y):
    pd = [float(p) for p in pd]
    challenger = [float(p) for p in challenger]
    y = [int(v) for v in y]
    out = {"name": name, "pd": pd, "challenger": challenger, "outcomes": y}
    out.update(discrimination(pd, challenger, y))
    out.update(calibration(pd, y))
    out["bands"] = table(band_groups(pd, y))
    deciles = decile_groups(pd, y)
    out["deciles"] = table(deciles)
    out["hosmerLemeshow"] = hosmer(deciles)
    return out


def cases():
    rng = np.random.default_rng(2323)
    out = []
    # small, with ties in the scores and in both classes
    pd = [0.01, 0.02, 0.02, 0.05, 0.05, 0.05, 0.1, 0.1, 0.2, 0.3, 0.3, 0.6, 0.02, 0.05, 0.2, 0.01, 0.1, 0.6, 0.3, 0.9]
    y = [0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1]
    ch = [0.02, 0.02, 0.02, 0.1, 0.05, 0.02, 0.3, 0.1, 0.1, 0.3, 0.2, 0.6, 0.01, 0.1, 0.2, 0.05, 0.05, 0.3, 0.3, 0.6]
    out.append(case("small with ties", pd, ch, y))
    # moderate random: PDs from a beta, outcomes at 1.3 times the PD, a noisier challenger
    n = 600
    pd = rng.beta(1.5, 25, n)
    y = (rng.uniform(size=n) < np.minimum(1.3 * pd, 1)).astype(int)
    ch = 1 / (1 + np.exp(-(np.log(pd / (1 - pd)) + rng.normal(0, 0.6, n))))
    out.append(case("moderate random", pd, ch, y))
    # extreme PDs, including 0 and 1, across every band
    n = 400
    pd = np.exp(rng.uniform(np.log(1e-7), np.log(0.999), n))
    pd[:3] = [0.0, 1.0, 1e-300]
    y = (rng.uniform(size=n) < pd).astype(int)
    y[0], y[1] = 0, 1
    ch = np.clip(pd * np.exp(rng.normal(0, 1, n)), 0, 1)
    out.append(case("extreme PDs", pd, ch, y))
    # a larger tape, well calibrated (scores rounded to 3 decimals: many ties)
    n = 3000
    pd = np.round(rng.beta(1.2, 40, n), 3)
    y = (rng.uniform(size=n) < pd).astype(int)
    ch = np.round(pd + rng.normal(0, 0.01, n).clip(-pd, 1 - pd), 3)
    out.append(case("calibrated, rounded scores", pd, ch, y))
    return out


def special_grid():
    rows = {"betaIncInv": [], "betaInc": [], "gamma": [], "chi2Ppf": [], "norm": [], "normPpf": [], "binomTest": []}
    for a, b in [(0.5, 0.5), (0.5, 1000.5), (3.5, 97.5), (12.5, 8.5), (200.5, 2800.5), (1.5, 0.5)]:
        for p in [1e-10, 0.001, 0.025, 0.5, 0.975, 0.999]:
            rows["betaIncInv"].append([a, b, p, float(special.betaincinv(a, b, p))])
        for x in [1e-8, 0.01, 0.2, 0.5, 0.9]:
            rows["betaInc"].append([a, b, x, float(special.betainc(a, b, x))])
    for a in [0.5, 1, 4.5, 30, 250]:
        for x in [0.01, 0.7, a, 2 * a + 5, 10 * a + 40]:
            rows["gamma"].append([a, x, float(special.gammainc(a, x)), float(special.gammaincc(a, x))])
    for k in [1, 2, 5, 9, 40, 200]:
        for q in [0.01, 0.5, 0.95, 0.99, 0.9999]:
            rows["chi2Ppf"].append([q, k, float(stats.chi2.ppf(q, k))])
    for z in [-37, -20, -8.5, -3, -0.5, 0, 1e-3, 1.96, 6, 9]:
        rows["norm"].append([z, float(stats.norm.cdf(z)), float(stats.norm.sf(z))])
    for p in [1e-300, 1e-12, 1e-5, 0.02425, 0.3, 0.5, 0.8, 0.975, 1 - 1e-9]:
        rows["normPpf"].append([p, float(stats.norm.ppf(p))])
    for k, n, p in [(0, 10, 0.1), (3, 100, 0.01), (7, 20, 0.35), (50, 100, 0.5), (10, 10, 0.3), (0, 5000, 0.002),
                    (31, 5000, 0.004), (2, 400, 0.0123), (120, 1000, 0.1), (95, 1000, 0.1), (1, 1, 0.5), (0, 3, 0.0),
                    (3, 3, 1.0), (2, 3, 0.0), (17, 40000, 0.0003)]:
        rows["binomTest"].append([k, n, p, float(stats.binomtest(k, n, p).pvalue)])
    return rows


def refusals():
    """Inputs every statistic refuses (sklearn refuses the one-class AUC too) and the field named."""
    for y in ([0, 0, 0], [1, 1, 1]):
        try:
            roc_auc_score(y, [0.1, 0.2, 0.3])
            raise AssertionError("sklearn accepted a single class")
        except ValueError:
            pass
    return [
        {"statistic": "auc", "pd": [0.1, 0.2, 0.3], "outcomes": [0, 0, 0], "field": "outcomes"},
        {"statistic": "auc", "pd": [0.1, 0.2, 0.3], "outcomes": [1, 1, 1], "field": "outcomes"},
        {"statistic": "auc", "pd": [], "outcomes": [], "field": "outcomes"},
        {"statistic": "auc", "pd": [0.1, "NaN", 0.3], "outcomes": [0, 1, 1], "field": "score"},
        {"statistic": "auc", "pd": [0.1, 0.2, 0.3], "outcomes": [0, 2, 1], "field": "outcomes"},
        {"statistic": "aucDeLong", "pd": [0.1, 0.2, 0.3], "outcomes": [0, 1, 1], "field": "outcomes"},
        {"statistic": "brier", "pd": [0.1, 1.2, 0.3], "outcomes": [0, 1, 1], "field": "pd"},
        {"statistic": "brier", "pd": [0.1, -0.01], "outcomes": [0, 1], "field": "pd"},
        {"statistic": "brier", "pd": [], "outcomes": [], "field": "outcomes"},
        {"statistic": "calibrationSlope", "pd": [0.1, 0.2, 0.3], "outcomes": [0, 0, 0], "field": "outcomes"},
        {"statistic": "calibrationSlope", "pd": [0.1, 0.2, 0.3, 0.4], "outcomes": [0, 0, 1, 1], "field": "outcomes"},
        {"statistic": "calibrationSlope", "pd": [0.2, 0.2, 0.2], "outcomes": [0, 1, 1], "field": "pd"},
        {"statistic": "calibrationInTheLarge", "pd": [0.1, 0.2], "outcomes": [1, 1], "field": "outcomes"},
        {"statistic": "ks", "pd": [0.1, "Infinity"], "outcomes": [0, 1], "field": "score"},
        {"statistic": "deciles", "pd": [0.1, 0.2], "outcomes": [0, 1], "field": "outcomes"},
        {"statistic": "psi", "baseline": [0, 0, 0], "sample": [1, 2, 3], "field": "baseline"},
        {"statistic": "psi", "baseline": [1, 2, 3], "sample": [0, 0, 0], "field": "sample"},
        {"statistic": "psi", "baseline": [1, 2], "sample": [1, 2, 3], "field": "baseline"},
    ]


def render():
    rng = np.random.default_rng(2324)
    doc = {"policy": {"bands": BANDS, "rho": RHO, "alpha": ALPHA, "green": GREEN, "red": RED, "epsilon": EPSILON},
           "cases": cases(), "drift": [drift(rng, 0.0), drift(rng, 1.0)], "special": special_grid(),
           "refusals": refusals()}
    parts = []
    for key, value in doc.items():
        if isinstance(value, list):
            parts.append(f'"{key}":' + lines(value, "  "))
        else:
            parts.append(f'"{key}":' + compact(value))
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main(argv=None):
    return fixtures.main(argv, __doc__.splitlines()[0], FIXTURE, "scripts/validation_fixture.py", render)


if __name__ == "__main__":
    sys.exit(main())
