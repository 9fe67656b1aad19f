/**
 * Scenario features (src/scenario/index.ts) against the Python ones (scripts/loanmodel/scenario.py) on
 * test/fixtures/scenario-features.json (scripts/scenario_fixture.py): every loan under every preset,
 * `historical` and the custom paths, feature by feature to 1e-12; and the scenario validator against the
 * fields Python's names for the same invalid scenarios. scripts/tests/test_scenario.py checks the
 * Python side against the same file.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_PROBLEMS } from '../../src/problems.js';
import {
  checkScenario,
  HORIZON,
  PRESET_NAMES,
  SCENARIO_FEATURES,
  SCENARIO_FILE,
  SCENARIO_NAMES,
  type Scenario,
  scenarioFeatures,
} from '../../src/scenario/index.js';

interface Fixture {
  features: string[];
  loans: Record<string, unknown>[];
  cases: { scenario: unknown; rows: (number | null)[][] }[];
  invalid: { scenario: unknown; fields: string[] }[];
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/scenario-features.json', import.meta.url), 'utf8'),
) as Fixture;

function resolve(spec: unknown): Scenario {
  const check = checkScenario(spec);
  expect(check.problems).toEqual([]);
  return check.scenario as Scenario;
}

/** "loan i, feature: TypeScript x, Python y" for every value further apart than 1e-12 (relative above 1). */
function drifts(spec: unknown, rows: (number | null)[][]): string[] {
  const scenario = resolve(spec);
  const out: string[] = [];
  fixture.loans.forEach((loan, i) => {
    const got = scenarioFeatures(loan, scenario);
    SCENARIO_FEATURES.forEach((name, j) => {
      const want = rows[i]?.[j] ?? Number.NaN;
      const g = got[name];
      const ok = Number.isNaN(want) ? Number.isNaN(g) : Math.abs(g - want) <= 1e-12 * Math.max(1, Math.abs(want));
      if (!ok) out.push(`loan ${i} ${JSON.stringify(loan)}, ${name}: TypeScript ${g}, Python ${want}`);
    });
  });
  return out;
}

describe('scenario features: TypeScript against the Python fixture', () => {
  it('covers every preset, historical and custom paths, a few hundred loans, the same features', () => {
    expect(fixture.features).toEqual([...SCENARIO_FEATURES]);
    const named = fixture.cases.map((c) => c.scenario).filter((s) => typeof s === 'string');
    expect(named).toEqual([...SCENARIO_NAMES]);
    expect(fixture.cases.length).toBeGreaterThan(SCENARIO_NAMES.length);
    expect(fixture.loans.length).toBeGreaterThan(300);
  });

  for (const c of fixture.cases) {
    const label = typeof c.scenario === 'string' ? c.scenario : `custom ${JSON.stringify(c.scenario).slice(0, 60)}`;
    it(`${label}: every loan, feature by feature, to 1e-12`, () => {
      expect(drifts(c.scenario, c.rows)).toEqual([]);
    });
  }
});

describe('scenario validation', () => {
  it('names the same fields as the Python validator on every invalid scenario of the fixture', () => {
    for (const { scenario, fields } of fixture.invalid) {
      const check = checkScenario(scenario);
      expect(check.scenario).toBeUndefined();
      expect([...new Set(check.problems.map((p) => p.field))].sort(), JSON.stringify(scenario).slice(0, 80)).toEqual(
        fields,
      );
      for (const p of check.problems) expect(p.message.length).toBeGreaterThan(0);
    }
  });

  it('accepts every preset and historical by name, and each preset path covers the horizon', () => {
    for (const name of SCENARIO_NAMES) expect(checkScenario(name).scenario?.name).toBe(name);
    for (const name of PRESET_NAMES) {
      expect(SCENARIO_FILE.presets[name]?.national.length).toBeGreaterThanOrEqual(HORIZON);
    }
  });

  it('severely_adverse falls 25 % nationally over nine quarters', () => {
    const path = SCENARIO_FILE.presets.severely_adverse?.national ?? [];
    const fall = path.slice(0, 9).reduce((a, b) => a + b, 0);
    expect(Math.exp(fall)).toBeCloseTo(0.75, 12);
    expect(path.slice(9).every((x) => x >= 0)).toBe(true);
  });

  it('bounded work on huge inputs: a million-element path, 200,000 states, 200,000 unknown keys', () => {
    let reads = 0;
    const huge = new Proxy(new Array(1_000_000).fill(0), {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, receiver);
      },
    });
    const national = checkScenario({ national: huge });
    expect(national.problems).toEqual([
      { field: 'scenario.national', message: 'must hold 12 to 40 quarters, got 1000000' },
    ]);
    expect(reads).toBe(0);

    const states: Record<string, number[]> = {};
    for (let i = 0; i < 200_000; i++) states[`S${i}`] = [];
    const manyStates = checkScenario({ national: new Array(12).fill(0), states });
    expect(manyStates.problems).toEqual([{ field: 'scenario.states', message: 'must name at most 60 states' }]);

    const keys: Record<string, number> = { national: 0 };
    for (let i = 0; i < 200_000; i++) keys[`k${i}`] = i;
    const manyKeys = checkScenario(keys);
    expect(manyKeys.problems.length).toBeLessThanOrEqual(MAX_PROBLEMS);
    expect(manyKeys.problems.length + manyKeys.omitted).toBeLessThan(2 * MAX_PROBLEMS + 10);
  });

  it('every element of a path is checked: NaN, Infinity, strings, booleans and out-of-bound values', () => {
    const path: unknown[] = new Array(12).fill(0);
    path[0] = Number.NaN;
    path[1] = Number.POSITIVE_INFINITY;
    path[2] = '0.01';
    path[3] = true;
    path[4] = 0.2500001;
    path[5] = -0.25;
    const check = checkScenario({ national: path });
    expect(check.problems.map((p) => p.field)).toEqual([0, 1, 2, 3, 4].map((i) => `scenario.national[${i}]`));
  });

  it('a custom scenario is copied, not kept by reference', () => {
    const national = new Array(12).fill(-0.01);
    const check = checkScenario({ national, states: { CA: new Array(12).fill(-0.02) } });
    national[0] = 0.2;
    const s = check.scenario;
    expect(s?.kind === 'path' && s.national[0]).toBe(-0.01);
  });
});
