import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { ArtifactError } from './errors.js';

/**
 * Reading an artifact (or routing document) from disk, bounded: a model directory is configuration,
 * but a wrong symlink (to /dev/zero, a FIFO, a device) or a huge file must be refused at once with a
 * message naming it, not read until memory runs out or a read blocks forever.
 *
 * - The file is opened with O_NONBLOCK (opening a FIFO does not wait for a writer) and checked with
 *   fstat on the open descriptor: anything but a regular file is refused before a byte is read.
 *   Symbolic links are followed (Kubernetes mounts ConfigMaps and volumes through them); what they
 *   lead to must be a regular file.
 * - A file over `maxBytes` is refused from its size, and the bound holds while reading too (a file
 *   that grows meanwhile is refused when it passes it).
 * - `signal` stops the read between chunks (the registry aborts a load that runs out of time).
 */

/** Default bound on one artifact file: ~40× the largest shipped artifact (1.5 MB). `MAX_ARTIFACT_BYTES`. */
export const DEFAULT_MAX_ARTIFACT_BYTES = 64 * 1024 * 1024;

export interface ReadOptions {
  /** Largest file accepted, in bytes (default `DEFAULT_MAX_ARTIFACT_BYTES`). */
  readonly maxBytes?: number;
  /** Aborts the read (between chunks); the error then says why. */
  readonly signal?: AbortSignal;
}

/** Reads a file as bytes; what it refuses throws `fail(problem)` (an `ArtifactError` by default). */
export type FileReader = (path: string, options: ReadOptions) => Promise<Uint8Array>;

const CHUNK = 1024 * 1024;

function kind(info: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Reads `path` whole within `options.maxBytes`, refusing non-regular files. Errors name the file. */
export const readBoundedFile: FileReader = async (path, { maxBytes = DEFAULT_MAX_ARTIFACT_BYTES, signal } = {}) => {
  const fail = (problem: string): never => {
    throw new ArtifactError(path, '', problem);
  };
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    return fail(`cannot read the file: ${(err as Error).message}`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) fail(`${kind(info)}, not a regular file: an artifact must be a regular file`);
    const tooBig = (size: string) =>
      fail(`the file has ${size} bytes, more than the limit of ${maxBytes} (MAX_ARTIFACT_BYTES)`);
    if (info.size > maxBytes) tooBig(String(info.size));
    let buffer = Buffer.allocUnsafe(Math.min(maxBytes, info.size) + 1);
    let total = 0;
    for (;;) {
      if (signal?.aborted) fail(`reading stopped: ${String(signal.reason ?? 'aborted')}`);
      if (total === buffer.length) {
        if (total > maxBytes) tooBig(`over ${maxBytes}`);
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buffer.length * 2));
        buffer.copy(bigger, 0, 0, total);
        buffer = bigger;
      }
      const { bytesRead } = await handle.read(buffer, total, Math.min(CHUNK, buffer.length - total), null);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    if (total > maxBytes) tooBig(`over ${maxBytes}`);
    return buffer.subarray(0, total);
  } catch (err) {
    if (err instanceof ArtifactError) throw err;
    return fail(`cannot read the file: ${(err as Error).message}`);
  } finally {
    await handle.close();
  }
};
