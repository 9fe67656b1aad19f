import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the request path whose label sets are resolved once, when a series is
 * first asked for, and whose updates are plain arithmetic. prom-client's own `labels(...)` children
 * hash their label object again on every `inc`/`observe`; with five updates per request that was
 * ~6–9 µs of a ~41 µs request (measured with the scripts of docs/PERFORMANCE.md). These
 * classes register in a prom-client Registry like any metric (`get()` returns prom-client's metric
 * shape), so exposition, `promtool`, and the cluster's AggregatorRegistry treat them as usual.
 */

type Labels = Readonly<Record<string, string>>;
type Aggregator = 'sum' | 'first' | 'max' | 'min' | 'average' | 'omit';

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

interface MetricObject {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: MetricValue[];
  aggregator: Aggregator;
}

abstract class SeriesMetric<S extends { readonly labels: Labels }> {
  private readonly byKey = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Registry,
    readonly aggregator: Aggregator = 'sum',
  ) {
    // prom-client's Registry accepts any object with this shape (name, help, type, get, reset).
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected abstract create(labels: Labels): S;

  /** The series for these labels, created on first use; keep it and update it directly. */
  series(labels: Labels): S {
    const key = this.labelNames.map((n) => labels[n] ?? '').join('\u0000');
    let s = this.byKey.get(key);
    if (s === undefined) {
      const own: Record<string, string> = {};
      for (const n of this.labelNames) own[n] = labels[n] ?? '';
      s = this.create(Object.freeze(own));
      this.byKey.set(key, s);
    }
    return s;
  }

  protected all(): S[] {
    return [...this.byKey.values()];
  }

  reset(): void {
    this.byKey.clear();
  }
}

export class CounterSeries {
  value = 0;
  constructor(readonly labels: Labels) {}
  inc(by = 1): void {
    this.value += by;
  }
}

export class FastCounter extends SeriesMetric<CounterSeries> {
  readonly type = 'counter';
  protected create(labels: Labels): CounterSeries {
    return new CounterSeries(labels);
  }
  async get(): Promise<MetricObject> {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.all().map((s) => ({ value: s.value, labels: { ...s.labels } })),
    };
  }
}

export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is above every bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Labels,
    private readonly bounds: Float64Array,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > (b[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

export class FastHistogram extends SeriesMetric<HistogramSeries> {
  readonly type = 'histogram';
  private readonly bounds: Float64Array;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
    this.bounds = Float64Array.from([...buckets].sort((a, b) => a - b));
  }

  protected create(labels: Labels): HistogramSeries {
    return new HistogramSeries(labels, this.bounds);
  }

  async get(): Promise<MetricObject> {
    const values: MetricValue[] = [];
    for (const s of this.all()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...s.labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
