// Calls to the Config API of the origin the page came from. The access key, when one
// was entered, lives in sessionStorage only (this tab, until it closes) and goes in
// every call as `Authorization: Bearer <key>`, as docs/security.md says.

const kKeyItem = 'eventgateway.console.key';

export const accessKey = {
  get: () => sessionStorage.getItem(kKeyItem),
  set: (key) => sessionStorage.setItem(kKeyItem, key),
  forget: () => sessionStorage.removeItem(kKeyItem),
};

// An answer other than 2xx: `message` is the API's own text (its errors[].message).
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let onUnauthorized = () => {};
// Called with the ApiError of every 401, so that the page can ask for a key.
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

function headers(extra = {}) {
  const out = { ...extra };
  const key = accessKey.get();
  if (key) out.authorization = `Bearer ${key}`;
  return out;
}

async function failure(res) {
  const text = await res.text();
  let message = '';
  try {
    const body = JSON.parse(text);
    message = (body.errors ?? []).map((e) => e.message).join('\n');
  } catch {
    message = text;
  }
  if (!message) message = `${res.status} ${res.statusText}`;
  const err = new ApiError(res.status, message);
  if (res.status === 401) onUnauthorized(err);
  return err;
}

// JSON in, JSON out; a 204 answers null.
export async function call(method, path, body, { signal } = {}) {
  const init = { method, headers: headers(), cache: 'no-store', signal };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export async function text(path, { signal } = {}) {
  const res = await fetch(path, { headers: headers(), cache: 'no-store', signal });
  if (!res.ok) throw await failure(res);
  return res.text();
}

// A streamed answer (the event tail). EventSource cannot send an Authorization header,
// so the page reads the stream itself.
export async function stream(path, { signal } = {}) {
  const res = await fetch(path, { headers: headers({ accept: 'text/event-stream' }), cache: 'no-store', signal });
  if (!res.ok) throw await failure(res);
  return res.body.getReader();
}

export const spacePath = (space, ...rest) =>
  ['/v1/spaces', encodeURIComponent(space), ...rest.map((s) => encodeURIComponent(s))].join('/');
