/**
 * Makes a new API key: a random token (32 bytes from the OS's CSPRNG, base64url), printed once, and
 * the line to add to API_KEYS_FILE (or API_KEYS), which holds only the token's SHA-256.
 *
 *   npm run key -- <name> [scope,scope…]        scopes: predict (default), admin, ops
 *   node dist/scripts/new-api-key.js <name> [scopes]   (in the image, without tsx)
 *
 * The token goes to the client (a secret store, never a repository); the line goes to the service.
 * Nothing is written to disk. See SECURITY.md for rotation.
 */
import { KEY_NAME, keyLine, newToken, parseKeyList, SCOPES, type Scope } from '../src/security/keys.js';

const [name, scopeArg = 'predict', ...rest] = process.argv.slice(2);
const usage = `usage: npm run key -- <name> [scopes]   (name: letters, digits, _ . -; scopes: comma-separated, of ${SCOPES.join(', ')}; default predict)`;
if (name === undefined || name === '--help' || name === '-h' || rest.length > 0) {
  console.error(usage);
  process.exit(name === '--help' || name === '-h' ? 0 : 2);
}
if (!KEY_NAME.test(name)) {
  console.error(`the name must be 1-64 letters, digits, "_", "." or "-", starting with a letter or digit\n${usage}`);
  process.exit(2);
}
const scopes = scopeArg.split(',').filter((s) => s !== '') as Scope[];
const token = newToken();
const line = keyLine(name, token, scopes);
try {
  parseKeyList(line); // the same checks the service makes: name, scopes
} catch (err) {
  console.error(`${(err as Error).message.replace(/^entry 1: /, '')}\n${usage}`);
  process.exit(2);
}

process.stdout.write(
  [
    `Token for "${name}" (shown once; give it to the client, e.g. a secret store):`,
    '',
    `  ${token}`,
    '',
    'Clients send it as:  Authorization: Bearer <token>',
    '',
    'Line for API_KEYS_FILE (or API_KEYS); it holds only the SHA-256 of the token:',
    '',
    `  ${line}`,
    '',
  ].join('\n'),
);
