import { cpSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHIPPED_MODEL_DIR } from '../../src/config.js';

/** A copy of the shipped model directory, and the path of one model artifact in it. */
export function modelDirCopy(): { dir: string; artifact: string } {
  const dir = mkdtempSync(join(tmpdir(), 'models-'));
  cpSync(SHIPPED_MODEL_DIR, dir, { recursive: true });
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json'));
  const artifact = files
    .map((f) => join(dir, f))
    .find((f) => readFileSync(f, 'utf8').slice(0, 100).includes('"format":"loan-default-model'));
  if (!artifact) throw new Error(`no model artifact found in ${SHIPPED_MODEL_DIR}`);
  return { dir, artifact };
}
