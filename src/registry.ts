import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LOAN_FIELD_BY_NAME } from './loan/record.js';
import { ArtifactError, type LoadOptions, loadModelFile, type Model, type ModelFamily } from './runtime/index.js';

/**
 * The set of models the service scores with. Families are contributed by plugins (one per family);
 * `loadDirectory` then reads every `*.json` artifact of the model directory. Anything wrong stops the
 * load with an `ArtifactError` naming the file: a service never starts on a model it cannot trust.
 */
export class ModelRegistry {
  private readonly families = new Map<string, ModelFamily>();
  private models = new Map<string, Model>();
  private loaded = false;

  constructor(private readonly options: Omit<LoadOptions, 'families'> = {}) {}

  addFamily(family: ModelFamily): void {
    if (this.families.has(family.family)) throw new Error(`model family ${family.family} is registered twice`);
    this.families.set(family.family, family);
  }

  familyNames(): string[] {
    return [...this.families.keys()];
  }

  async loadDirectory(dir: string): Promise<void> {
    let entries: string[];
    try {
      entries = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    } catch (err) {
      throw new ArtifactError(dir, '', `cannot read the model directory: ${(err as Error).message}`);
    }
    if (entries.length === 0) throw new ArtifactError(dir, '', 'no model artifacts (*.json) in the model directory');
    const families = [...this.families.values()];
    const models = new Map<string, Model>();
    for (const file of entries) {
      const path = join(dir, file);
      const model = await loadModelFile(path, { ...this.options, families });
      checkAgainstLoanRecord(model);
      const clash = models.get(model.name);
      if (clash)
        throw new ArtifactError(
          path,
          'name',
          `model name ${JSON.stringify(model.name)} is also used by ${clash.source}`,
        );
      models.set(model.name, model);
    }
    this.models = models;
    this.loaded = true;
  }

  get ready(): boolean {
    return this.loaded;
  }

  get(name: string): Model | undefined {
    return this.models.get(name);
  }

  names(): string[] {
    return [...this.models.keys()];
  }

  list(): Model[] {
    return [...this.models.values()];
  }
}

/** Every field a model reads must be a loan-record field of a compatible kind and codes. */
function checkAgainstLoanRecord(model: Model): void {
  model.fields.forEach((f, i) => {
    const path = `fields[${i}]`;
    const loanField = LOAN_FIELD_BY_NAME.get(f.name);
    if (!loanField) {
      throw new ArtifactError(model.source, path, `reads ${JSON.stringify(f.name)}, which is not a loan-record field`);
    }
    if (f.kind === 'numeric' && loanField.kind !== 'numeric') {
      throw new ArtifactError(model.source, path, `${f.name} is numeric in the artifact but a code in the loan record`);
    }
    if (f.kind === 'categorical') {
      if (loanField.kind !== 'code') {
        throw new ArtifactError(
          model.source,
          path,
          `${f.name} is categorical in the artifact but not a code in the loan record`,
        );
      }
      const unknown = f.levels.filter((l) => !(l in loanField.codes));
      if (unknown.length > 0) {
        throw new ArtifactError(
          model.source,
          `${path}.levels`,
          `${unknown.join(', ')} are not valid codes of ${f.name}`,
        );
      }
      // A code the loan record accepts but the model would refuse must not reach the encoder.
      const known = new Set([...f.levels, ...f.missingValues]);
      const refused = Object.keys(loanField.codes).filter((c) => !known.has(c));
      if (refused.length > 0) {
        throw new ArtifactError(
          model.source,
          `${path}.levels`,
          `does not cover the codes ${refused.join(', ')} of ${f.name}`,
        );
      }
    }
  });
}
