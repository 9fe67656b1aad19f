import { describe, expect, it } from 'vitest';
import { PACK_SINGLE_ROWS_ABOVE_NODES } from '../../src/runtime/evaluator.js';
import { ArtifactError, loadModelDocument, type Model, sigmoid } from '../../src/runtime/index.js';
import { artifact, sklearnStump, stump, xgboostBooster } from '../fixtures/tiny-models.js';

/** Single rows: packed, generated code (the default for a small ensemble), plain walker. */
const both = (doc: unknown): [string, Model][] => [
  ['packed', loadModelDocument(doc, 'tiny.json', { packTrees: true })],
  ['compiled', loadModelDocument(doc, 'tiny.json', { packTrees: false })],
  ['walker', loadModelDocument(doc, 'tiny.json', { compileTrees: false })],
];

describe('single rows: generated code for a small ensemble, the packed layout for a large one', () => {
  it(`switches above ${PACK_SINGLE_ROWS_ABOVE_NODES} nodes, with the same margins either way`, () => {
    const stumps = (n: number) =>
      artifact('xgboost', {
        booster: xgboostBooster(
          Array.from({ length: n }, (_, i) => stump(i / n, i % 2 === 0)),
          '2',
        ),
      });
    const at = Math.floor(PACK_SINGLE_ROWS_ABOVE_NODES / 3); // three nodes a stump
    const small = loadModelDocument(stumps(at), 'small.json');
    const large = loadModelDocument(stumps(at + 1), 'large.json');
    expect(small.evaluator.summary.nodes).toBeLessThanOrEqual(PACK_SINGLE_ROWS_ABOVE_NODES);
    expect(small.evaluator.summary.single_row).toBe('compiled');
    expect(large.evaluator.summary.nodes).toBeGreaterThan(PACK_SINGLE_ROWS_ABOVE_NODES);
    expect(large.evaluator.summary.single_row).toBe('packed');
    // The option still decides when given.
    expect(loadModelDocument(stumps(at), 'small.json', { packTrees: true }).evaluator.summary.single_row).toBe(
      'packed',
    );
    expect(loadModelDocument(stumps(at + 1), 'l.json', { packTrees: false }).evaluator.summary.single_row).toBe(
      'compiled',
    );
    const walker = loadModelDocument(stumps(at + 1), 'w.json', { compileTrees: false });
    for (const a of [0, 0.1, 0.25, 0.5, 0.99, null]) {
      expect(large.score({ a, b: 0 }).margin).toBe(walker.score({ a, b: 0 }).margin);
    }
  });
});

describe('XGBoost three-node tree', () => {
  for (const style of ['1.7', '2', '3'] as const) {
    for (const [mode, model] of both(artifact('xgboost', { booster: xgboostBooster([stump(0.5, true)], style) }))) {
      it(`goes left on x < t, right on x == t, NaN by default_left (${style}, ${mode})`, () => {
        expect(model.evaluator.summary.evaluator).toBe(mode === 'walker' ? 'tree-walker' : 'compiled-trees');
        expect(model.evaluator.summary.single_row).toBe(mode === 'walker' ? undefined : mode);
        // base_score 0.5 is margin 0, so the margin is exactly the leaf.
        expect(model.score({ a: 0.4, b: 0 }).margin).toBe(Math.fround(-0.4));
        expect(model.score({ a: 0.5, b: 0 }).margin).toBe(Math.fround(0.6));
        expect(model.score({ a: null, b: 0 }).margin).toBe(Math.fround(-0.4));
        expect(model.score({ a: 999, b: 0 }).margin).toBe(Math.fround(-0.4)); // sentinel → missing
        expect(model.score({ b: 0 }).margin).toBe(Math.fround(-0.4)); // absent → missing
        // ±Infinity cannot come from a loan (the encoder refuses it) but rows may carry it.
        expect(model.evaluator.margin(Float32Array.of(Number.NEGATIVE_INFINITY, 0), 0)).toBe(Math.fround(-0.4));
        expect(model.evaluator.margin(Float32Array.of(Number.POSITIVE_INFINITY, 0), 0)).toBe(Math.fround(0.6));
        expect(() => model.score({ a: Number.POSITIVE_INFINITY, b: 0 })).toThrow(/a: must be a finite number/);
        const p = model.score({ a: 0.4, b: 0 }).probability;
        expect(p).toBe(Math.fround(sigmoid(Math.fround(-0.4))));
      });
    }
  }

  it('sends NaN right when default_left is false (0)', () => {
    for (const [, model] of both(artifact('xgboost', { booster: xgboostBooster([stump(0.5, 0)], '2') }))) {
      expect(model.score({ a: null, b: 0 }).margin).toBe(Math.fround(0.6));
    }
  });

  it('compares in float32: 0.1 sits exactly on a float32 threshold of 0.1', () => {
    // XGBoost stores 0.1 as float32(0.1) = 0.10000000149...; the row's 0.1 also rounds to it.
    for (const [, model] of both(artifact('xgboost', { booster: xgboostBooster([stump(0.1, false)]) }))) {
      expect(model.score({ a: 0.1, b: 0 }).margin).toBe(Math.fround(0.6));
      expect(model.score({ a: 0.0999999, b: 0 }).margin).toBe(Math.fround(-0.4));
      // 0.10000000149 as a double is above 0.1 but rounds to the same float32: still "equal".
      expect(model.score({ a: 0.1000000014, b: 0 }).margin).toBe(Math.fround(0.6));
    }
  });

  it('sums two trees in float32 from logit(base_score)', () => {
    const doc = artifact('xgboost', {
      booster: xgboostBooster([stump(0.5, true), stump(2, false, 1)], '3', 0.2),
    });
    for (const [, model] of both(doc)) {
      const base = Math.fround(-Math.log(Math.fround(Math.fround(1 / Math.fround(0.2)) - 1)));
      // a=1 (right: 0.6), b=1 (left: -0.4)
      const expected = Math.fround(Math.fround(base + Math.fround(0.6)) + Math.fround(-0.4));
      expect(model.score({ a: 1, b: 1 }).margin).toBe(expected);
      expect(base).toBeCloseTo(Math.log(0.25), 6);
    }
  });
});

describe('scikit-learn three-node tree', () => {
  const doc = artifact('gradient_boosting', { init_margin: -2, learning_rate: 0.1, trees: [sklearnStump(0.5)] });
  for (const [mode, model] of both(doc)) {
    it(`goes left on x <= t and adds learning_rate × leaf in double (${mode})`, () => {
      expect(model.score({ a: 0.5, b: 0 }).margin).toBe(-2 + 0.1 * -1);
      expect(model.score({ a: 0.50001, b: 0 }).margin).toBe(-2 + 0.1 * 2);
      expect(model.evaluator.margin(Float32Array.of(Number.POSITIVE_INFINITY, 0), 0)).toBe(-2 + 0.1 * 2);
      expect(model.evaluator.margin(Float32Array.of(Number.NEGATIVE_INFINITY, 0), 0)).toBe(-2 + 0.1 * -1);
      // No missing_go_to_left (scikit-learn 1.2): NaN fails `<=` and goes right.
      expect(model.score({ a: null, b: 0 }).margin).toBe(-2 + 0.1 * 2);
      expect(model.score({ a: 0.5, b: 0 }).probability).toBe(sigmoid(-2 + 0.1 * -1));
    });
  }

  it('casts the row to float32 before comparing with a double threshold', () => {
    // float32(0.1) = 0.10000000149 > 0.1 (double): scikit-learn sends x = 0.1 right of 0.1.
    const m = loadModelDocument(
      artifact('gradient_boosting', { init_margin: 0, learning_rate: 1, trees: [sklearnStump(0.1)] }),
    );
    expect(m.score({ a: 0.1, b: 0 }).margin).toBe(2);
    // float32(0.7) = 0.69999998 < 0.7: x = 0.7 goes left of 0.7.
    const m2 = loadModelDocument(
      artifact('gradient_boosting', { init_margin: 0, learning_rate: 1, trees: [sklearnStump(0.7)] }),
    );
    expect(m2.score({ a: 0.7, b: 0 }).margin).toBe(-1);
  });

  it('follows missing_go_to_left when the artifact has it', () => {
    const tree = { ...sklearnStump(0.5), missing_go_to_left: [1, 0, 0] };
    for (const [, model] of both(artifact('gradient_boosting', { init_margin: 0, learning_rate: 1, trees: [tree] }))) {
      expect(model.score({ a: null, b: 0 }).margin).toBe(-1);
    }
  });
});

describe('scikit-learn HistGradientBoostingClassifier three-node tree (double rows)', () => {
  const NEXT_UP_07 = 0.7000000000000001; // the double after 0.7: float32 rounds it to 0.69999999 (< 0.7)
  const hist = (tree = sklearnStump(0.7), extra: Record<string, unknown> = {}) =>
    artifact('gradient_boosting', {
      estimator: 'HistGradientBoostingClassifier',
      split_rows: 'float64',
      init_margin: -2,
      trees: [{ ...tree, missing_go_to_left: [1, 0, 0] }],
      ...extra,
    });
  for (const [mode, model] of both(hist())) {
    it(`compares the double row with the double threshold, never rounded to float32 (${mode})`, () => {
      expect(model.evaluator.rowType).toBe('float64');
      expect(model.encode({ a: NEXT_UP_07, b: 0 })).toBeInstanceOf(Float64Array);
      // Leaves already include the learning rate: margin = init_margin + leaf.
      expect(model.score({ a: 0.7, b: 0 }).margin).toBe(-2 + -1);
      expect(model.score({ a: NEXT_UP_07, b: 0 }).margin).toBe(-2 + 2);
      expect(model.score({ a: 0.6999999999999998, b: 0 }).margin).toBe(-2 + -1);
      expect(model.evaluator.margin(Float64Array.of(NEXT_UP_07, 0), 0)).toBe(-2 + 2);
      expect(model.evaluator.margin(Float64Array.of(Number.POSITIVE_INFINITY, 0), 0)).toBe(-2 + 2);
      expect(model.evaluator.margin(Float64Array.of(Number.NEGATIVE_INFINITY, 0), 0)).toBe(-2 + -1);
      expect(model.score({ a: null, b: 0 }).margin).toBe(-2 + -1); // missing_go_to_left
      expect(model.score({ a: NEXT_UP_07, b: 0 }).probability).toBe(sigmoid(0));
    });
  }

  it('where GradientBoostingClassifier (float32 rows) sends the same loan the other way', () => {
    const gbc = loadModelDocument(
      artifact('gradient_boosting', { init_margin: -2, learning_rate: 1, trees: [sklearnStump(0.7)] }),
    );
    expect(gbc.evaluator.rowType).toBe('float32');
    expect(gbc.score({ a: NEXT_UP_07, b: 0 }).margin).toBe(-2 + -1);
    expect(loadModelDocument(hist()).score({ a: NEXT_UP_07, b: 0 }).margin).toBe(-2 + 2);
  });

  it('explains on double rows: contributions add up to the margin', () => {
    const doc = hist({ ...sklearnStump(0.7), cover: [10, 4, 6] } as ReturnType<typeof sklearnStump>);
    for (const [, model] of both(doc)) {
      const e = model.explain({ a: NEXT_UP_07, b: 0 });
      expect(e.columns[0]).toBeCloseTo(2 - (4 * -1 + 6 * 2) / 10, 14);
      expect(e.baseValue + (e.columns[0] as number) + (e.columns[1] as number)).toBeCloseTo(0, 14);
    }
  });

  it('refuses unknown estimators and split modes, and a mode the estimator does not use, naming the field', () => {
    const bad = (model: Record<string, unknown>, message: RegExp) => {
      expect(() => loadModelDocument(artifact('gradient_boosting', model), 'models/bad.json')).toThrow(message);
    };
    const base = { init_margin: 0, trees: [sklearnStump(0.5)] };
    bad(
      { ...base, estimator: 'RandomForestClassifier' },
      /model\.estimator: unknown estimator "RandomForestClassifier": this runtime scores GradientBoostingClassifier and HistGradientBoostingClassifier/,
    );
    bad(
      { ...base, estimator: 'HistGradientBoostingClassifier', split_rows: 'float16' },
      /model\.split_rows: unknown split mode "float16": this runtime compares float32 or float64 rows/,
    );
    bad(
      { ...base, estimator: 'HistGradientBoostingClassifier', split_rows: 'float32' },
      /model\.split_rows: HistGradientBoostingClassifier compares float64 rows, not float32/,
    );
    bad(
      { ...base, learning_rate: 0.1, split_rows: 'float64' },
      /model\.split_rows: GradientBoostingClassifier compares float32 rows, not float64/,
    );
    bad(
      { ...base, estimator: 'HistGradientBoostingClassifier', learning_rate: 0.1 },
      /model\.learning_rate: HistGradientBoostingClassifier's leaf values already include the learning rate/,
    );
    bad({ ...base, estimator: 7, learning_rate: 0.1 }, /model\.estimator: expected a string, got the number 7/);
  });
});

describe('linear scorer', () => {
  it('is x · coef + intercept through the logistic link, with impute and scaling from the spec', () => {
    const doc = artifact(
      'logistic_regression',
      { coefficients: [0.5, -2], intercept: 0.25 },
      {
        columns: [
          { name: 'a', op: 'numeric', field: 'a', impute: 10, center: 4, scale: 2 },
          { name: 'a_missing', op: 'is_missing', field: 'a' },
        ],
      },
    );
    const m = loadModelDocument(doc);
    expect(m.score({ a: 8 }).margin).toBe(0.5 * ((8 - 4) / 2) + -2 * 0 + 0.25);
    expect(m.score({ a: 999 }).margin).toBe(0.5 * ((10 - 4) / 2) + -2 * 1 + 0.25);
    expect(m.score({ a: 8 }).probability).toBe(sigmoid(1.25));
  });
});

describe('refusals', () => {
  const refuse = (doc: unknown, message: RegExp) => {
    let error: unknown;
    try {
      loadModelDocument(doc, 'models/bad.json');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as Error).message).toMatch(/^models\/bad\.json: /);
    expect((error as Error).message).toMatch(message);
  };
  const xgb = (mutate: (b: ReturnType<typeof xgboostBooster>) => void) => {
    const booster = xgboostBooster([stump(0.5, true)]);
    mutate(booster);
    return artifact('xgboost', { booster });
  };

  it('unknown format version and family', () => {
    refuse(
      { ...artifact('lda', { coefficients: [1, 1], intercept: 0 }), format: 'loan-default-model/2' },
      /unsupported artifact format/,
    );
    refuse(artifact('random_forest', {}), /unknown model family "random_forest"/);
  });
  it('dart boosters', () => {
    refuse(
      xgb((b) => {
        b.learner.gradient_booster.name = 'dart';
      }),
      /unsupported booster "dart"/,
    );
  });
  it('multi-class and multi-target models', () => {
    refuse(
      xgb((b) => {
        b.learner.learner_model_param.num_class = '3';
      }),
      /multi-class/,
    );
    refuse(
      xgb((b) => {
        (b.learner.learner_model_param as Record<string, string>).num_target = '2';
      }),
      /multi-target/,
    );
    refuse(
      xgb((b) => {
        b.learner.gradient_booster.model.tree_info = [1];
      }),
      /more than one output group/,
    );
  });
  it('categorical splits', () => {
    refuse(
      xgb((b) => {
        (b.learner.gradient_booster.model.trees[0] as { split_type: number[] }).split_type = [1, 0, 0];
      }),
      /categorical splits/,
    );
  });
  it('unknown objectives', () => {
    refuse(
      xgb((b) => {
        b.learner.objective.name = 'reg:squarederror';
      }),
      /unsupported objective "reg:squarederror"/,
    );
  });
  it('feature count mismatch', () => {
    refuse(
      xgb((b) => {
        b.learner.learner_model_param.num_feature = '3';
      }),
      /feature count mismatch/,
    );
    refuse(
      artifact('lda', { coefficients: [1, 2, 3], intercept: 0 }),
      /feature count mismatch: 3 coefficients for 2 columns/,
    );
  });
  it('non-finite coefficients (e.g. 1e999 in the JSON)', () => {
    refuse(
      JSON.parse(JSON.stringify(artifact('lda', { coefficients: [1, 2], intercept: 0 })).replace('[1,2]', '[1,1e999]')),
      /model\.coefficients\[1\]: expected a finite number, got Infinity/,
    );
  });
  it('child indices out of range, cycles, features out of bounds', () => {
    const tree = (patch: Record<string, number[]>) =>
      artifact('gradient_boosting', {
        init_margin: 0,
        learning_rate: 0.1,
        trees: [{ ...sklearnStump(0.5), ...patch }],
      });
    refuse(tree({ children_left: [7, -1, -1] }), /node 0 has child indices \(7, 2\) outside 0\.\.2/);
    refuse(tree({ children_left: [1, 0, -1], children_right: [2, 2, -1], feature: [0, 1, -2] }), /reached twice/);
    refuse(tree({ feature: [5, -2, -2] }), /splits on feature 5, but rows have 2 columns/);
    refuse(tree({ children_left: [1, -1, -1], children_right: [-1, -1, -1] }), /child indices \(1, -1\)/);
    refuse(
      xgb((b) => {
        (b.learner.gradient_booster.model.trees[0] as { right_children: number[] }).right_children = [0, -1, -1];
      }),
      /reached twice/,
    );
  });
  it('columns that refer to unknown fields, or unknown ops', () => {
    refuse(
      artifact('lda', { coefficients: [1], intercept: 0 }, { columns: [{ name: 'z', op: 'numeric', field: 'zz' }] }),
      /not in fields/,
    );
    refuse(
      artifact('lda', { coefficients: [1], intercept: 0 }, { columns: [{ name: 'z', op: 'log', field: 'a' }] }),
      /unknown column op "log"/,
    );
  });
});
