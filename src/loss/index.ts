/** Lifetime loss (issue 22): pure engine, pool aggregation and the conventions it rests on; docs/LOSS.md. */
export * from './conventions.js';
export * from './engine.js';
export * from './loan.js';
export * from './pool.js';
export * from './validate.js';
