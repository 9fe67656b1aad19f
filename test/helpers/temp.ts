import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/**
 * Scratch directories of a test file, removed when the file's tests are done. Tests used to leave
 * theirs in the system's temporary directory: ~70 a run of the suite, ~25 MB of them (the Freddie
 * Mac layout files of test/validation/performance.test.ts), which filled the disk of a machine
 * that runs the suite all day.
 */
const made: string[] = [];

afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A new directory under the system's temporary directory, named `<prefix>XXXXXX`, removed after the file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
