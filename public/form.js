/**
 * The loan form, drawn from /ui/form.json (the service's own field table), and its checks. A
 * problem is worded exactly as the API words it ("must be an integer from 300 to 850 (FICO points),
 * or 9999 / null when not available, got the number 900"), so the page and the API never disagree.
 */
import { count, el } from './format.js';

/** Like the API's describeValue: how a refused value is quoted in a message. */
export function describeValue(value) {
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? `the number ${value}` : String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return typeof value;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const GROUPED = /^\d{1,3}(,\d{3})+(\.\d+)?$/; // 312,000 → 312000

function hintOf(f) {
  if (f.kind === 'text') return `Optional, up to ${f.max_length} characters. Echoed back, not used by the models.`;
  const missing = f.sentinel !== null ? ' Leave empty if not available.' : '';
  if (f.kind === 'numeric') {
    const n = (x) => (f.unit === 'YYYYMM' ? String(x) : count(x));
    const unit = f.unit === '%' ? '%' : ` ${f.unit}`;
    return `${n(f.min)}–${n(f.max)}${unit}.${missing} Default ${n(f.example)}.`;
  }
  const meaning = f.codes.find((c) => c.code === f.example)?.meaning;
  return `Default ${f.example}${meaning && meaning !== f.example ? ` (${meaning})` : ''}.${missing}`;
}

function controlOf(f) {
  const common = { id: f.name, name: f.name, 'aria-describedby': `${f.name}-hint` };
  if (f.kind === 'code') {
    const options = f.codes.map((c) =>
      el('option', { value: c.code }, c.meaning === c.code ? c.code : `${c.code} – ${c.meaning}`),
    );
    if (f.sentinel !== null) options.push(el('option', { value: '' }, 'Not available'));
    return el('select', common, options);
  }
  const numeric = f.kind === 'numeric';
  return el('input', {
    ...common,
    type: 'text',
    inputmode: numeric ? (f.integer ? 'numeric' : 'decimal') : null,
    maxlength: numeric ? null : f.max_length,
    autocomplete: 'off',
    spellcheck: 'false',
  });
}

export class LoanForm {
  /** @param {HTMLElement} holder @param {any[]} fields */
  constructor(holder, fields) {
    this.fields = fields;
    holder.replaceChildren(
      ...fields.map((f) =>
        el(
          'div',
          { class: `field${f.kind === 'text' ? ' wide' : ''}` },
          el('label', { for: f.name }, f.label, ' ', el('span', { class: 'api-name' }, f.name)),
          controlOf(f),
          el('p', { class: 'hint', id: `${f.name}-hint` }, hintOf(f)),
          el('p', { class: 'error', id: `${f.name}-error`, hidden: true }),
        ),
      ),
    );
    this.reset();
  }

  control(name) {
    return /** @type {HTMLInputElement | HTMLSelectElement | null} */ (document.getElementById(name));
  }

  reset() {
    for (const f of this.fields) {
      const control = this.control(f.name);
      if (control) control.value = String(f.example);
    }
    this.clearErrors();
  }

  /** Reads one field: [value to send (undefined: leave out), problem or null]. */
  read(f) {
    const raw = /** @type {HTMLInputElement} */ (this.control(f.name)).value.trim();
    if (f.kind === 'code') return [raw === '' ? null : raw, null];
    if (f.kind === 'text') {
      if (raw === '') return [undefined, null];
      return raw.length <= f.max_length ? [raw, null] : [raw, `must be ${f.expects}, got ${describeValue(raw)}`];
    }
    if (raw === '') return f.sentinel !== null ? [null, null] : [undefined, f.required_message];
    const text = GROUPED.test(raw) ? raw.replaceAll(',', '') : raw;
    const value = NUMBER.test(text) ? Number(text) : raw;
    const valid =
      typeof value === 'number' &&
      (value === f.sentinel || (value >= f.min && value <= f.max && (!f.integer || Number.isInteger(value))));
    if (!valid) return [value, `must be ${f.expects}, got ${describeValue(value)}`];
    if (f.name === 'first_payment_date') {
      const month = value % 100;
      if (month < 1 || month > 12) return [value, `month ${month} of ${value} is not 01–12 (YYYYMM)`];
    }
    return [value, null];
  }

  /** The loan as the API takes it, or the problems found ({ field: message }). */
  loan() {
    const loan = {};
    const problems = {};
    for (const f of this.fields) {
      const [value, problem] = this.read(f);
      if (problem) problems[f.name] = problem;
      else if (value !== undefined) loan[f.name] = value;
    }
    return { loan, problems };
  }

  clearErrors() {
    for (const f of this.fields) this.showError(f.name, null);
  }

  showError(name, message) {
    const control = this.control(name);
    const box = document.getElementById(`${name}-error`);
    if (!control || !box) return false;
    box.textContent = message ? `${this.fields.find((f) => f.name === name)?.label ?? name} ${message}` : '';
    box.hidden = !message;
    if (message) {
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', `${name}-error ${name}-hint`);
    } else {
      control.removeAttribute('aria-invalid');
      control.setAttribute('aria-describedby', `${name}-hint`);
    }
    return true;
  }

  /**
   * Shows problems at their fields ({ field: message }) and moves the focus to the first one, in
   * form order. Returns the problems that name no field of the form.
   */
  showErrors(problems) {
    this.clearErrors();
    const elsewhere = Object.entries(problems).filter(([name, message]) => !this.showError(name, message));
    const first = this.fields.find((f) => problems[f.name]);
    if (first) this.control(first.name)?.focus();
    return elsewhere;
  }
}
