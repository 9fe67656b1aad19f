/**
 * How the soak (scripts/ci/soak.ts) tells the service's latency from the machine's.
 *
 * The soak shares a 2-core machine with its own load generator and, in CI, with whatever else the
 * host runs. A second in which the machine stalled everyone shows up as slow answers that say
 * nothing about the service. So next to the service, the soak keeps a bare `node:http` server (the
 * control, in its own process) answering a steady trickle of requests from the same generator. A
 * second is *undisturbed* when the control answered every request sent in it, each within the bound
 * the service is held to, the generator sent the service's requests on schedule, and the machine
 * gave no more than a bound of CPU time to anything but the soak's own three processes (its other
 * processes and the hypervisor's steal, from /proc/stat, less the soak's processes' own CPU time:
 * a light control alone misses them, as the fair scheduler still gives it its turns while the
 * service, which needs half a core, falls behind). Latency is
 * judged on the requests sent in undisturbed seconds only; the disturbed seconds are counted and
 * shown, never silently dropped, and the soak runs on (up to a maximum) until it has enough
 * undisturbed seconds to judge. A defect of the service (its event loop held, a slow route) does not
 * slow the control, so it still fails the soak.
 */

/** One second of the soak, by when its requests were sent. */
export interface SoakSecond {
  /** Service requests sent, and how many of those more than 5 ms behind their schedule. */
  sent: number;
  late: number;
  /** Service answers over the latency bound (for the per-second line of the report). */
  slow: number;
  /** Control requests sent, answered, and the slowest answer (ms; Infinity if one failed). */
  controlSent: number;
  controlAnswered: number;
  controlMaxMs: number;
  /** CPU time (ms) the machine spent on anything but the soak's processes, and stolen by the host. */
  foreignCpuMs: number;
  stealMs: number;
  /** Latencies (ms) of the service's answers, interactive requests and tapes apart. */
  interactive: number[];
  tape: number[];
}

export const emptySecond = (): SoakSecond => ({
  sent: 0,
  late: 0,
  slow: 0,
  controlSent: 0,
  controlAnswered: 0,
  controlMaxMs: 0,
  foreignCpuMs: 0,
  stealMs: 0,
  interactive: [],
  tape: [],
});

export interface CleanBounds {
  /** The control's slowest answer in a second, at most (ms). */
  controlMs: number;
  /** Late sends of the service's requests in a second, at most this share of them. */
  lateShare: number;
  /** Foreign CPU plus steal in a second, at most (ms of one core). */
  foreignCpuMs: number;
}

/** Why a second is disturbed, or undefined when it is not. */
export function disturbance(s: SoakSecond, bounds: CleanBounds): string | undefined {
  if (s.controlSent === 0) return 'no control request';
  if (s.controlAnswered < s.controlSent) return 'a control request failed';
  if (s.controlMaxMs > bounds.controlMs) return `control ${s.controlMaxMs.toFixed(1)} ms`;
  if (s.late > bounds.lateShare * s.sent) return `${s.late} late sends`;
  if (s.foreignCpuMs + s.stealMs > bounds.foreignCpuMs) {
    return `other CPU ${Math.round(s.foreignCpuMs)} ms${s.stealMs > 0 ? `, steal ${Math.round(s.stealMs)} ms` : ''}`;
  }
  return undefined;
}

/** The undisturbed seconds among [from, to). */
export function undisturbedSeconds(timeline: readonly SoakSecond[], from: number, to: number, bounds: CleanBounds) {
  const out: number[] = [];
  for (let s = Math.max(0, from); s < Math.min(to, timeline.length); s++) {
    if (disturbance(timeline[s] as SoakSecond, bounds) === undefined) out.push(s);
  }
  return out;
}

/** The p-th percentile (nearest rank) of sorted values; NaN when there are none. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** The latencies of the given seconds, sorted: interactive requests and tapes apart. */
export function latenciesOf(timeline: readonly SoakSecond[], seconds: readonly number[]) {
  const pick = (key: 'interactive' | 'tape') =>
    Float64Array.from(seconds.flatMap((s) => (timeline[s] as SoakSecond)[key])).sort();
  return { interactive: pick('interactive'), tape: pick('tape') };
}

/** A scrape of the service's request-duration histogram: cumulative counts by bucket bound. */
export interface HistogramScrape {
  /** Seconds since the start of the load. */
  t: number;
  buckets: Map<number, number>;
}

/**
 * The service's own histogram over the windows between consecutive scrapes that lie after
 * `from` and whose every second is undisturbed: requests counted, and those within `bound` seconds.
 */
export function histogramOverUndisturbed(
  scrapes: readonly HistogramScrape[],
  undisturbed: ReadonlySet<number>,
  from: number,
  bound: number,
) {
  let total = 0;
  let within = 0;
  let windows = 0;
  for (let i = 1; i < scrapes.length; i++) {
    const a = scrapes[i - 1] as HistogramScrape;
    const b = scrapes[i] as HistogramScrape;
    if (a.t < from) continue;
    let clean = true;
    for (let s = Math.floor(a.t); s <= Math.floor(b.t) && clean; s++) clean = undisturbed.has(s);
    if (!clean) continue;
    windows++;
    total += (b.buckets.get(Number.POSITIVE_INFINITY) ?? 0) - (a.buckets.get(Number.POSITIVE_INFINITY) ?? 0);
    within += (b.buckets.get(bound) ?? 0) - (a.buckets.get(bound) ?? 0);
  }
  return { windows, total, within };
}

/** CPU times (ms) from /proc: the machine's busy and steal time, and the soak's processes' own. */
export interface CpuReading {
  busyMs: number;
  stealMs: number;
  oursMs: number;
}

/** /proc/stat's first line: user + nice + system (busy) and steal, in ms. */
export function machineCpu(procStat: string, ticksPerSecond = 100) {
  const f = (procStat.split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const ms = (x: number | undefined) => ((x ?? 0) * 1000) / ticksPerSecond;
  return { busyMs: ms(f[0]) + ms(f[1]) + ms(f[2]), stealMs: ms(f[7]) };
}

/** A process's user + system time (ms) from its /proc/<pid>/stat (the name may hold spaces). */
export function processCpuMs(pidStat: string, ticksPerSecond = 100): number {
  const f = pidStat.slice(pidStat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / ticksPerSecond;
}

/** What a second between two readings adds to its SoakSecond: foreign CPU and steal. */
export function foreignBetween(a: CpuReading, b: CpuReading) {
  return {
    foreignCpuMs: Math.max(0, b.busyMs - a.busyMs - (b.oursMs - a.oursMs)),
    stealMs: Math.max(0, b.stealMs - a.stealMs),
  };
}
