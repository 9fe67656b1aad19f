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

/**
 * @param {string} url relative to the page
 * @param {RequestInit} [init]
 * @returns {Promise<{ ok: boolean, status: number, body: any }>}
 */
export async function call(url, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('accept', 'application/json');
  const key = sessionStorage.getItem(KEY_STORE);
  const path = url.split('?')[0];
  if (key) headers.set('authorization', `Bearer ${key}`);
  let response;
  try {
    response = await fetch(url, { ...init, headers });
  } catch {
    return {
      ok: false,
      status: 0,
      body: { message: 'The service cannot be reached: check that it is running, then try again.' },
    };
  }
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

/** One line for an error answer: "400 Bad Request: …". */
export function describeFailure({ status, body }) {
  if (status === 0) return body.message;
  return `${status} ${body.error ?? ''}: ${body.message ?? 'the service answered an error'}`.replace(' :', ':');
}
