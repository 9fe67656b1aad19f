import type { Readable } from 'node:stream';

/**
 * Feeds a readable stream to `sink` chunk by chunk and resolves when the stream ends. Parsing and
 * scoring run synchronously in the 'data' handler, which is the backpressure: nothing more is read
 * while a chunk is being scored; a sink that answers a promise (work handed to worker threads) pauses
 * the stream until it settles.
 *
 * Not `for await`: leaving such a loop early destroys the stream, and destroying an HTTP request
 * destroys its socket, so a 413 or 400 found halfway through an upload could never be answered.
 * Here a failure only pauses the stream and rejects; the caller answers (with `Connection: close`,
 * so the rest of the upload is not read) and the socket goes when the answer is sent.
 */

export class StreamAbortedError extends Error {
  override readonly name = 'StreamAbortedError';
}

export function feed(stream: Readable, sink: (chunk: Buffer) => void | Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onClose);
      // The 'error' listener stays: an error after we stopped listening must not become an
      // unhandled 'error' event (a crash).
      if (err === undefined) resolve();
      else reject(err);
    };
    const onData = (chunk: Buffer | string) => {
      try {
        const wait = sink(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        if (wait !== undefined) {
          // The sink is busy (worker threads at their bound): read nothing more until it has room.
          stream.pause();
          wait.then(
            () => {
              if (!settled) stream.resume();
            },
            (err: unknown) => settle(err),
          );
        }
      } catch (err) {
        stream.pause();
        settle(err);
      }
    };
    const onEnd = () => settle();
    const onError = (err: Error) => settle(new StreamAbortedError(`the input stream failed: ${err.message}`));
    // 'close' without 'end': the client went away mid-upload (or the file was closed under us).
    const onClose = () => settle(new StreamAbortedError('the input stream closed before its end'));
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.on('error', onError);
    stream.once('close', onClose);
    if (stream.readableEnded) settle();
  });
}
