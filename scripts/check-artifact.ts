/**
 * Scores the rows of a CSV file with a model artifact exactly as the service does (the same
 * src/runtime loader, encoder and evaluators) and prints the probabilities and margins as JSON.
 * scripts/import_model.py runs it to compare the service with the library that trained the model
 * (docs/BRING_YOUR_OWN_MODEL.md).
 *
 *   node --import tsx scripts/check-artifact.ts <artifact.json> <rows.csv>
 *
 * The CSV has a header row. Each field of the artifact is read from the column of the same name; an
 * empty cell is a missing value. Numeric fields take plain decimal numbers (`12`, `-0.5`, `1e-3`);
 * categorical fields (loan-record artifacts) take the code as written. A `features` artifact needs a
 * column for every feature; in a loan-record artifact an absent column is a missing field. Other
 * columns are ignored.
 *
 * stdout: {"artifact", "name", "version", "family", "inputs", "sha256", "rows", "columns_absent",
 * "probability": [...], "margin": [...]}, numbers in shortest round-trip form.
 * Exit status: 0 scored, 1 the artifact or a row was refused, 2 usage.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { loanRecordRange } from '../src/registry.js';
import { ArtifactError, EncodingError, type LoanRecord, loadModelFile, type Model } from '../src/runtime/index.js';

/** A plain decimal number; the importer (scripts/import_model.py) accepts exactly the same spellings. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

class RowError extends Error {}

function records(model: Model, text: string): { loans: LoanRecord[]; absent: string[] } {
  const rows = parse(text, { bom: true, skip_empty_lines: true }) as string[][];
  const header = rows[0];
  if (header === undefined) throw new RowError('the CSV file is empty (a header row is needed)');
  const index = new Map<string, number>();
  header.forEach((name, i) => {
    if (index.has(name)) throw new RowError(`the header names column ${JSON.stringify(name)} twice`);
    index.set(name, i);
  });
  const absent = model.fields.filter((f) => !index.has(f.name)).map((f) => f.name);
  if (model.inputs === 'features' && absent.length > 0) {
    throw new RowError(`the CSV has no column for feature(s) ${absent.map((n) => JSON.stringify(n)).join(', ')}`);
  }
  const present = model.fields.filter((f) => index.has(f.name));
  const loans = rows.slice(1).map((cells, r) => {
    const loan: Record<string, number | string | null> = {};
    for (const f of present) {
      const cell = cells[index.get(f.name) as number] as string;
      if (cell === '') {
        loan[f.name] = null;
      } else if (f.kind === 'categorical') {
        loan[f.name] = cell;
      } else {
        const v = NUMBER.test(cell) ? Number(cell) : Number.NaN;
        if (!Number.isFinite(v)) {
          throw new RowError(
            `row ${r + 1}, column ${JSON.stringify(f.name)}: not a finite number: ${JSON.stringify(cell)}`,
          );
        }
        loan[f.name] = v;
      }
    }
    return loan;
  });
  return { loans, absent };
}

async function main(argv: string[]): Promise<number> {
  if (argv.length !== 2 || argv.some((a) => a === '-h' || a === '--help')) {
    process.stderr.write('usage: node --import tsx scripts/check-artifact.ts <artifact.json> <rows.csv>\n');
    return 2;
  }
  const [artifactPath, csvPath] = argv as [string, string];
  try {
    // The margin bound over the same ranges as the service's (registry.ts).
    const model = await loadModelFile(artifactPath, { fieldRange: loanRecordRange });
    const { loans, absent } = records(model, readFileSync(csvPath, 'utf8'));
    const scores = model.scoreMany(loans);
    const out = {
      artifact: artifactPath,
      name: model.name,
      version: model.version,
      family: model.family,
      inputs: model.inputs,
      sha256: model.sha256,
      rows: loans.length,
      columns_absent: absent,
      probability: Array.from(scores.probability),
      margin: Array.from(scores.margin),
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ArtifactError || err instanceof RowError || err instanceof EncodingError) {
      const where = err instanceof EncodingError && err.index !== undefined ? ` (data row ${err.index + 1})` : '';
      process.stderr.write(`check-artifact: ${err.message}${where}\n`);
      return 1;
    }
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as { code?: string }).code?.startsWith('CSV_')) {
      process.stderr.write(`check-artifact: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
