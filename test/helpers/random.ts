/** The seeded generator the runtime's warm-up uses (src/runtime/random.ts), for generated test cases. */
export { seededRandom } from '../../src/runtime/random.js';
