import { Type } from '@sinclair/typebox';
import { STRATA, WEIGHTED } from '../../../src/pool/strata.js';
import { NullableNumber } from '../../schemas.js';

const WeightedSchema = Type.Object({
  value: NullableNumber({ description: 'Σ UPB × value / Σ UPB over the loans whose value is known' }),
  known_upb_share: NullableNumber({ description: 'Share of the balance whose value is known' }),
});

const StratumSchema = Type.Object({
  stratum: Type.String(),
  loans: Type.Integer(),
  original_upb: Type.Number(),
  upb_share: NullableNumber(),
  pd_upb_share: NullableNumber({ description: "The stratum's share of Σ PD × UPB" }),
  upb_weighted_pd: NullableNumber(),
});

/** The Stratifier's figures (src/pool/strata.ts), in the answers of POST /pools/score and POST /pools/lifetime. */
export const stratificationSchema = (description: string) =>
  Type.Object(
    {
      loans: Type.Integer(),
      original_upb: Type.Number(),
      average_loan_size: NullableNumber(),
      largest_loan: NullableNumber(),
      weighted_averages: Type.Object(Object.fromEntries(WEIGHTED.map((w) => [w, WeightedSchema])), {
        description:
          'Balance-weighted averages (WA FICO, OLTV, OCLTV, DTI, WAC, original term; loan age only with as_of)',
      }),
      strata: Type.Object(Object.fromEntries(STRATA.map((s) => [s, Type.Array(StratumSchema)])), {
        description: 'Loans, balance and balance and PD shares per stratum',
      }),
    },
    { description },
  );
