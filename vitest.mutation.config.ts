import { defineConfig } from 'vitest/config';

/**
 * The test set Stryker runs against each mutant of the core (stryker.config.json, docs/MUTATION.md):
 * in-process unit tests of the runtime, the pool figures and the boundaries the outside mutation run
 * found, without the server, cluster, security, infrastructure and UI suites, which start servers or
 * child processes and would make a run of ~1,000 mutants take hours on two cores.
 * `npm test` does not use this file (plain `vitest run` reads no config and runs every test).
 */
export default defineConfig({
  test: {
    // Instrumented code runs several times slower: the conformance suite on the shipped models needs more than 5 s.
    testTimeout: 60_000,
    include: [
      'test/runtime/**/*.test.ts',
      'test/pool/output.test.ts',
      'test/pool/tape.test.ts',
      'test/service/boundaries.test.ts',
      // In-process (app.inject, no listening socket): the only tests of the reason codes (src/loan/reasons.ts).
      'test/service/explain.test.ts',
      'test/mutants/**/*.test.ts',
    ],
  },
});
