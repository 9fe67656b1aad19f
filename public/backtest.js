/**
 * Backtest of a tape with outcomes (a default_36m column): POST /pools/backtest with the file as the
 * body and the pool form's model, then the discrimination (AUC with its DeLong interval, Gini, KS,
 * Brier), the overall and calibration traffic lights, the score PSI with its band, a calibration chart
 * (mean PD against the observed rate per PD band, the Jeffreys interval as error bars, the diagonal)
 * and the PD band table with each band's light; with the model's stability baseline, each field's CSI with
 * its band and the bin that moved most.
 */
import { call, describeWithDetails } from './api.js';
import { plotChart } from './charts.js';
import { count, el, pct, table } from './format.js';
import { postTape } from './pool.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** A figure the outcomes cannot support answers { unavailable: why }. */
const missing = (x) => x === null || x === undefined || typeof x.unavailable === 'string';
const fixed = (x, digits) => (missing(x) ? 'not available' : x.toFixed(digits));
/** 0.005 → "0.5%", 1 → "100%": axis ticks. */
const shortPct = (p) => `${Number((p * 100).toPrecision(3))}%`;
const light = (name) => el('span', { class: `light ${name}` }, name);

/**
 * @param {{ sample_tape: string | null }} backtest
 * @param {{ options: () => Record<string, string> }} pool
 */
export function setUpBacktest(backtest, pool) {
  const status = $('backtest-form-status');
  const fileInput = /** @type {HTMLInputElement} */ ($('backtest-tape'));
  const say = (text, kind = '') => {
    status.textContent = text;
    status.className = `status ${kind}`.trim();
  };
  $('use-backtest-sample').hidden = !backtest.sample_tape;
  $('backtest-sample-note').hidden = !backtest.sample_tape;

  const show = (r, name, sample) => {
    $('backtest-results').hidden = false;
    const auc = r.auc;
    const psiBand = r.drift?.score?.band;
    const figures = [
      ['Overall light', light(r.light)],
      [
        `AUC${missing(auc) ? '' : ` (${Math.round(auc.level * 100)}% interval)`}`,
        missing(auc) ? 'not available' : `${auc.value.toFixed(3)} (${auc.lower.toFixed(3)}–${auc.upper.toFixed(3)})`,
      ],
      ['Gini', fixed(r.gini?.value ?? r.gini, 3)],
      ['KS', fixed(r.ks?.value ?? r.ks, 3)],
      ['Brier score', fixed(r.brier, 4)],
      ['Calibration light', light(r.calibration.light)],
      ['Score PSI', r.psi === null ? 'not available' : `${r.psi.toFixed(4)}${psiBand ? ` (${psiBand})` : ''}`],
      ['Loans with outcomes', `${count(r.loans)} (${count(r.defaults)} defaults)`],
    ];
    $('backtest-summary').replaceChildren(
      ...figures.map(([term, value]) => el('div', { class: 'figure' }, el('dt', {}, term), el('dd', {}, value))),
    );
    const policy = r.calibration.policy;
    $('backtest-about').replaceChildren(
      `${name}: model ${r.model} ${r.version}, scenario ${r.scenario}; ${count(r.counts.labelled)} loans with an outcome, ` +
        `${count(r.counts.unlabelled)} without (scored for the drift only), ${count(r.counts.refused)} refused. ` +
        `A band is green when its ${policy.test} test's p ≥ ${policy.green}, red below ${policy.red}; the overall light is ` +
        `the worse of the calibration light (${policy.overall === 'worst' ? 'the worst band' : 'the whole pool'}) and the score PSI's band ` +
        `(stable < 0.1 ≤ moderate < 0.25 ≤ significant). ` +
        (r.psi === null ? `PSI not available: ${r.drift_unavailable ?? 'the model has no stability baseline'}. ` : ''),
      el('span', { class: 'synthetic' }, 'The models were trained on SYNTHETIC data'),
      sample ? ' and the sample tape’s outcomes are SYNTHETIC, drawn at the model’s PDs.' : '.',
    );
    const rows = r.calibration.pd_bands.rows;
    const figure = $('fig-calibration');
    plotChart(/** @type {HTMLElement} */ (figure.querySelector('.chart')), {
      points: rows.map((b) => ({
        label: `${b.group}: mean PD ${pct(b.mean_pd)}, observed ${pct(b.observed_rate)} (${count(b.defaults)} of ${count(b.loans)}), interval ${pct(b.observed_rate_lower)}–${pct(b.observed_rate_upper)}, ${b.light}`,
        x: b.mean_pd,
        y: b.observed_rate,
        lo: b.observed_rate_lower,
        hi: b.observed_rate_upper,
        className: b.light,
      })),
      diagonal: true,
      sqrt: true,
      x: { title: 'Mean PD (square-root scale)', format: pct, tick: shortPct },
      y: { title: 'Observed default rate', format: pct, tick: shortPct },
      summary: `Calibration per PD band: ${rows.map((b) => `${b.group} mean PD ${pct(b.mean_pd)}, observed ${pct(b.observed_rate)}, ${b.light}`).join('; ')}.`,
    });
    const p = `${policy.test}_p`;
    $('backtest-bands').replaceChildren(
      table(
        null,
        [
          'PD band',
          'Loans',
          'Defaults',
          'Mean PD',
          'Observed rate',
          'Jeffreys interval',
          `p (${policy.test})`,
          'Light',
        ],
        rows.map((b) => [
          b.group,
          count(b.loans),
          count(b.defaults),
          pct(b.mean_pd),
          pct(b.observed_rate),
          `${pct(b.observed_rate_lower)}–${pct(b.observed_rate_upper)}`,
          fixed(b[p], 3),
          light(b.light),
        ]),
      ),
    );
    showDrift(r);
  };

  /** Each baseline field's CSI, most shifted first, with the bin whose share moved most. */
  const showDrift = (r) => {
    const fields = Object.entries(r.drift?.fields ?? {}).sort(([, a], [, b]) => b.psi - a.psi);
    $('backtest-drift-section').hidden = fields.length === 0;
    const bandLight = { stable: 'green', moderate: 'amber', significant: 'red' };
    $('backtest-drift').replaceChildren(
      table(
        null,
        ['Field', 'CSI', 'Band', 'Bin that moved most', 'Its contribution'],
        fields.map(([name, f]) => {
          const top = f.contributions.reduce((best, c, i) => (c > (f.contributions[best] ?? -1) ? i : best), 0);
          return [
            name,
            f.psi.toFixed(4),
            el('span', { class: `light ${bandLight[f.band] ?? 'green'}` }, f.band),
            f.labels[top] ?? '',
            fixed(f.contributions[top], 4),
          ];
        }),
      ),
    );
  };

  const run = async (tape, sample) => {
    $('backtest-tape-error').hidden = true;
    say(`Backtesting ${tape.name}…`);
    const answer = await call(`pools/backtest?${new URLSearchParams(pool.options())}`, postTape(tape));
    if (!answer.ok) {
      $('backtest-results').hidden = true;
      const box = $('backtest-tape-error');
      box.textContent = describeWithDetails(answer);
      box.hidden = false;
      say('The backtest was refused: see the message under the file.', 'bad');
      return;
    }
    say(`Backtested ${count(answer.body.loans)} loans with outcomes from ${tape.name}.`, 'good');
    show(answer.body, tape.name, sample);
  };

  $('backtest-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const file = fileInput.files?.[0];
    if (!file) {
      const box = $('backtest-tape-error');
      box.textContent = 'Choose a tape with a default_36m column first, or use the sample backtest tape.';
      box.hidden = false;
      say('No file chosen.', 'bad');
      fileInput.focus();
      return;
    }
    void run({ blob: file, name: file.name }, false);
  });
  $('use-backtest-sample').addEventListener('click', async () => {
    if (!backtest.sample_tape) return;
    say('Loading the sample backtest tape…');
    const response = await fetch(backtest.sample_tape).catch(() => null);
    if (!response?.ok) {
      say('The sample backtest tape could not be loaded.', 'bad');
      return;
    }
    void run({ blob: await response.blob(), name: 'backtest-tape.csv' }, true);
  });
}
