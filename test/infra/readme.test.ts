import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { tempDir } from '../helpers/temp.js';

/**
 * Every shell example of the README runs as written against a real server: the commands of each
 * ```sh block are extracted, `localhost:5000` becomes the test server's address, and each runs under
 * `bash -c` with a timeout. curl gets `--fail` (from a curlrc), so a 4xx or 5xx answer fails the
 * example; an answer that looks like JSON must parse. The only commands not run are those below:
 * they install, start a second server, need a pid or a container engine.
 */
const NOT_RUN = [/^npm ci\b/, /^npm start\b/, /^kill -HUP </, /^(\w+=\S* )*docker /];

/** The commands of a shell block: continuation lines and multi-line quoted strings joined, comments dropped. */
function commandsOf(block: string): string[] {
  const commands: string[] = [];
  let current = '';
  let quote: "'" | '"' | undefined;
  for (const line of block.split('\n')) {
    let kept = '';
    for (let i = 0; i < line.length; i++) {
      const c = line[i] as string;
      if (quote !== undefined) {
        if (c === quote) quote = undefined;
      } else if (c === "'" || c === '"') {
        quote = c;
      } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1] as string))) {
        break; // a comment, to the end of the line
      }
      kept += c;
    }
    current += (current === '' ? '' : '\n') + kept.trimEnd();
    if (quote === undefined && !current.endsWith('\\')) {
      if (current.trim() !== '') commands.push(current.trim());
      current = '';
    }
  }
  if (current.trim() !== '') commands.push(current.trim());
  return commands;
}

/** The README's ```sh blocks, each with the line it starts on. */
function shellBlocks(markdown: string): { line: number; text: string }[] {
  const blocks: { line: number; text: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '```sh') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]?.trim() !== '```') end++;
    blocks.push({ line: start + 1, text: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

/**
 * The answers the documents show: a ```json block right after a ```sh block (blank lines between) is
 * what the last command of that block printed, abridged with `...`. `line` is the sh block's line.
 */
function shownAnswers(markdown: string): { line: number; text: string }[] {
  const lines = markdown.split('\n');
  const shown: { line: number; text: string }[] = [];
  for (const block of shellBlocks(markdown)) {
    let i = block.line - 1;
    while (i < lines.length && lines[i]?.trim() !== '```') i++;
    i++;
    while (i < lines.length && lines[i]?.trim() === '') i++;
    if (lines[i]?.trim() !== '```json') continue;
    let end = i + 1;
    while (end < lines.length && lines[end]?.trim() !== '```') end++;
    shown.push({ line: block.line, text: lines.slice(i + 1, end).join('\n') });
  }
  return shown;
}

/** Every number of a parsed JSON answer, by the key it is the value of (array items under the array's key). */
function numbersByKey(value: unknown, key = '', out = new Map<string, number[]>()): Map<string, number[]> {
  if (typeof value === 'number') out.set(key, [...(out.get(key) ?? []), value]);
  else if (Array.isArray(value)) for (const item of value) numbersByKey(item, key, out);
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) numbersByKey(v, k, out);
  return out;
}

/**
 * What a shown answer says that the real one does not: each `"key": number` it shows must be the value of
 * that key somewhere in the real answer, to the digits shown (`1.3100` is any value rounding to it), so a
 * retrained model or a changed default cannot leave the README printing numbers the service no longer gives.
 */
function shownMismatches(shown: string, actual: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(actual);
  } catch {
    return ['the answer is not JSON'];
  }
  const real = numbersByKey(parsed);
  const problems: string[] = [];
  for (const m of shown.matchAll(/"(\w+)"\s*:\s*(-?\d+(?:\.(\d+))?(?:[eE][-+]?\d+)?)\b/g)) {
    const [, key = '', text = '', decimals] = m;
    const value = Number(text);
    const half = decimals === undefined || /e/i.test(text) ? 0 : 0.5 * 10 ** -decimals.length;
    const candidates = real.get(key) ?? [];
    const close = (v: number) => (half === 0 ? v === value : Math.abs(v - value) <= half * (1 + 1e-9));
    if (!candidates.some(close))
      problems.push(
        `"${key}": ${text} shown, the answer has ${candidates.length === 0 ? 'no such key' : candidates.slice(0, 4).join(', ')}`,
      );
  }
  for (const m of shown.matchAll(/"(\w+)"\s*:\s*\[([-\d.eE,\s]+)\]/g)) {
    const [, key = '', list = ''] = m;
    const items = list.split(',').map((v) => v.trim());
    if (items.some((v) => !/^-?\d/.test(v))) continue; // `[...]`: abridged
    const values = items.map(Number);
    const candidates = real.get(key) ?? [];
    for (const v of values)
      if (!candidates.includes(v)) problems.push(`"${key}": [... ${v} ...] shown, not in the answer`);
  }
  return problems;
}

const TIMEOUT_MS = 60_000;

/** `bash -c command` in its own process group, killed whole (by its pid) after TIMEOUT_MS. */
function run(command: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], {
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${TIMEOUT_MS / 1000} s)`;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

describe('the README command extractor', () => {
  it('joins continuations and multi-line quotes, drops comments, keeps # inside quotes', () => {
    const block = [
      "curl -s localhost:5000/a   # what it's for",
      "curl -s -d '{",
      '  "a": "#1"}\' localhost:5000/b \\',
      "  -H 'x: y'",
      '# a comment line',
      '',
    ].join('\n');
    expect(commandsOf(block)).toEqual([
      'curl -s localhost:5000/a',
      'curl -s -d \'{\n  "a": "#1"}\' localhost:5000/b \\\n  -H \'x: y\'',
    ]);
  });
});

describe('README.md and docs/API.md examples', () => {
  const examples = ['README.md', 'docs/API.md'].flatMap((file) =>
    shellBlocks(readFileSync(file, 'utf8')).flatMap((block) =>
      commandsOf(block.text).map((command) => ({ where: `${file} line ${block.line}`, command })),
    ),
  );
  const runnable = examples.filter((e) => !NOT_RUN.some((pattern) => pattern.test(e.command)));
  let app: FastifyInstance | undefined;
  let base = '';
  let home = '';
  /** What the last command of each example block printed, by `file line N`. */
  const printed = new Map<string, string>();

  beforeAll(async () => {
    app = buildApp(loadConfig({ LOG_LEVEL: 'silent' }), { logger: false });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    home = tempDir('readme-curl-');
    writeFileSync(join(home, '.curlrc'), '--fail\n--show-error\n');
    // The service as users start it: models warmed up and tape worker threads started, which took more than
    // vitest's 10 s hook bound on a loaded machine (a bound, not a timing).
  }, 60_000);
  afterAll(async () => {
    await app?.close();
  });

  it('has many runnable examples, and skips only the few it must', () => {
    expect(runnable.length).toBeGreaterThanOrEqual(25);
    expect(examples.length - runnable.length).toBeLessThanOrEqual(6);
  });

  it('every example runs as written and gets a 2xx answer', async () => {
    const failures: string[] = [];
    for (const { where, command } of runnable) {
      const address = base.replace(/^http:\/\//, '');
      const actual = command.replaceAll('http://localhost:5000', base).replaceAll('localhost:5000', address);
      const env = { ...process.env, CURL_HOME: home, LOG_LEVEL: 'silent' };
      const { code, stdout, stderr } = await run(actual, env);
      const name = `${where}: ${command.split('\n')[0]}`;
      if (code !== 0) {
        failures.push(`${name}\n  exit ${code}: ${(stderr || stdout).trim().slice(0, 400)}`);
        continue;
      }
      const out = stdout.trim();
      printed.set(where, out);
      if (command.startsWith('curl') && out === '') failures.push(`${name}\n  printed nothing`);
      if (/^[[{]/.test(out)) {
        try {
          JSON.parse(out);
        } catch (err) {
          failures.push(`${name}\n  output is not JSON: ${(err as Error).message}`);
        }
      }
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, 300_000);

  it('every answer the documents show is what the service answers, to the digits shown', () => {
    expect(printed.size, 'runs after the examples').toBeGreaterThan(0);
    const wrong: string[] = [];
    let compared = 0;
    for (const file of ['README.md', 'docs/API.md']) {
      for (const { line, text } of shownAnswers(readFileSync(file, 'utf8'))) {
        const where = `${file} line ${line}`;
        const actual = printed.get(where);
        if (actual === undefined) continue; // an example that is not run
        compared++;
        for (const problem of shownMismatches(text, actual)) wrong.push(`${where}: ${problem}`);
      }
    }
    expect(compared).toBeGreaterThanOrEqual(5);
    expect(wrong, wrong.join('\n')).toEqual([]);
  });
});

describe('the shown-answer comparison', () => {
  const answer = JSON.stringify({ a: 0.016853531822562218, b: { c: 1.31004, d: [0.25, 0.75] }, e: 7 });
  it('accepts a value shown in full or rounded, and an array shown in full', () => {
    expect(shownMismatches('{"a": 0.016853531822562218, "c": 1.3100, "d": [0.25, 0.75], ...', answer)).toEqual([]);
  });
  it('names a value that differs, a key the answer lacks, an array item, and an answer that is not JSON', () => {
    expect(
      shownMismatches('{"a": 0.01685353182257, "c": 1.3110, "e": 8, "f": 1, "d": [0.25, 0.5]}', answer),
    ).toHaveLength(5);
    expect(shownMismatches('{"a": 1}', 'a,b\n1,2')).toEqual(['the answer is not JSON']);
  });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replaceAll(' ', '-');
}

/** Markdown outside fenced code blocks. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

function anchorsOf(path: string): Set<string> {
  const headings = prose(readFileSync(path, 'utf8')).matchAll(/^#+ (.+)$/gm);
  return new Set([...headings].map((m) => slug(m[1] as string)));
}

describe('links between the documents', () => {
  const documents = [
    'README.md',
    'SECURITY.md',
    'samples/README.md',
    'deploy/kubernetes/README.md',
    ...readdirSync('docs')
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`),
  ];

  it('every relative link names a file that exists and, in a document, a heading it has', () => {
    const broken: string[] = [];
    for (const file of documents) {
      for (const m of prose(readFileSync(file, 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)) {
        const url = m[1] as string;
        if (/^[a-z]+:/.test(url)) continue;
        const [path = '', anchor] = url.split('#');
        const target = path === '' ? file : normalize(join(dirname(file), path));
        if (!existsSync(target)) broken.push(`${file}: ${url} (no file ${target})`);
        else if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(target).has(anchor))
          broken.push(`${file}: ${url} (no heading #${anchor} in ${target})`);
      }
    }
    expect(broken, broken.join('\n')).toEqual([]);
  });

  it('the README is an introduction, not the reference', () => {
    expect(readFileSync('README.md', 'utf8').split('\n').length).toBeLessThanOrEqual(320);
  });
});
