/**
 * Calls to the service. Every call sends the API key of the settings (if any) as a bearer token and
 * answers `{ ok, status, body }`; a refused key (401/403) is also announced at the top of the page.
 * URLs are relative, so the page works wherever the service is mounted.
 */

const KEY_STORE = 'loan-default-service.api-key';

const keyInput = () => /** @type {HTMLInputElement} */ (document.getElementById('api-key'));

export function setUpApiKey() {
  const input = keyInput();
  input.value = sessionStorage.getItem(KEY_STORE) ?? '';
  input.addEventListener('input', () => {
    const key = input.value.trim();
    if (key) sessionStorage.setItem(KEY_STORE, key);
    else sessionStorage.removeItem(KEY_STORE);
    showAuthProblem(null);
  });
}

let refused = null; // the path of the call the message is about

function showAuthProblem(text, path = null) {
  const box = /** @type {HTMLElement} */ (document.getElementById('auth-problem'));
  box.textContent = text ?? '';
  box.hidden = !text;
  refused = text ? path : null;
}

const UNREACHABLE = {
  ok: false,
  status: 0,
  body: { message: 'The service cannot be reached: check that it is running, then try again.' },
};

/** fetch with the API key of the settings (if any); null when the service cannot be reached. */
async function send(url, init, accept) {
  const headers = new Headers(init.headers);
  headers.set('accept', accept);
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) headers.set('authorization', `Bearer ${key}`);
  try {
    return { response: await fetch(url, { ...init, headers }), key };
  } catch {
    return null;
  }
}

/** The answer's body as JSON (or its first 300 characters as the message), and a refused key announced. */
async function answered(response, key, path) {
  const text = await response.text();
  let body;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text.slice(0, 300) };
  }
  if (response.status === 401 || response.status === 403) {
    const what = !key
      ? 'needs an API key: enter one under Settings'
      : response.status === 401
        ? 'does not accept this API key: check it under Settings'
        : 'does not allow this API key to do this';
    showAuthProblem(`${response.status} ${body.error ?? ''}: the service ${what}. (${body.message ?? ''})`, path);
    if (!key) /** @type {HTMLDetailsElement} */ (document.getElementById('settings')).open = true;
  } else if (response.ok && refused === path) {
    showAuthProblem(null); // the call that was refused now goes through
  }
  return { ok: response.ok, status: response.status, body };
}

/**
 * @param {string} url relative to the page
 * @param {RequestInit} [init]
 * @returns {Promise<{ ok: boolean, status: number, body: any }>}
 */
export async function call(url, init = {}) {
  const sent = await send(url, init, 'application/json');
  return sent ? answered(sent.response, sent.key, url.split('?')[0]) : UNREACHABLE;
}

/**
 * Asks for a CSV answer (Accept: text/csv) and saves it as `filename` (a download of the browser);
 * answers like `call`, with `body.bytes` the size saved when it went through.
 * @param {string} url relative to the page
 * @param {RequestInit} init
 * @param {string} filename
 */
export async function download(url, init, filename) {
  const sent = await send(url, init, 'text/csv');
  if (!sent) return UNREACHABLE;
  const path = url.split('?')[0];
  if (!sent.response.ok) return answered(sent.response, sent.key, path);
  const blob = await sent.response.blob();
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  if (refused === path) showAuthProblem(null);
  return { ok: true, status: sent.response.status, body: { bytes: blob.size } };
}

/**
 * The error line, then the first `n` of the answer's `details` that its message does not already say
 * (with `atFields`, those of the query are left out: the caller shows them at their fields).
 */
export function describeWithDetails(answer, atFields = false, n = 3) {
  const message = answer.body.message ?? '';
  const more = (answer.body.details ?? [])
    .filter((d) => !(atFields && d.field?.startsWith('query.')))
    .map((d) => `${d.field} ${d.message}`)
    .filter((line) => !message.includes(line))
    .slice(0, n);
  return `${describeFailure(answer)}${more.length ? `: ${more.join('; ')}` : ''}`;
}

/** One line for an error answer: "400 Bad Request: …". */
export function describeFailure({ status, body }) {
  if (status === 0) return body.message;
  return `${status} ${body.error ?? ''}: ${body.message ?? 'the service answered an error'}`.replace(' :', ':');
}
