/**
 * src/metrics/series.ts against prom-client itself: FastCounter and FastHistogram must expose what
 * prom-client's Counter and Histogram expose for the same updates (text format and the objects the
 * cluster's AggregatorRegistry sums). Written for the survivors of `npm run mutation` (docs/MUTATION.md).
 */
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastCounter, FastHistogram } from '../../src/metrics/series.js';

/** The exposition text with the metric names made equal, so two registries can be compared. */
async function exposition(registry: Registry, name: string): Promise<string> {
  return (await registry.metrics()).replaceAll(name, 'm');
}

describe('FastCounter exposes what prom-client Counter does', () => {
  it('for several label sets, increments by one and by more, and a label left out', async () => {
    const fastRegistry = new Registry();
    const refRegistry = new Registry();
    const fast = new FastCounter('fast_total', 'Requests.', ['route', 'status'], fastRegistry);
    const ref = new Counter({ name: 'ref_total', help: 'Requests.', labelNames: ['route', 'status'] });
    refRegistry.registerMetric(ref);

    const updates: [Record<string, string>, number][] = [
      [{ route: '/predict', status: '200' }, 1],
      [{ route: '/predict', status: '400' }, 1],
      [{ route: '/predict', status: '200' }, 2.5],
      [{ route: '/pools/score', status: '200' }, 4],
      [{ route: '/predict', status: '500' }, 1],
    ];
    for (const [labels, by] of updates) {
      // A series asked for again is the same series: its count goes on from where it was.
      const series = fast.series(labels);
      if (by === 1) series.inc();
      else series.inc(by);
      ref.inc(labels, by);
    }
    expect(await exposition(fastRegistry, 'fast_total')).toBe(await exposition(refRegistry, 'ref_total'));
    expect(await fastRegistry.metrics()).toContain('# TYPE fast_total counter');
    expect(await fastRegistry.metrics()).toContain('fast_total{route="/predict",status="200"} 3.5');
    // The label set is what counts, not the order its keys were written in.
    fast.series({ status: '500', route: '/predict' }).inc();
    expect(await fastRegistry.metrics()).toContain('fast_total{route="/predict",status="500"} 2');
  });

  it('keeps label sets apart, a missing label being the empty value, and reset() forgets them', async () => {
    const registry = new Registry();
    const fast = new FastCounter('c_total', 'h', ['route', 'status'], registry);
    fast.series({ route: '/a', status: '200' }).inc();
    fast.series({ route: '/b', status: '200' }).inc(2);
    fast.series({ route: '/a' }).inc(3);
    const values = (await fast.get()).values.map((v) => [v.labels, v.value]);
    expect(values).toEqual([
      [{ route: '/a', status: '200' }, 1],
      [{ route: '/b', status: '200' }, 2],
      [{ route: '/a', status: '' }, 3],
    ]);
    // A label left out and the same label given as "" are one series; values that would run
    // together if the label values were simply concatenated are two.
    fast.series({ route: '/a', status: '' }).inc(10);
    fast.series({ route: '/x', status: 'yz' }).inc();
    fast.series({ route: '/xy', status: 'z' }).inc();
    expect((await fast.get()).values.map((v) => [v.labels, v.value]).slice(2)).toEqual([
      [{ route: '/a', status: '' }, 13],
      [{ route: '/x', status: 'yz' }, 1],
      [{ route: '/xy', status: 'z' }, 1],
    ]);
    fast.reset();
    expect((await fast.get()).values).toEqual([]);
    // After a reset a series starts again from zero.
    fast.series({ route: '/a', status: '200' }).inc();
    expect((await fast.get()).values.map((v) => v.value)).toEqual([1]);
  });
});

describe('FastHistogram exposes what prom-client Histogram does', () => {
  it('with unsorted buckets, several label sets, values on, between and beyond the bounds', async () => {
    const buckets = [0.5, 0.01, 1, 0.1];
    const fastRegistry = new Registry();
    const refRegistry = new Registry();
    const fast = new FastHistogram('fast_seconds', 'Latency.', ['route'], buckets, fastRegistry);
    // prom-client expects sorted buckets (given them unsorted, its cumulative counts go down);
    // FastHistogram sorts them.
    const sorted = [...buckets].sort((a, b) => a - b);
    const ref = new Histogram({ name: 'ref_seconds', help: 'Latency.', labelNames: ['route'], buckets: sorted });
    refRegistry.registerMetric(ref);
    const observations: [string, number][] = [
      ['/predict', 0.005],
      ['/predict', 0.01],
      ['/predict', 0.2],
      ['/predict', 0.75],
      ['/predict', 7],
      ['/pools/score', 0.1],
      ['/pools/score', 0.3],
      ['/pools/score', 1],
    ];
    for (const [route, v] of observations) {
      fast.series({ route }).observe(v);
      ref.observe({ route }, v);
    }
    expect(await exposition(fastRegistry, 'fast_seconds')).toBe(await exposition(refRegistry, 'ref_seconds'));
    expect(await fastRegistry.metrics()).toContain('# TYPE fast_seconds histogram');
  });
});

describe('the cluster aggregates fast series as prom-client metrics', () => {
  it('sums two workers’ counters and histograms', async () => {
    const worker = async (n: number) => {
      const registry = new Registry();
      const counter = new FastCounter('loans_total', 'h', ['model'], registry);
      const histogram = new FastHistogram('pd', 'h', ['model'], [0.1, 0.5], registry);
      for (let i = 0; i < n; i++) {
        counter.series({ model: 'xgboost' }).inc();
        histogram.series({ model: 'xgboost' }).observe(i / 10);
      }
      return registry.getMetricsAsJSON();
    };
    const merged = AggregatorRegistry.aggregate([await worker(2), await worker(3)]);
    const text = await merged.metrics();
    expect(text).toContain('loans_total{model="xgboost"} 5');
    // 0, 0.1 | 0, 0.1, 0.2: four at or below 0.1, all five at or below 0.5.
    expect(text).toContain('pd_bucket{le="0.1",model="xgboost"} 4');
    expect(text).toContain('pd_bucket{le="0.5",model="xgboost"} 5');
    expect(text).toContain('pd_count{model="xgboost"} 5');
  });
});
