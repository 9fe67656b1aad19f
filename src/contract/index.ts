import contract from './loan-contract.json' with { type: 'json' };

/**
 * The contract shared with the Python training code (scripts/loanmodel/schema.py reads the same file):
 * the loan record's fields, the Freddie Mac origination layout, the model name and version patterns
 * and what an XGBoost document must be to be accepted. `loan-contract.json` is the only place these
 * facts are written; this module gives them their TypeScript types (docs/ARCHITECTURE.md, "The contract between Python and TypeScript").
 *
 * The JSON is imported (not read from disk), so `tsc` copies it next to the compiled module and the
 * service finds it wherever dist/ goes.
 */

interface ContractFieldBase {
  readonly name: string;
  readonly required: boolean;
  readonly description: string;
  /** The shorter description the training pipeline writes into an artifact's `fields`. */
  readonly artifact_description?: string;
}

export interface ContractNumericField extends ContractFieldBase {
  readonly kind: 'numeric';
  readonly integer: boolean;
  readonly min: number;
  readonly max: number;
  readonly unit: string;
  /** The unit the training pipeline writes into an artifact, when it differs. */
  readonly artifact_unit?: string;
  readonly sentinel?: number;
  readonly example: number;
}

export interface ContractCodeField extends ContractFieldBase {
  readonly kind: 'code';
  /** Code → meaning, or "us_states": the USPS codes of `us_states`, each meaning itself. */
  readonly codes: Readonly<Record<string, string>> | 'us_states';
  readonly sentinel?: string;
  readonly example: string;
}

export interface ContractTextField extends ContractFieldBase {
  readonly kind: 'text';
  readonly max_length: number;
  readonly example: string;
}

export type ContractField = ContractNumericField | ContractCodeField | ContractTextField;

/**
 * A feature a scenario-conditional model reads besides the loan record: computed per loan from the
 * request's scenario (src/scenario), never sent by a client. `min`/`max` bound every value a valid
 * scenario can give (the margin bound is checked over them).
 */
export interface ContractScenarioField {
  readonly name: string;
  readonly kind: 'numeric';
  readonly min: number;
  readonly max: number;
  readonly unit: string;
  readonly description: string;
}

export interface LoanContract {
  readonly loan_fields: readonly ContractField[];
  readonly scenario_fields: readonly ContractScenarioField[];
  readonly us_states: readonly string[];
  readonly freddie_origination: {
    readonly min_fields: number;
    readonly max_fields: number;
    readonly positions: Readonly<Record<string, number>>;
  };
  /** Whole-string patterns (no anchors in the file; ASCII classes only). */
  readonly model_name_pattern: string;
  readonly model_version_pattern: string;
  readonly xgboost: {
    readonly objectives: readonly string[];
    /** Objectives whose prediction is the margin itself (base_score is a margin, not a probability). */
    readonly margin_objectives: readonly string[];
    readonly boosters: readonly string[];
    readonly max_classes: number;
    readonly targets: number;
  };
}

export const CONTRACT: LoanContract = contract as LoanContract;

/** A contract pattern as a RegExp matching the whole string. */
export function wholeMatch(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

export const MODEL_NAME = wholeMatch(CONTRACT.model_name_pattern);
export const MODEL_VERSION = wholeMatch(CONTRACT.model_version_pattern);
export const FREDDIE = CONTRACT.freddie_origination;
export const FREDDIE_POSITIONS: Readonly<Record<string, number>> = FREDDIE.positions;
export const XGBOOST_RULES = CONTRACT.xgboost;
