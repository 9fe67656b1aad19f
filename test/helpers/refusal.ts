import { expect } from 'vitest';
import { ArtifactError, loadModelDocument } from '../../src/runtime/index.js';

/** The path and problem of the refusal of `document` at load; throws if the document loads. */
export function refusal(document: unknown): { path: string; problem: string } {
  try {
    loadModelDocument(document, 'm.json');
  } catch (e) {
    if (e instanceof ArtifactError) return { path: e.path, problem: e.problem };
    throw e;
  }
  throw new Error('the document was accepted');
}

/** Asserts that `document` is refused at load at exactly `path`, with a problem matching `problem`. */
export function expectRefused(_: string, document: unknown, path: string, problem: RegExp): void {
  const r = refusal(document);
  expect(r.path).toBe(path);
  expect(r.problem).toMatch(problem);
}
