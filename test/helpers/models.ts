import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHIPPED_MODEL_DIR } from '../../src/config.js';
import { SCENARIO_FEATURES } from '../../src/scenario/index.js';
import { tempDir } from './temp.js';

/** A copy of the shipped model directory, and the path of one model artifact in it. */
export function modelDirCopy(): { dir: string; artifact: string } {
  const dir = tempDir('models-');
  cpSync(SHIPPED_MODEL_DIR, dir, { recursive: true });
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json'));
  const artifact = files
    .map((f) => join(dir, f))
    .find((f) => readFileSync(f, 'utf8').slice(0, 100).includes('"format":"loan-default-model'));
  if (!artifact) throw new Error(`no model artifact found in ${SHIPPED_MODEL_DIR}`);
  return { dir, artifact };
}

/**
 * A shipped artifact as a model of arbitrary features (`"inputs": "features"`), its scenario features
 * renamed `feature_<name>`: the same columns, row type and evaluator, taking a [N, C] feature tensor over V2
 * (a model that reads scenario features refuses one: the service computes those from the scenario).
 */
export function featuresModelDocument(artifact: string): Record<string, unknown> {
  const doc = JSON.parse(readFileSync(artifact, 'utf8')) as {
    inputs?: string;
    fields: { name: string }[];
    columns: { field: string }[];
  };
  const rename = (name: string) => (SCENARIO_FEATURES.includes(name as never) ? `feature_${name}` : name);
  doc.inputs = 'features';
  for (const f of doc.fields) f.name = rename(f.name);
  for (const c of doc.columns) c.field = rename(c.field);
  return doc as unknown as Record<string, unknown>;
}
