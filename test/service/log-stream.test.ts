import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { freePort, runServer } from '../../scripts/lib/net.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { asyncDestination, LogStream, syncDestination } from '../../src/log-stream.js';
import { seededRandom } from '../helpers/random.js';
import { tempDir } from '../helpers/temp.js';

const tempFile = () => join(tempDir('log-stream-'), 'out.log');
const syncTo = (file: string, chunk?: number) => new LogStream(syncDestination(file), chunk);

describe('LogStream', () => {
  it('holds lines until a chunk is full, then hands them on whole and in order', () => {
    const file = tempFile();
    const stream = syncTo(file, 100);
    stream.write('a'.repeat(40));
    stream.write('b'.repeat(40));
    expect(readFileSync(file, 'utf8')).toBe('');
    stream.write('c'.repeat(40));
    expect(readFileSync(file, 'utf8')).toBe(`${'a'.repeat(40)}${'b'.repeat(40)}${'c'.repeat(40)}`);
    stream.write('d\n');
    stream.flushSync();
    expect(readFileSync(file, 'utf8').endsWith('cd\n')).toBe(true);
  });

  it('loses, repeats and reorders no line of a pino logger (10,000 lines of varied length, one flush)', () => {
    const file = tempFile();
    const stream = syncTo(file);
    const log = pino({ level: 'info', base: undefined, timestamp: false }, stream);
    for (let i = 0; i < 10_000; i++) log.info({ i, pad: 'é'.repeat(i % 97) }, 'line');
    stream.flushSync();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(JSON.parse(lines[96] as string).pad).toBe('é'.repeat(96));
  });

  it('writes every line whole, as UTF-8, whatever its length and wherever a chunk ends', () => {
    const file = tempFile();
    const stream = syncTo(file, 64);
    // Two-, three- and four-byte characters (a surrogate pair), lines from empty to 10× the chunk,
    // so that lines end on every side of a chunk's end and some need more than a chunk's room.
    const pieces = ['é', '€', '😀', 'a'];
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) {
      const unit = pieces[i % pieces.length] as string;
      lines.push(`${i}:${unit.repeat((i * 37) % (i % 50 === 0 ? 700 : 90))}\n`);
    }
    for (const line of lines) stream.write(line);
    stream.flushSync();
    expect(readFileSync(file)).toEqual(Buffer.from(lines.join(''), 'utf8'));
  });

  it('writes whole, in chunks of whole lines, texts that end 0 to 3 bytes short of a chunk in a multi-byte character', () => {
    // A chunk of 8 bytes with 8 spare: a text is written where it may fit, then kept or written again in
    // a larger chunk. Random lines of 0–30 bytes of one- to four-byte characters end on every byte of the
    // 16, and cut a character on each side of the end.
    const written: Buffer[] = [];
    const destination = {
      write: (b: unknown) => written.push(Buffer.from(b as Buffer)) > 0,
      flush: () => {},
      flushSync: () => {},
    } as unknown as ReturnType<typeof pino.destination>;
    const stream = new LogStream(destination, 8, 8);
    const pieces = ['a', 'é', '€', '😀'];
    const uniform = seededRandom(7);
    const random = (n: number) => Math.floor(uniform() * n);
    const texts: string[] = [];
    for (let i = 0; i < 5000; i++) {
      let text = '';
      const units = random(12);
      for (let k = 0; k < units; k++) text += pieces[random(4)];
      // Some texts are batches of lines (the request lines are handed on 32 at a time).
      texts.push(random(4) === 0 ? `${text}\n${text}\n` : `${text}\n`);
    }
    for (const text of texts) stream.write(text);
    stream.flushSync();
    expect(Buffer.concat(written).equals(Buffer.from(texts.join(''), 'utf8'))).toBe(true);
    expect(written.filter((chunk) => !chunk.toString('utf8').endsWith('\n'))).toEqual([]);
  });

  it('hands on chunks of at least chunkLength bytes, each line in one chunk', () => {
    const written: Buffer[] = [];
    const destination = {
      write: (b: unknown) => {
        written.push(Buffer.from(b as Buffer));
        return true;
      },
      flush: () => {},
      flushSync: () => {},
    } as unknown as ReturnType<typeof pino.destination>;
    const stream = new LogStream(destination, 100);
    for (let i = 0; i < 50; i++) stream.write(`${'é'.repeat(i % 13)}${i}\n`);
    stream.write('x'.repeat(250));
    stream.flushSync();
    const whole = Buffer.concat(written).toString('utf8');
    expect(whole.split('\n').slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => `${'é'.repeat(i % 13)}${i}`));
    for (const chunk of written) expect(chunk.length).toBeGreaterThanOrEqual(100);
    // A chunk never ends inside a line (or a character): each decodes on its own.
    for (const chunk of written.slice(0, -1)) expect(chunk.toString('utf8').endsWith('\n')).toBe(true);
    expect(
      written
        .at(-1)
        ?.toString('utf8')
        .endsWith(`\n${'x'.repeat(250)}`),
    ).toBe(true);
  });

  it('flush() sends a partial chunk on its way and calls back once written', async () => {
    const file = tempFile();
    const stream = new LogStream(asyncDestination(file));
    stream.write('one line\n');
    await new Promise<void>((resolve, reject) => stream.flush((err) => (err ? reject(err) : resolve())));
    expect(readFileSync(file, 'utf8')).toBe('one line\n');
  });
});

describe('a stalled stdout', () => {
  it('costs bounded memory: whole chunks beyond the backlog are dropped and counted, the rest arrives whole and in order', async () => {
    // A real pipe that nobody reads for a while (a stalled collector): 64 KiB in the kernel, a 64 KiB
    // backlog here, and ~3.8 MB of lines written.
    const fifo = join(tempDir('log-backlog-'), 'pipe');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      const stream = new LogStream(asyncDestination(writer, 64 * 1024), 4096);
      const lines = 20_000;
      const line = (i: number) => `${i} ${'x'.repeat(180)}\n`;
      for (let i = 0; i < lines; i++) stream.write(line(i));
      stream.flush();
      expect(stream.droppedLines).toBeGreaterThan(lines / 2);
      expect(stream.droppedLines).toBeLessThan(lines);
      // The collector wakes up: what was kept arrives.
      let text = '';
      const buffer = Buffer.alloc(1 << 16);
      const deadline = Date.now() + 15_000;
      while ((text.match(/\n/g)?.length ?? 0) + stream.droppedLines < lines && Date.now() < deadline) {
        try {
          const n = readSync(reader, buffer);
          text += buffer.toString('latin1', 0, n);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      const received = text.split('\n').slice(0, -1);
      expect(received.length + stream.droppedLines).toBe(lines);
      const numbers = received.map((l) => Number(l.split(' ')[0]));
      for (let i = 0; i < received.length; i++) {
        expect(`${received[i]}\n`).toBe(line(numbers[i] as number));
        if (i > 0) expect(numbers[i]).toBeGreaterThan(numbers[i - 1] as number);
      }
      expect(numbers[0]).toBe(0); // the first chunks went into the pipe and the backlog

      // The count is a metric.
      const app = buildApp(loadConfig({ LOG_LEVEL: 'warn', POOL_THREADS: '1', MODEL_WARMUP_MS: '0' }), {
        logStream: stream,
      });
      try {
        const metrics = (await app.inject('/metrics')).body;
        expect(metrics).toContain(`log_lines_dropped_total ${stream.droppedLines}`);
      } finally {
        await app.close();
      }
    } finally {
      closeSync(reader);
      closeSync(writer);
    }
  }, 30_000);
});

describe('the server’s request log', () => {
  it('reaches stdout within about a second, without waiting for a full chunk or for exit', async () => {
    const port = await freePort();
    const server = runServer({ PORT: String(port), HOST: '127.0.0.1', WORKERS: '1' });
    try {
      const deadline = Date.now() + 20_000;
      while (!server.output().includes('"msg":"Server listening')) {
        if (Date.now() > deadline) throw new Error(`server did not start: ${server.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const res = await fetch(`http://127.0.0.1:${port}/health/live`);
      expect(res.status).toBe(200);
      const sent = Date.now();
      while (!/"url":"\/health\/live".*"request completed"/.test(server.output())) {
        expect(Date.now() - sent).toBeLessThan(5_000);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      server.child.kill('SIGKILL');
    }
  }, 30_000);
});
