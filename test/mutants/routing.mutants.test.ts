/**
 * Routing documents and sticky arms (src/routing.ts) without a server: what a document may say, what
 * each refusal names, and which arm a loan lands in. Written for the survivors and uncovered mutants
 * of `npm run mutation` (docs/MUTATION.md); the HTTP side is in test/service/versions.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import { type Arm, armFor, buildRoutes, loanKey, RoutingError, stickyHash } from '../../src/routing.js';
import type { Model } from '../../src/runtime/index.js';

const fake = (name: string, version: string) => ({ name, version }) as unknown as Model;
const x1 = fake('xgboost', '1.0.0');
const x2 = fake('xgboost', '1.1.0');
const x3 = fake('xgboost', '2.0.0');
const lda = fake('lda', '1.0.0');
const versions = new Map<string, readonly Model[]>([
  ['xgboost', [x1, x2, x3]],
  ['lda', [lda]],
]);
const routes = (doc: unknown) => buildRoutes(doc, versions, 'routing.json');

/** The error a document gets: its path and message. */
function refusal(doc: unknown): { path: string; message: string } {
  try {
    routes(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(RoutingError);
    return { path: (err as RoutingError).path, message: (err as Error).message };
  }
  return expect.unreachable('the document was accepted');
}

describe('routing documents', () => {
  it('without a document, or for a model it does not name, serve the highest version', () => {
    for (const r of [routes(undefined), routes({ models: {} }), routes({ models: { lda: {} } })]) {
      expect(r.get('xgboost')).toEqual({ default: x3 });
      expect(r.get('lda')).toEqual({ default: lda });
    }
    expect(routes({ models: { xgboost: { shadow: '1.0.0' } } }).get('xgboost')).toEqual({ default: x3, shadow: x1 });
  });

  it('keep the arms in document order with cumulative weights, zero weights left out', () => {
    const r = routes({ models: { xgboost: { split: { '2.0.0': 5, '1.0.0': 0, '1.1.0': 1_000_000 } } } });
    expect(r.get('xgboost')?.split?.map((a) => [a.model, a.weight, a.upTo])).toEqual([
      [x3, 5, 5],
      [x2, 1_000_000, 1_000_005],
    ]);
    // A split whose only arm is not the shadow is fine.
    const one = routes({ models: { xgboost: { split: { '1.1.0': 1 }, shadow: '1.0.0' } } }).get('xgboost');
    expect(one?.split?.map((a) => a.model)).toEqual([x2]);
    expect(one?.shadow).toBe(x1);
    // A shadow that is one of two served arms, first or last, is allowed (it is also scored as a challenger).
    for (const split of [
      { '1.0.0': 1, '1.1.0': 1 },
      { '1.1.0': 1, '1.0.0': 1 },
    ]) {
      expect(routes({ models: { xgboost: { split, shadow: '1.1.0' } } }).get('xgboost')?.shadow).toBe(x2);
    }
  });

  it.each([
    [null, '', 'must be a JSON object with a "models" object'],
    [[], '', 'must be a JSON object'],
    ['models', '', 'must be a JSON object'],
    [{ models: [] }, 'models', 'must be an object: model name → routing'],
    [{ models: null }, 'models', 'must be an object'],
    [{ models: {}, extra: 1 }, 'extra', 'unknown key (expected only "models")'],
    [{ models: { gbm: {} } }, 'models.gbm', 'no model "gbm" is loaded (loaded: xgboost, lda)'],
    [{ models: { lda: [] } }, 'models.lda', 'must be an object with "default", "split" and/or "shadow"'],
    [{ models: { lda: 'x' } }, 'models.lda', 'must be an object'],
    [
      { models: { lda: { weights: {} } } },
      'models.lda.weights',
      'unknown key (expected "default", "split" or "shadow")',
    ],
    [{ models: { lda: { default: 1 } } }, 'models.lda.default', 'must be a version string such as "1.0.0"'],
    [
      { models: { xgboost: { default: '3.0.0' } } },
      'models.xgboost.default',
      'version 3.0.0 of xgboost is not loaded (loaded: 1.0.0, 1.1.0, 2.0.0)',
    ],
    [{ models: { xgboost: { split: [] } } }, 'models.xgboost.split', 'must be an object: version → integer weight'],
    [
      { models: { xgboost: { split: {} } } },
      'models.xgboost.split',
      'needs at least one version with a positive weight',
    ],
    [{ models: { xgboost: { split: { '1.0.0': -1 } } } }, 'models.xgboost.split.1.0.0', 'got -1'],
    [{ models: { xgboost: { split: { '1.0.0': 1_000_001 } } } }, 'models.xgboost.split.1.0.0', 'got 1000001'],
    [{ models: { xgboost: { split: { '1.0.0': '5' } } } }, 'models.xgboost.split.1.0.0', 'got "5"'],
    [{ models: { xgboost: { split: { '1.0.0': 0.5 } } } }, 'models.xgboost.split.1.0.0', 'from 0 to 1000000, got 0.5'],
    [{ models: { xgboost: { split: { '9.9.9': 1 } } } }, 'models.xgboost.split.9.9.9', 'version 9.9.9 of xgboost'],
    [{ models: { xgboost: { shadow: 2 } } }, 'models.xgboost.shadow', 'must be a version string'],
    [
      { models: { xgboost: { split: { '1.1.0': 1, '1.0.0': 0 }, shadow: '1.1.0' } } },
      'models.xgboost.shadow',
      '1.1.0 is also the only version served: a shadow must be another version',
    ],
    [{ models: { xgboost: { shadow: '2.0.0' } } }, 'models.xgboost.shadow', '2.0.0 is also the only version served'],
  ])('refuse %j, naming %s', (doc, path, message) => {
    const r = refusal(doc);
    expect(r.path).toBe(path);
    expect(r.message).toContain(message);
    expect(r.message.startsWith(`routing.json: ${path ? `${path}: ` : ''}`)).toBe(true);
  });

  it('name the source and the problem, with no path for the document itself', () => {
    expect(() => routes(7)).toThrow(
      expect.objectContaining({
        name: 'RoutingError',
        source: 'routing.json',
        message: 'routing.json: must be a JSON object with a "models" object',
      }),
    );
  });
});

describe('sticky arms', () => {
  const a = fake('m', 'a');
  const b = fake('m', 'b');
  const c = fake('m', 'c');
  const split: Arm[] = [
    { model: a, weight: 1, upTo: 1 },
    { model: b, weight: 2, upTo: 3 },
    { model: c, weight: 1, upTo: 4 },
  ];

  it('send a loan to the arm whose cumulative range holds its bucket (hash mod total weight)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 400; i++) {
      const key = `F99Q${i}`;
      const bucket = stickyHash(`m\u0000${key}`) % 4;
      seen.add(bucket);
      expect(armFor('m', split, key)).toBe([a, b, b, c][bucket]);
    }
    // Every bucket, the edges of each range included, came up.
    expect([...seen].sort()).toEqual([0, 1, 2, 3]);
  });

  it('hash with FNV-1a and murmur3’s finaliser over the name, a NUL and the key', () => {
    // Reference values computed independently (Python, over the UTF-16 code units): a change would
    // move loans between the arms of every running experiment.
    expect([stickyHash('F10Q1'), stickyHash(''), stickyHash('xgboost\u0000F06Q10000042')]).toEqual([
      1476038574, 2872998923, 1280926332,
    ]);
    expect(stickyHash('m\u0000F99Q0') % 4).toBe(309655228 % 4);
  });

  it('with one arm, send every loan to it', () => {
    for (let i = 0; i < 50; i++) expect(armFor('m', [{ model: c, weight: 7, upTo: 7 }], `k${i}`)).toBe(c);
  });
});

describe('loan keys', () => {
  it('are the loan number when there is one, else every field of the record in order', () => {
    expect(loanKey({ loan_sequence_number: 'F06Q1', credit_score: 700 })).toBe('F06Q1');
    const anonymous = loanKey({ credit_score: 700, ltv: 80 });
    // An empty or non-string loan number is not a key: the record is.
    expect(loanKey({ loan_sequence_number: '', credit_score: 700, ltv: 80 })).toContain('|700|');
    expect(loanKey({ loan_sequence_number: 42, credit_score: 700, ltv: 80 })).toContain('|700|');
    expect(loanKey({ ltv: 80, credit_score: 700 })).toBe(anonymous);
    expect(loanKey({ credit_score: 700, ltv: 80, dti: null })).toBe(anonymous);
    expect(anonymous).not.toBe(loanKey({ credit_score: 700, ltv: 81 }));
    expect(anonymous).not.toBe(loanKey({ credit_score: 80, ltv: 700 }));
    // Strings and numbers with the same digits are different values.
    expect(loanKey({ credit_score: '700', ltv: 80 })).not.toBe(anonymous);
    expect(anonymous).toContain('700');
    // The key is every loan-record field's JSON value followed by "|", in the record's order.
    expect(loanKey({})).toBe('null|'.repeat(LOAN_FIELDS.length));
  });
});
