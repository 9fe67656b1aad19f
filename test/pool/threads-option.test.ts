import { spawnSync } from 'node:child_process';
import { closeSync, openSync, truncateSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUTO_THREADS_BYTES, MAX_THREADS, threadsChoice } from '../../src/cli/threads-option.js';
import { holdoutLoans } from '../helpers/app.js';
import { runScript } from '../helpers/net.js';
import { tempDir } from '../helpers/temp.js';
import { toCsv } from './helpers.js';

const dir = tempDir('threads-option-');
const cores = availableParallelism();

/** A file of `bytes` bytes (sparse: nothing is written). */
function fileOf(name: string, bytes: number): string {
  const path = join(dir, name);
  writeFileSync(path, '');
  truncateSync(path, bytes);
  return path;
}

describe('--threads auto: every core for a large tape, one thread for a small file', () => {
  it('chooses by the tape file size, at the threshold of each mode', () => {
    for (const bytes of [AUTO_THREADS_BYTES.score, AUTO_THREADS_BYTES.lifetime]) {
      const below = fileOf(`below-${bytes}.csv`, bytes - 1);
      const at = fileOf(`at-${bytes}.csv`, bytes);
      expect(threadsChoice('auto', below, bytes)).toEqual({ threads: 1, auto: true });
      expect(threadsChoice('auto', at, bytes)).toEqual({ threads: cores, auto: true });
      expect(threadsChoice(' auto ', at, bytes)).toEqual({ threads: cores, auto: true });
    }
    // The thresholds are what docs/PERFORMANCE.md measured: scoring is cheaper a loan than projecting.
    expect(AUTO_THREADS_BYTES.score).toBeGreaterThan(AUTO_THREADS_BYTES.lifetime);
  });

  it('takes every core when the size is not known (a FIFO), one thread for a tape that cannot be read', () => {
    const fifo = join(dir, 'tape.fifo');
    const made = spawnSync('mkfifo', [fifo]);
    expect(made.status).toBe(0);
    expect(threadsChoice('auto', fifo, 1)).toEqual({ threads: cores, auto: true });
    expect(threadsChoice('auto', join(dir, 'missing.csv'), 1)).toEqual({ threads: 1, auto: true });
  });

  it('reads standard input (-) by what it is: a file redirected to it has a size, a pipe has none', () => {
    const small = fileOf('stdin.csv', 100);
    const probe = (stdin: number | 'pipe') => {
      const run = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          "import('./src/cli/threads-option.ts').then((m) => process.stdout.write(JSON.stringify(m.threadsChoice('auto', '-', 1000))))",
        ],
        { stdio: [stdin, 'pipe', 'pipe'], encoding: 'utf8', ...(stdin === 'pipe' ? { input: '' } : {}) },
      );
      expect(run.stderr).toBe('');
      return JSON.parse(run.stdout);
    };
    const fd = openSync(small, 'r');
    try {
      expect(probe(fd)).toEqual({ threads: 1, auto: true });
    } finally {
      closeSync(fd);
    }
    expect(probe('pipe')).toEqual({ threads: cores, auto: true });
  });

  it('takes a whole number from 1 to MAX_THREADS as given, whatever the size, and names the option otherwise', () => {
    const small = fileOf('small.csv', 10);
    for (const text of ['1', '2', ' 3 ', String(MAX_THREADS)]) {
      expect(threadsChoice(text, small, AUTO_THREADS_BYTES.score)).toEqual({ threads: Number(text), auto: false });
    }
    for (const text of ['0', String(MAX_THREADS + 1), '100000', 'x', '1.5', '', '-1', '2e3', 'autos', '0x10']) {
      const choice = threadsChoice(text, small, AUTO_THREADS_BYTES.score);
      expect(choice).toEqual({
        problem: `--threads must be auto or a whole number from 1 to ${MAX_THREADS}, got ${JSON.stringify(text)}`,
      });
    }
  });
});

describe('the CLIs bound --threads', () => {
  // Before, `npm run score` took any count: --threads 300 on a 1,000-loan tape started 300 workers
  // (28.8 s, 4.4 GB of memory); a larger count ran the machine out of memory.
  it('refuses a count above MAX_THREADS at once, in both modes, before any worker starts', async () => {
    const tape = join(dir, 'tape.csv');
    writeFileSync(tape, toCsv(holdoutLoans.slice(0, 20)));
    const [score, lifetime, word] = await Promise.all([
      runScript('src/cli/score.ts', [tape, '--threads', String(MAX_THREADS + 1)]),
      runScript('src/cli/score.ts', [tape, '--lifetime', '--threads', String(MAX_THREADS + 1)]),
      runScript('src/cli/score.ts', [tape, '--threads', 'all']),
    ]);
    expect(score.code).toBe(2);
    expect(score.stderr).toContain(
      `score: --threads must be auto or a whole number from 1 to ${MAX_THREADS}, got "257"`,
    );
    expect(lifetime.code).toBe(2);
    expect(lifetime.stderr).toContain(`--threads must be auto or a whole number from 1 to ${MAX_THREADS}, got "257"`);
    expect(word.code).toBe(2);
    expect(word.stderr).toContain('got "all"');
  });

  it('says what auto means in each usage text (not a template left unfilled)', async () => {
    const [score, lifetime] = await Promise.all([
      runScript('src/cli/score.ts', ['--help']),
      runScript('src/cli/score.ts', ['--lifetime', '--help']),
    ]);
    for (const [help, bytes] of [
      [score.stdout, AUTO_THREADS_BYTES.score],
      [lifetime.stdout, AUTO_THREADS_BYTES.lifetime],
    ] as const) {
      expect(help).toContain('--threads N|auto');
      expect(help).toContain(`every core (${cores} here) for a tape of ${bytes / 1024 / 1024} MiB or more`);
      expect(help).not.toContain('${');
    }
  });
});
