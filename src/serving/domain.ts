import type { LoanRecord, Model } from '../runtime/index.js';
import { marketRateTableEnd } from '../scenario/index.js';

/**
 * Out-of-domain flags (issue 21 item 4; docs/API.md, "Out of domain"): a prediction for a loan, or under
 * a scenario, that the model's training data did not cover is answered, and says so. The training
 * support is what the pipeline stored in the artifact (`training.support`: per numeric field its min,
 * 1st and 99th percentile and max over the training rows); a model without it raises no flag.
 *
 * A value outside [min, max] is flagged: the model extrapolates there (trees flat, linear models
 * linearly). A first payment after the market-rate table's last year is flagged too: its note-rate
 * spread is read against that year's average.
 */

export interface DomainFlag {
  readonly field: string;
  readonly value: number;
  readonly reason: string;
}

interface Range {
  readonly field: string;
  readonly min: number;
  readonly max: number;
  /** Values the record uses for "missing" (never flagged). */
  readonly missing: readonly number[];
}

interface Domain {
  readonly ranges: readonly Range[];
  /** The last first-payment month (YYYYMM) whose market rate is known, when the model reads the note-rate spread. */
  readonly lastRateMonth: number | undefined;
}

const domains = new WeakMap<Model, Domain>();

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** The model's training support, read once per model (malformed or absent entries are skipped). */
function domainOf(model: Model): Domain {
  let d = domains.get(model);
  if (d) return d;
  const support = model.training.support;
  const ranges: Range[] = [];
  const fields = new Map(model.fields.map((f) => [f.name, f]));
  if (typeof support === 'object' && support !== null && !Array.isArray(support)) {
    for (const [name, s] of Object.entries(support as Record<string, unknown>)) {
      if (typeof s !== 'object' || s === null) continue;
      const { min, max } = s as { min?: unknown; max?: unknown };
      if (!finite(min) || !finite(max) || min > max) continue;
      const field = fields.get(name);
      const missing = field?.kind === 'numeric' ? field.missingValues : [];
      // first_payment_date is in the support though no column reads it: the vintages trained on.
      if (field?.kind === 'numeric' || (field === undefined && name === 'first_payment_date')) {
        ranges.push({ field: name, min, max, missing });
      }
    }
  }
  const lastRateMonth = fields.has('note_rate_spread') ? marketRateTableEnd() : undefined;
  d = { ranges, lastRateMonth };
  domains.set(model, d);
  return d;
}

/** Why `record` (a loan with its scenario features) is outside the model's training domain; empty when it is not. */
export function outOfDomain(model: Model, record: LoanRecord): DomainFlag[] {
  const { ranges, lastRateMonth } = domainOf(model);
  const flags: DomainFlag[] = [];
  for (const r of ranges) {
    const v = record[r.field];
    if (!finite(v) || r.missing.includes(v) || (v >= r.min && v <= r.max)) continue;
    flags.push({
      field: r.field,
      value: v,
      reason: `${v < r.min ? 'below' : 'above'} the training range ${r.min} to ${r.max}`,
    });
  }
  const fpd = record.first_payment_date;
  if (lastRateMonth !== undefined && finite(fpd) && fpd > lastRateMonth) {
    flags.push({
      field: 'first_payment_date',
      value: fpd,
      reason: `after the market-rate table (last month ${lastRateMonth}): note_rate_spread is read against that month's rate`,
    });
  }
  return flags;
}
