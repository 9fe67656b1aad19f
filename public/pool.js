/**
 * Scoring a loan tape: POST /pools/score with the file as the body (text/csv, or application/json for
 * a .json tape), then the pool summary and eight charts (PD bands, FICO, LTV, state, vintage) and a
 * download of the per-loan results (?loans=true as CSV). Refused rows are listed by line and field.
 */
import { call, describeFailure, download } from './api.js';
import { barChart, columnChart } from './charts.js';
import { count, el, pct, table, usd, usdShort } from './format.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const LGD = /^\s*[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/** "line 12, credit_score" → ["12", "credit_score"]; "loans[3].dti" → ["loans[3]", "dti"]. */
function where(field) {
  const line = /^line (\d+(?: \(header\))?)(?:, (.*))?$/.exec(field);
  if (line) return [line[1], line[2] ?? ''];
  const json = /^(loans\[\d+\])\.?(.*)$/.exec(field);
  return json ? [json[1], json[2]] : ['', field];
}

/** Shows a field's problem under it (the API's "must be …" after the field's label), or clears it. */
export function setError(id, message) {
  const box = $(`${id}-error`);
  const control = $(id);
  // The API's field messages start lower case ("must be …"): name the field first, as the form does.
  const label = document.querySelector(`label[for="${id}"]`)?.textContent;
  box.textContent = message && /^[a-z]/.test(message) && label ? `${label} ${message}` : (message ?? '');
  box.hidden = !message;
  if (message) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
}

/**
 * @param {{ default_lgd: number, max_bytes: number, max_rows: number, sample_tape: string | null }} pool
 * @returns {{ setModels: (models: { name: string, version: string }[], defaultModel?: string) => void }}
 */
/** States drawn in a chart (the largest balances); the table lists every one. */
const STATES_DRAWN = 15;

/**
 * The request that sends a tape as the body: JSON for a .json file, else CSV (a Freddie Mac file is
 * pipe-delimited text).
 * @param {{ blob: Blob, name: string }} tape
 */
export const postTape = (tape) => ({
  method: 'POST',
  headers: { 'content-type': /\.json$/i.test(tape.name) ? 'application/json' : 'text/csv' },
  body: tape.blob,
});

export function setUpPool(pool) {
  const status = $('pool-form-status');
  const modelSelect = /** @type {HTMLSelectElement} */ ($('pool-model'));
  const lgdInput = /** @type {HTMLInputElement} */ ($('lgd'));
  const fileInput = /** @type {HTMLInputElement} */ ($('tape'));
  const skip = /** @type {HTMLInputElement} */ ($('skip-invalid'));
  let last = null; // the tape last sent: { blob, name }
  let lastQuery = null; // and its query

  const setModels = (models, defaultModel) => {
    const chosen = modelSelect.value || defaultModel;
    modelSelect.replaceChildren(
      ...(models.length
        ? models.map((m) => el('option', { value: m.name }, `${m.name} (${m.version})`))
        : [el('option', { value: '' }, "The service's default model")]),
    );
    if (models.some((m) => m.name === chosen)) modelSelect.value = chosen;
  };
  setModels([]);
  $('use-sample').hidden = !pool.sample_tape;
  $('sample-note').hidden = !pool.sample_tape;
  lgdInput.value = String(pool.default_lgd);
  $('tape-limits').textContent = `${count(pool.max_rows)} loans and ${count(Math.floor(pool.max_bytes / 1048576))} MB`;

  const say = (text, kind = '') => {
    status.textContent = text;
    status.className = `status ${kind}`.trim();
  };

  const showProblems = (title, text, head, rows, offerSkip) => {
    $('pool-problems').hidden = false;
    $('pool-problems-title').textContent = title;
    $('pool-problems-text').textContent = text;
    $('pool-problems-table').replaceChildren(table(null, head, rows, 99));
    $('score-valid').hidden = !offerSkip;
  };

  const showPool = (p, name) => {
    $('pool-results').hidden = false;
    const figures = [
      ['Loans scored', count(p.loan_count)],
      ['Total original balance', usd(p.total_original_upb)],
      ['Balance-weighted PD', pct(p.upb_weighted_pd)],
      ['Expected loss', usd(p.expected_loss)],
      ['Expected loss rate', pct(p.expected_loss_rate)],
      ['Average PD', pct(p.average_pd)],
    ];
    $('pool-summary').replaceChildren(
      ...figures.map(([term, value]) => el('div', { class: 'figure' }, el('dt', {}, term), el('dd', {}, value))),
    );
    $('pool-about').replaceChildren(
      `${name}: ${count(p.rows)} rows (${p.format}), ${count(p.rejected.count)} skipped; model ${p.model} ${p.version}; ` +
        `expected loss = PD × LGD ${p.lgd} × original balance. `,
      el('span', { class: 'synthetic' }, 'The models were trained on SYNTHETIC data'),
      ': these figures show how the service works, not the risk of real loans.',
    );
    /** A chart of one breakdown and its rows as a table; `bars`: horizontal bars of the largest balances. */
    const draw = (id, bands, value, text, what, bars = false) => {
      const figure = $(id);
      const chart = /** @type {HTMLElement} */ (figure.querySelector('.chart'));
      const title = figure.querySelector('h4')?.textContent;
      figure.querySelector('.note')?.remove();
      if (bars) {
        const drawn = [...bands].sort((a, b) => b.original_upb - a.original_upb).slice(0, STATES_DRAWN);
        barChart(chart, {
          rows: drawn.map((b) => ({ label: b.band, value: value(b), text: text(b) })),
          summary: `${title}: ${drawn.map((b) => `${b.band} ${text(b)}`).join(', ')}.`,
        });
        if (drawn.length < bands.length) {
          chart.before(
            el(
              'p',
              { class: 'note muted' },
              `The ${drawn.length} largest of ${bands.length} by balance; all in the table.`,
            ),
          );
        }
      } else {
        columnChart(chart, {
          columns: bands.map((b) => ({ label: b.band, value: value(b), text: text(b) })),
          summary: `${title}: ${bands.map((b) => `${b.band} ${text(b)}`).join(', ')}.`,
        });
      }
      figure.querySelector('details')?.remove();
      figure.append(
        el(
          'details',
          {},
          el('summary', {}, `${what} as a table`),
          el(
            'div',
            { class: 'table-wrap' },
            table(
              null,
              ['Band', 'Loans', 'Original balance', 'Share', 'Weighted PD', 'Expected loss'],
              bands.map((b) => [
                b.band,
                count(b.loans),
                usd(b.original_upb),
                pct(b.upb_share),
                pct(b.upb_weighted_pd),
                usd(b.expected_loss),
              ]),
            ),
          ),
        ),
      );
    };
    draw(
      'fig-pd-hist',
      p.pd_bands,
      (b) => b.loans,
      (b) => count(b.loans),
      'Loans by PD band',
    );
    draw(
      'fig-upb-pd',
      p.pd_bands,
      (b) => b.original_upb,
      (b) => usdShort(b.original_upb),
      'Balance by PD band',
    );
    draw(
      'fig-fico',
      p.by_fico,
      (b) => b.upb_weighted_pd,
      (b) => pct(b.upb_weighted_pd),
      'PD by credit score',
    );
    draw(
      'fig-ltv',
      p.by_ltv,
      (b) => b.upb_weighted_pd,
      (b) => pct(b.upb_weighted_pd),
      'PD by LTV',
    );
    const share = [(b) => b.upb_share, (b) => pct(b.upb_share)];
    const weighted = [(b) => b.upb_weighted_pd, (b) => pct(b.upb_weighted_pd)];
    draw('fig-state-share', p.by_state, ...share, 'Balance by state', true);
    draw('fig-state-pd', p.by_state, ...weighted, 'PD by state', true);
    draw('fig-vintage-share', p.by_vintage, ...share, 'Balance by vintage');
    draw('fig-vintage-pd', p.by_vintage, ...weighted, 'PD by vintage');
    $('download-loans-status').textContent = '';
  };

  /** The model and on_error of the form, as query parameters. */
  const options = (skipInvalid = skip.checked) => {
    const query = {};
    if (modelSelect.value) query.model = modelSelect.value;
    if (skipInvalid) query.on_error = 'skip';
    return query;
  };

  /** The sample tape, fetched from the service; null (and said) when it cannot be. */
  const sampleTape = async () => {
    const response = await fetch(pool.sample_tape).catch(() => null);
    if (!response?.ok) return null;
    return { blob: await response.blob(), name: 'sample-tape.csv' };
  };

  const score = async (tape, skipInvalid) => {
    for (const id of ['tape', 'pool-model', 'lgd']) setError(id, null);
    $('pool-problems').hidden = true;
    const lgd = lgdInput.value.trim();
    if (!LGD.test(lgd) || !(Number(lgd) > 0 && Number(lgd) <= 1)) {
      setError(
        'lgd',
        `must be a number in (0, 1], the loss given default as a share of the original balance, got ${JSON.stringify(lgd)}`,
      );
      say('Fix the loss given default: see the message next to it.', 'bad');
      lgdInput.focus();
      return;
    }
    last = tape;
    const query = new URLSearchParams({ lgd, ...options(skipInvalid) });
    lastQuery = query;
    say(`Scoring ${tape.name}…`);
    const answer = await call(`pools/score?${query}`, postTape(tape));
    if (!answer.ok) {
      $('pool-results').hidden = true;
      const details = answer.body.details ?? [];
      const rows = [];
      for (const d of details) {
        if (d.field === 'query.lgd') setError('lgd', d.message);
        else if (d.field === 'query.model') setError('pool-model', d.message);
        else if (d.field === 'query.format') setError('tape', d.message);
        else rows.push([...where(d.field), d.message]);
      }
      if ([413, 415].includes(answer.status) || (answer.status === 400 && answer.body.code === 'INVALID_TAPE'))
        setError('tape', answer.body.message);
      const firstBad = ['tape', 'pool-model', 'lgd'].find((id) => !$(`${id}-error`).hidden);
      if (firstBad) $(firstBad).focus();
      const invalid = /^(\d+) invalid rows?/.exec(answer.body.message ?? '');
      if (rows.length && invalid) {
        // Rows failed their checks: list them; scoring the others is one click away.
        const n = Number(invalid[1]);
        const listed = new Set(rows.map((r) => r[0])).size;
        const plural = n === 1 ? '' : 's';
        showProblems(
          'The tape was refused',
          `${count(n)} invalid row${plural}${listed < n ? ` (the first ${listed} listed)` : ''}: nothing was scored. ` +
            `Fix ${n === 1 ? 'it' : 'them'} and upload the tape again, or score the valid rows only.`,
          ['Line', 'Field', 'Problem'],
          rows,
          true,
        );
        say(`The tape was refused: ${count(n)} invalid row${plural}, listed below.`, 'bad');
      } else if (rows.length) {
        showProblems(
          'The tape was refused',
          'The file is not a loan tape the service can read:',
          ['Line', 'Field', 'Problem'],
          rows,
          false,
        );
        say('The tape was refused: see the problems below.', 'bad');
      } else {
        say(describeFailure(answer), 'bad');
      }
      return;
    }
    const p = answer.body;
    say(`Scored ${count(p.loan_count)} loans from ${tape.name}.`, 'good');
    showPool(p, tape.name);
    if (p.rejected.count > 0) {
      showProblems(
        'Rows skipped',
        `${count(p.rejected.count)} invalid row${p.rejected.count === 1 ? ' was' : 's were'} skipped` +
          `${p.rejected.rows.length < p.rejected.count ? ` (the first ${p.rejected.rows.length} listed)` : ''}:`,
        ['Line', 'Loan ID', 'Field', 'Problem'],
        p.rejected.rows.flatMap((r) =>
          r.problems.map((q) => [String(r.row), r.loan_sequence_number ?? '', where(q.field)[1], q.message]),
        ),
        false,
      );
    }
  };

  $('pool-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const file = fileInput.files?.[0];
    if (!file) {
      setError('tape', 'Choose a loan tape file first, or use the sample tape.');
      say('No file chosen.', 'bad');
      fileInput.focus();
      return;
    }
    void score({ blob: file, name: file.name }, skip.checked);
  });
  $('use-sample').addEventListener('click', async () => {
    say('Loading the sample tape…');
    const tape = await sampleTape();
    if (!tape) {
      say('The sample tape could not be loaded.', 'bad');
      return;
    }
    void score(tape, skip.checked);
  });
  $('download-loans').addEventListener('click', async () => {
    if (!last || !lastQuery) return;
    const status = $('download-loans-status');
    status.className = 'status';
    status.textContent = `Scoring ${last.name} again for its per-loan results…`;
    const query = new URLSearchParams(lastQuery);
    query.set('loans', 'true');
    const saved = await download(
      `pools/score?${query}`,
      postTape(last),
      `${last.name.replace(/\.[^.]*$/, '')}-loans.csv`,
    );
    status.className = `status ${saved.ok ? 'good' : 'bad'}`;
    status.textContent = saved.ok
      ? `Saved the per-loan results of ${last.name} (${count(saved.body.bytes)} bytes of CSV: row, loan ID, PD, log-odds, above the cut-off, expected loss).`
      : describeFailure(saved);
  });
  $('score-valid').addEventListener('click', () => {
    if (!last) return;
    skip.checked = true;
    void score(last, true);
  });
  /** The tape for the other views: the file chosen in this form, else the sample tape (null: none). */
  const tape = async () => {
    const file = fileInput.files?.[0];
    return file ? { blob: file, name: file.name } : pool.sample_tape ? sampleTape() : null;
  };
  return { setModels, tape, options };
}
