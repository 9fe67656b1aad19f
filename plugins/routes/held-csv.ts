import { PassThrough } from 'node:stream';
import { StreamAbortedError } from '../../src/pool/index.js';

/**
 * A CSV answer produced while the tape is still being read (POST /pools/lifetime?loans=csv): held in memory
 * while it is small, so that a tape refused early still answers its 4xx; once it passes `holdChars`, the
 * answer starts (status 200) and the rest streams with backpressure: `wait()` tells the reader of the tape
 * to pause while the client has not read what was sent. Memory: `holdChars` plus what one tape chunk
 * produces. A refusal after the answer started can only abort it (`abort`): the connection is closed
 * without the final chunk, which clients report as an incomplete transfer.
 */
export class HeldCsv {
  private pieces: (string | Uint8Array)[] = [];
  private held = 0;
  private out: PassThrough | undefined;

  constructor(
    private readonly holdChars: number,
    /** Sends the stream as the answer (status, headers, content type): called once, when holding ends. */
    private readonly start: (out: PassThrough) => void,
  ) {}

  /** Whether the answer has started (a refusal can no longer change its status). */
  get started(): boolean {
    return this.out !== undefined;
  }

  /** Text, or UTF-8 bytes (a worker's run of rows). */
  readonly write = (text: string | Uint8Array): void => {
    if (this.out !== undefined) {
      if (this.out.destroyed) throw new StreamAbortedError('the client went away during the answer');
      this.out.write(text);
      return;
    }
    this.pieces.push(text);
    this.held += text.length;
    if (this.held > this.holdChars) {
      const out = new PassThrough();
      out.on('error', () => {}); // an aborted answer is logged by the route, not an unhandled 'error'
      this.out = out;
      this.start(out);
      for (const piece of this.pieces) out.write(piece);
      this.pieces = [];
    }
  };

  /** Resolves once the client has read what waits to be sent (or went away); undefined when nothing waits. */
  wait(): Promise<void> | undefined {
    const out = this.out;
    if (out === undefined || !out.writableNeedDrain || out.destroyed) return undefined;
    return new Promise((resolve) => {
      const done = () => {
        out.off('drain', done);
        out.off('close', done);
        resolve();
      };
      out.once('drain', done);
      out.once('close', done);
    });
  }

  /** The whole answer, when it was held to the end. */
  text(): string {
    return this.pieces.map((p) => (typeof p === 'string' ? p : Buffer.from(p).toString('utf8'))).join('');
  }

  /** Ends a started answer. */
  end(): void {
    this.out?.end();
  }

  /** Aborts a started answer: the client sees an incomplete transfer. */
  abort(err: Error): void {
    this.out?.destroy(err);
  }
}
