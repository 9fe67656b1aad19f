import { fstatSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** The most worker threads a CLI run starts: the service's bound on POOL_THREADS (src/config.ts). */
export const MAX_THREADS = 256;

/**
 * `--threads auto` (the default) scores on one thread a tape file smaller than this, where starting the
 * workers costs more than they save. Measured on the project's 2-core machine (docs/PERFORMANCE.md, "Small
 * tapes on one thread"): a worker starts scoring ~0.15 s after one thread would have, and each worker
 * makes its own copy of the code hot, both at once, so two threads caught up with one only at ~250,000
 * loans (~18 MB) when scoring, at ~50,000 (3.5 MB) when projecting lifetime loss under the four presets.
 */
export const AUTO_THREADS_BYTES = { score: 16 * 1024 * 1024, lifetime: 4 * 1024 * 1024 } as const;

/** The thread count `--threads` asks for, or the problem with it (for the CLI's usage error). */
export type ThreadsChoice = { threads: number; auto: boolean } | { problem: string };

/**
 * Reads `--threads`: `auto`, or a whole number from 1 to MAX_THREADS. `auto` is every core (the available
 * parallelism) for a tape of at least `autoBytes`, or of a size not known in advance (a pipe, standard input
 * from a pipe), and one thread for a smaller regular file, or one that cannot be read (the run then fails
 * on it as it would anyway).
 */
export function threadsChoice(text: string, tape: string, autoBytes: number): ThreadsChoice {
  if (text.trim() === 'auto') {
    const size = tapeSize(tape);
    const cores = availableParallelism();
    return { threads: size === null || size >= autoBytes ? cores : 1, auto: true };
  }
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !(n >= 1 && n <= MAX_THREADS)) {
    return {
      problem: `--threads must be auto or a whole number from 1 to ${MAX_THREADS}, got ${JSON.stringify(text)}`,
    };
  }
  return { threads: n, auto: false };
}

/** A tape's size in bytes when it is a regular file; null when unknown (a pipe); 0 when it cannot be read. */
export function tapeSize(tape: string): number | null {
  try {
    const info = tape === '-' ? fstatSync(0) : statSync(tape);
    return info.isFile() ? info.size : null;
  } catch {
    return 0;
  }
}

/** The `--threads` lines of a CLI's usage, the option two spaces in and its text from `column` on. */
export function threadsUsage(column: number, autoBytes: number): string {
  const indent = ' '.repeat(column);
  const mib = autoBytes / (1024 * 1024);
  return `  ${'--threads N|auto'.padEnd(column - 2)}worker threads for CSV and Freddie Mac tapes, 1 to ${MAX_THREADS} (1: this thread only);
${indent}auto (default): every core (${availableParallelism()} here) for a tape of ${mib} MiB or more or of unknown
${indent}size (a pipe), one thread for a smaller file; the same answer, byte for byte
`;
}
