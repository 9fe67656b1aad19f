import { type TSchema, Type } from '@sinclair/typebox';
import { STRATA, WEIGHTED } from '../../../src/pool/strata.js';

const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const WeightedSchema = Type.Object({
  value: nullable(Type.Number({ description: 'Σ UPB × value / Σ UPB over the loans whose value is known' })),
  known_upb_share: nullable(Type.Number({ description: 'Share of the balance whose value is known' })),
});

const StratumSchema = Type.Object({
  stratum: Type.String(),
  loans: Type.Integer(),
  original_upb: Type.Number(),
  upb_share: nullable(Type.Number()),
  pd_upb_share: nullable(Type.Number({ description: "The stratum's share of Σ PD × UPB" })),
  upb_weighted_pd: nullable(Type.Number()),
});

/** The Stratifier's figures (src/pool/strata.ts), in the answers of POST /pools/score and POST /pools/lifetime. */
export const stratificationSchema = (description: string) =>
  Type.Object(
    {
      loans: Type.Integer(),
      original_upb: Type.Number(),
      average_loan_size: nullable(Type.Number()),
      largest_loan: nullable(Type.Number()),
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
