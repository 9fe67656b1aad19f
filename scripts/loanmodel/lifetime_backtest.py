"""Vintage backtest of the lifetime-loss engine against the simulated loan history (issue 22, item 5;
docs/LOSS.md "Vintage backtest").

The history (history.py) draws, each month, whether a *current* loan misses its payment (the delinquency-
entry "default" hazard h) or prepays (smm), as competing risks: u < h misses, h ≤ u < h + smm prepays. Until
its first missed payment a loan is current and pays as scheduled, so along that path its balance, its
mark-to-market CLTV (its state's house prices), the market rate and therefore h and smm are known in advance
for every month: they are the history's true default-timing and prepayment curves of that loan
(`Batch.market`, `Batch.current_rates`). The backtest:

1. simulates `n` loans (vintages 1999–2010) for `horizon` months and records, per loan, the age of its first
   missed payment (the default event whose hazard the history draws);
2. gives the lifetime engine (lifetime.py, the Python reference the TypeScript engine equals to 1e-10) each
   loan's true curves as prescribed monthly vectors: MDR_t = h_t and, since the engine lets the survivors of
   the month's defaults prepay, SMM_t = smm_t / (1 − h_t) (the same transition probabilities);
3. compares, per vintage and at months 36 and `horizon`, the projected cumulative default rate (the mean of
   the loans' projected cumulative default probabilities) with the realised share of loans whose first miss
   came by then, inside the Clopper–Pearson interval of the realised count at level 1 − α/(checks).

`curve(h)` variants (hazard × 1.5, timing 12 months late) show the check fails a wrong curve.

CLI (prints the table of docs/LOSS.md): /usr/bin/python3 -m scripts.loanmodel.lifetime_backtest [--n 30000]
"""

import argparse
import sys

import numpy as np
from scipy import stats

from . import history, lifetime

HORIZONS = (36, 108)  # every vintage (first payments 1999–2010) has 108 months of history by 2019-12
ALPHA = 0.01  # family-wise, Bonferroni over vintages × horizons


class _Recorder(history.Batch):
    """A history batch that records each loan's first missed payment (age; −1 if none)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.first_miss = np.full(self.n, -1, np.int64)

    def step(self, age, want_rows):
        current = self.active & (self.paid == age - 1) & (age <= self.last_age)
        out = super().step(age, want_rows)
        missed = current & self.active & (self.paid == age - 1) & (self.first_miss < 0)
        self.first_miss[missed] = age
        return out


def true_curves(batch, horizon):
    """The loans' monthly h and smm (n × horizon, by age 1…horizon) along the path where they stay current."""
    live = np.arange(batch.n)
    cents = batch.upb0.copy()
    h = np.zeros((batch.n, horizon))
    smm = np.zeros((batch.n, horizon))
    for age in range(1, horizon + 1):
        cal, _, cltv, mkt = batch.market(live, age, cents)
        on = age <= batch.term
        hh, ss = batch.current_rates(live, age, cltv, cal, mkt)
        h[:, age - 1] = np.where(on, hh, 0.0)
        smm[:, age - 1] = np.where(on, ss, 0.0)
        cents = history.amortise(cents, batch.rate_milli, batch.pmt)
    return h, smm


def simulate(n, seed, horizon):
    """Vintage, first-miss age, true h and smm per loan, for the first `n` loans of the history (n ≤ 50,000)."""
    if n > 50_000:
        raise ValueError("n is at most one origination block (50,000)")
    df, L = history.origination_block(seed, 0)
    vintage, first, hs, ss, loans = [], [], [], [], []
    for s in range((n + history.BATCH - 1) // history.BATCH):
        lo = s * history.BATCH
        keep = min(history.BATCH, n - lo)
        Ls = L.iloc[lo:lo + history.BATCH].reset_index(drop=True)
        batch = _Recorder(Ls, seed, s, horizon)
        h, smm = true_curves(batch, horizon)  # before run(): from the origination state
        batch.run(want_rows=False)
        vintage.append(Ls["year"].to_numpy()[:keep])
        first.append(batch.first_miss[:keep])
        hs.append(h[:keep])
        ss.append(smm[:keep])
        loans += [{"balance": b / 100, "rate": r, "term": t, "age": 0, "pd": 0.0, "value": v, "mi_pct": m}
                  for b, r, t, v, m in zip(batch.upb0[:keep].tolist(), batch.rate[:keep].tolist(),
                                           batch.term[:keep].tolist(), batch.value0[:keep].tolist(),
                                           batch.mi[:keep].tolist())]
    return np.concatenate(vintage), np.concatenate(first), np.concatenate(hs), np.concatenate(ss), loans


def project(loans, h, smm, horizon):
    """Cumulative default probability per loan at each of HORIZONS, projected by the engine with these curves."""
    options = {"timing": "seasoning", "prepayment": {"kind": "none"}, "recovery_lag": 0,
               "mdr": h, "smm": np.where(h < 1, smm / np.where(h < 1, 1 - h, 1), 0.0)}
    out = {}
    for m in HORIZONS:
        opts = {**options, "mdr": options["mdr"][:, :m], "smm": options["smm"][:, :m]}  # no default after month m
        short = [{**x, "term": min(x["term"], m)} for x in loans]  # months after m change no default up to m
        r, _, _ = lifetime.project(short, [np.ones(1)] * len(loans), opts, m)
        out[m] = r["lifetime_pd"]
    return out


def hazard_times(h, factor):
    """The hazard intensity × factor (every month's −log(1 − h))."""
    return -np.expm1(factor * np.log1p(-h))


def timing_late(h, months):
    """The seasoning ramp `months` later: each month's intensity × seasoning(age − months) / seasoning(age)."""
    ages = np.arange(1, h.shape[1] + 1)
    ratio = lifetime.seasoning(ages - months) / lifetime.seasoning(ages)
    return -np.expm1(ratio * np.log1p(-h))


def backtest(vintage, first, projected):
    """Rows per vintage × horizon: loans, realised defaults, interval, projected rate, inside."""
    years = np.unique(vintage)
    level = ALPHA / (len(years) * len(HORIZONS))
    rows = []
    for y in years:
        v = vintage == y
        n = int(v.sum())
        for m in HORIZONS:
            k = int(((first[v] > 0) & (first[v] <= m)).sum())
            lo = stats.beta.ppf(level / 2, k, n - k + 1) if k > 0 else 0.0
            hi = stats.beta.ppf(1 - level / 2, k + 1, n - k) if k < n else 1.0
            p = float(projected[m][v].mean())
            rows.append({"vintage": int(y), "months": m, "loans": n, "defaults": k, "realised": k / n,
                         "low": float(lo), "high": float(hi), "projected": p, "inside": bool(lo <= p <= hi)})
    return rows


def run(n=30_000, seed=1):
    """The backtest with the true curves and with two wrong ones: {name: rows}."""
    horizon = max(HORIZONS)
    vintage, first, h, smm, loans = simulate(n, seed, horizon)
    cases = {"true curves": h, "hazard × 1.5": hazard_times(h, 1.5), "timing 12 months late": timing_late(h, 12)}
    return {name: backtest(vintage, first, project(loans, hh, smm, horizon)) for name, hh in cases.items()}


def table(results):
    true = results["true curves"]
    names = [k for k in results if k != "true curves"]
    head = ("| vintage | months | loans | realised defaults | realised rate | interval | projected (true curves) | "
            + " | ".join(f"projected ({k})" for k in names) + " |")
    lines = [head, "|" + "---:|" * (7 + len(names))]
    for i, r in enumerate(true):
        mark = lambda x, lo=r["low"], hi=r["high"]: f"{100 * x:.2f} %" + ("" if lo <= x <= hi else " ✗")  # noqa: E731
        lines.append(f"| {r['vintage']} | {r['months']} | {r['loans']:,} | {r['defaults']:,} | {100 * r['realised']:.2f} % | "
                     f"{100 * r['low']:.2f}–{100 * r['high']:.2f} % | {mark(r['projected'])} | "
                     + " | ".join(mark(results[k][i]["projected"]) for k in names) + " |")
    fails = ", ".join(f"{k}: {sum(not r['inside'] for r in results[k])} of {len(true)} outside" for k in results)
    return "\n".join(lines) + "\n\n" + fails


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m scripts.loanmodel.lifetime_backtest", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    print(table(run(args.n, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
