import { ArtifactError } from './errors.js';

/**
 * Small typed readers for untrusted JSON. Each one either returns the value with its proper type or
 * throws an `ArtifactError` naming the source, the path inside the document and what is wrong, so
 * loaders read like a schema and the hot loops can trust their data afterwards.
 */
export class DocumentReader {
  constructor(readonly source: string) {}

  fail(path: string, problem: string): never {
    throw new ArtifactError(this.source, path, problem);
  }

  object(value: unknown, path: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(path, `expected an object, got ${describe(value)}`);
    }
    return value as Record<string, unknown>;
  }

  array(value: unknown, path: string): unknown[] {
    if (!Array.isArray(value)) this.fail(path, `expected an array, got ${describe(value)}`);
    return value;
  }

  string(value: unknown, path: string): string {
    if (typeof value !== 'string') this.fail(path, `expected a string, got ${describe(value)}`);
    return value;
  }

  finite(value: unknown, path: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.fail(path, `expected a finite number, got ${describe(value)}`);
    }
    return value;
  }

  integer(value: unknown, path: string): number {
    const n = this.finite(value, path);
    if (!Number.isSafeInteger(n)) this.fail(path, `expected an integer, got ${n}`);
    return n;
  }

  /** A number, or a string holding one, as XGBoost writes many of its parameters. */
  numeric(value: unknown, path: string): number {
    if (typeof value === 'string' && value.trim() !== '') {
      const n = Number(value);
      if (Number.isFinite(n)) return n;
    }
    return this.finite(value, path);
  }

  finiteArray(value: unknown, path: string, length?: number): Float64Array {
    const items = this.array(value, path);
    if (length !== undefined && items.length !== length) {
      this.fail(path, `expected ${length} values, got ${items.length}`);
    }
    const out = new Float64Array(items.length);
    for (let i = 0; i < items.length; i++) out[i] = this.finite(items[i], `${path}[${i}]`);
    return out;
  }

  integerArray(value: unknown, path: string, length?: number): Int32Array {
    const items = this.array(value, path);
    if (length !== undefined && items.length !== length) {
      this.fail(path, `expected ${length} values, got ${items.length}`);
    }
    const out = new Int32Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const n = this.integer(items[i], `${path}[${i}]`);
      if (n < -(2 ** 31) || n >= 2 ** 31) this.fail(`${path}[${i}]`, `integer ${n} out of range`);
      out[i] = n;
    }
    return out;
  }
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isFinite(value) ? `the number ${value}` : String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return typeof value;
}
