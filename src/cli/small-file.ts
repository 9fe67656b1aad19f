import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/**
 * A small file named on the command line (a scenario's JSON, `--scenario @FILE`), read whole within
 * `maxBytes`: a regular file only (opened without blocking, so a FIFO is refused rather than waited on),
 * its size checked before a byte is read and while reading (a file that grows meanwhile), so that a wrong
 * path (/dev/zero, a huge file) is refused at once in bounded memory. Throws an Error whose message says
 * why, for the caller to prefix with the option.
 */
export function readSmallFile(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw new Error(`cannot read the file (${(err as Error).message})`);
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new Error('is not a regular file');
    if (info.size > maxBytes) throw new Error(`the file has ${info.size} bytes, more than ${maxBytes}`);
    const buffer = Buffer.alloc(maxBytes + 1);
    let total = 0;
    for (;;) {
      const n = readSync(fd, buffer, total, buffer.length - total, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw new Error(`the file has more than ${maxBytes} bytes`);
    }
    return buffer.subarray(0, total);
  } finally {
    closeSync(fd);
  }
}
