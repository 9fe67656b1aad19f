import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every .ts/.mjs file under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|mjs)$/.test(name) ? [path] : [];
  });
}

/** The module specifiers a file imports (static imports and exports, dynamic imports). */
function imports(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm))
    found.push(m[1] as string);
  return found;
}

describe('folders say what they hold', () => {
  it('the product and the tools never import from test/', () => {
    const offenders = ['src', 'plugins', 'scripts'].flatMap((dir) =>
      sources(dir).flatMap((file) =>
        imports(file)
          .filter((spec) => /(^|\/)test\//.test(spec) || /^(\.\.\/)+helpers\//.test(spec))
          .map((spec) => `${file} imports ${spec}`),
      ),
    );
    expect(offenders).toEqual([]);
  });

  it('the shipped CLI is product code under src/, and package.json runs it from there', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };
    expect(pkg.bin['loan-pool-score']).toBe('dist/src/cli/score.js');
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
      packages: Record<string, { bin?: Record<string, string> }>;
    };
    expect(lock.packages['']?.bin).toEqual(pkg.bin);
    expect(pkg.scripts.score).toBe('node --import tsx src/cli/score.ts');
    const build = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as { include: string[] };
    expect(build.include).toContain('src');
  });

  it('metrics are created in one place: plugins/metrics.ts (on the series of src/metrics/)', () => {
    const creators = ['src', 'plugins']
      .flatMap((dir) => sources(dir))
      .filter((file) =>
        /\bnew\s+(Counter|Gauge|Histogram|Summary|FastCounter|FastHistogram)\s*[(<]/.test(readFileSync(file, 'utf8')),
      )
      .sort();
    expect(creators).toEqual([join('plugins', 'metrics.ts')]);
  });
});
