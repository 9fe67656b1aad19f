import { describe, expect, it } from 'vitest';
import {
  disturbance,
  emptySecond,
  foreignBetween,
  histogramOverUndisturbed,
  latenciesOf,
  machineCpu,
  percentile,
  processCpuMs,
  type SoakSecond,
  undisturbedSeconds,
} from '../../scripts/lib/soak-judge.js';

// How the CI soak (scripts/ci/soak.ts) tells the service's latency from the machine's. The CI run of
// 2026-12-05 failed its p99 on seconds in which the host held every process: judged on all seconds,
// a stall of the machine fails the service; judged on undisturbed seconds, it does not, and a slow
// service still does.

const BOUNDS = { controlMs: 5, lateShare: 0.01, foreignCpuMs: 150 };
const second = (over: Partial<SoakSecond>): SoakSecond => ({
  ...emptySecond(),
  sent: 500,
  controlSent: 200,
  controlAnswered: 200,
  controlMaxMs: 1,
  ...over,
});

describe('soak: disturbed seconds', () => {
  it('a quiet second is undisturbed', () => {
    expect(disturbance(second({ late: 5, foreignCpuMs: 70, stealMs: 10 }), BOUNDS)).toBeUndefined();
  });
  it('names each kind of disturbance', () => {
    expect(disturbance(second({ controlSent: 0, controlAnswered: 0 }), BOUNDS)).toBe('no control request');
    expect(disturbance(second({ controlAnswered: 199 }), BOUNDS)).toBe('a control request failed');
    expect(disturbance(second({ controlMaxMs: 7.44 }), BOUNDS)).toBe('control 7.4 ms');
    expect(disturbance(second({ late: 6 }), BOUNDS)).toBe('6 late sends');
    expect(disturbance(second({ foreignCpuMs: 460 }), BOUNDS)).toBe('other CPU 460 ms');
    expect(disturbance(second({ foreignCpuMs: 100, stealMs: 60 }), BOUNDS)).toBe('other CPU 100 ms, steal 60 ms');
  });

  it('judges the service on undisturbed seconds only, and still fails a slow service', () => {
    // 10 seconds of 100 answers each: the machine stalls seconds 3 and 7 (slow answers, the control
    // slow too); the rest answer in 1 ms.
    const fast = Array.from({ length: 100 }, () => 1);
    const stalled = Array.from({ length: 100 }, (_, i) => (i < 50 ? 40 : 1));
    const timeline = Array.from({ length: 10 }, (_, s) =>
      s === 3 || s === 7 ? second({ interactive: stalled, controlMaxMs: 30 }) : second({ interactive: fast }),
    );
    const all = latenciesOf(
      timeline,
      timeline.map((_, i) => i),
    );
    expect(percentile(all.interactive, 99)).toBe(40); // what the soak judged before: a failure
    const clean = undisturbedSeconds(timeline, 0, timeline.length, BOUNDS);
    expect(clean).toEqual([0, 1, 2, 4, 5, 6, 8, 9]);
    expect(percentile(latenciesOf(timeline, clean).interactive, 99)).toBe(1);
    // A service that is slow on its own: the control answers on time, so every second is judged.
    const slow = Array.from({ length: 10 }, () => second({ interactive: stalled }));
    const judged = undisturbedSeconds(slow, 0, slow.length, BOUNDS);
    expect(judged).toHaveLength(10);
    expect(percentile(latenciesOf(slow, judged).interactive, 99)).toBe(40);
  });

  it('counts from the warm-up and stops at the end of the timeline', () => {
    const timeline = Array.from({ length: 5 }, () => second({}));
    expect(undisturbedSeconds(timeline, 2, 99, BOUNDS)).toEqual([2, 3, 4]);
  });
});

describe('soak: the service histogram over undisturbed windows', () => {
  const scrape = (t: number, total: number, within: number) => ({
    t,
    buckets: new Map([
      [0.005, within],
      [Number.POSITIVE_INFINITY, total],
    ]),
  });
  it('sums the windows whose every second is undisturbed, after the warm-up', () => {
    const scrapes = [scrape(4.2, 100, 90), scrape(9.3, 600, 585), scrape(14.1, 1100, 1080), scrape(19.9, 1600, 1590)];
    // Seconds 9–14 undisturbed, 15 not: only the window 9.3 → 14.1 counts.
    const undisturbed = new Set([9, 10, 11, 12, 13, 14, 16, 17, 18, 19]);
    expect(histogramOverUndisturbed(scrapes, undisturbed, 5, 0.005)).toEqual({ windows: 1, total: 500, within: 495 });
    // From second 10, the window starting at 9.3 is warm-up.
    expect(histogramOverUndisturbed(scrapes, undisturbed, 10, 0.005)).toEqual({ windows: 0, total: 0, within: 0 });
  });
});

describe('soak: CPU time from /proc', () => {
  it("reads the machine's busy and steal time", () => {
    const stat = 'cpu  3981021 2435498 660487 2801435 4201 0 39951 3003 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n';
    expect(machineCpu(stat)).toEqual({ busyMs: (3981021 + 2435498 + 660487) * 10, stealMs: 30030 });
  });
  it("reads a process's user and system time, whatever its name", () => {
    const line = (comm: string) =>
      `8043 (${comm}) S 8000 8043 8000 0 -1 4194560 31225 0 0 0 1234 567 0 0 20 0 11 0 4965400 1291657216 61442 18446744073709551615`;
    expect(processCpuMs(line('node'))).toBe((1234 + 567) * 10);
    expect(processCpuMs(line('a) b (c'))).toBe((1234 + 567) * 10);
  });
  it('foreign CPU is the machine less the soak, never negative', () => {
    const a = { busyMs: 1000, stealMs: 0, oursMs: 500 };
    expect(foreignBetween(a, { busyMs: 2100, stealMs: 20, oursMs: 1000 })).toEqual({ foreignCpuMs: 600, stealMs: 20 });
    expect(foreignBetween(a, { busyMs: 1400, stealMs: 0, oursMs: 960 })).toEqual({ foreignCpuMs: 0, stealMs: 0 });
  });
});
