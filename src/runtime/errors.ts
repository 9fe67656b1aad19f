/**
 * Errors raised by the runtime. Both carry enough context for a message a person can act on:
 * which artifact (file) and what is wrong with it, or which loan field and why it was refused.
 */

/** An artifact that cannot be loaded: malformed, unsupported or inconsistent. Never scored. */
export class ArtifactError extends Error {
  override readonly name = 'ArtifactError';
  /** The file path, or a caller-supplied label when the artifact came as an object. */
  readonly source: string;
  /** Where in the document the problem is, e.g. `model.trees[3].children_left[7]`. */
  readonly path: string;
  readonly problem: string;

  constructor(source: string, path: string, problem: string) {
    super(`${source}: ${path ? `${path}: ` : ''}${problem}`);
    this.source = source;
    this.path = path;
    this.problem = problem;
  }
}

/** A loan value the model cannot encode: wrong type, unknown category, non-finite number. */
export class EncodingError extends Error {
  override readonly name = 'EncodingError';
  readonly field: string;
  readonly reason: string;

  /** Position of the loan in a batch, when it came from one. */
  readonly index: number | undefined;

  constructor(field: string, reason: string, index?: number) {
    super(`${index === undefined ? '' : `loans[${index}].`}${field}: ${reason}`);
    this.field = field;
    this.reason = reason;
    this.index = index;
  }

  /** The same error, located at position `index` of a batch. */
  at(index: number): EncodingError {
    return new EncodingError(this.field, this.reason, index);
  }
}
