// Config API access keys (spec §6) against the real binary: every endpoint × every kind
// of key, the official SDK's ways of sending a key, SIGHUP reloads under load, keys
// kept out of the logs, -metrics-open and -new-access-key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { startGateway, api, waitFor, trackTempDir } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const SDK = require('@serverless/event-gateway-sdk');

const newKey = () => crypto.randomBytes(32).toString('base64url');
const sha256 = (key) => crypto.createHash('sha256').update(key).digest('hex');
const line = (key, scope) => `${sha256(key)} ${scope}\n`;

function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eg-keys-'));
  trackTempDir(dir);
  return dir;
}

// Written whole and renamed, as a deployment tool replaces a file: a reload never
// reads half of it.
function writeKeys(file, text) {
  fs.writeFileSync(`${file}.tmp`, text);
  fs.renameSync(`${file}.tmp`, file);
}

const keys = {
  admin: newKey(),
  alpha: newKey(),
  alphaRead: newKey(),
  beta: newKey(),
};
const unknownKey = newKey();
const keysText = '# e2e keys\n' + line(keys.admin, 'admin') + line(keys.alpha, 'space:alpha') +
  line(keys.alphaRead, 'space:alpha:read') + line(keys.beta, 'space:beta');

// Who calls, and the Authorization header each sends (none for `none`).
const callers = {
  none: undefined,
  unknown: `Bearer ${unknownKey}`,
  admin: `Bearer ${keys.admin}`,
  alpha: `bearer ${keys.alpha}`,  // the SDK's spelling
  alphaRead: `BEARER ${keys.alphaRead}`,
  beta: `Bearer ${keys.beta}`,
};
const allKeyTexts = [...Object.values(keys), unknownKey];

function call(gw, method, urlPath, body, caller) {
  const auth = callers[caller];
  return api(gw.configUrl, method, urlPath, body, auth ? { authorization: auth } : {});
}

function assertErrorBody(res, what) {
  assert.match(res.headers['content-type'] ?? '', /^application\/json/, `${what}: content-type`);
  assert.ok(res.json && Array.isArray(res.json.errors) && res.json.errors.length === 1 &&
    typeof res.json.errors[0].message === 'string' && res.json.errors[0].message.length > 0,
  `${what}: want {"errors":[{"message":...}]}, got ${res.text}`);
}

// Status and body rules of a refusal; `allowed` cells must answer `okStatus`.
function assertCell(res, expected, okStatus, what) {
  if (expected === 401) {
    assert.equal(res.status, 401, `${what}: ${res.text}`);
    assert.equal(res.headers['www-authenticate'], 'Bearer', what);
    assertErrorBody(res, what);
  } else if (expected === 403) {
    assert.equal(res.status, 403, `${what}: ${res.text}`);
    assert.equal(res.headers['www-authenticate'], undefined, what);
    assertErrorBody(res, what);
  } else {
    assert.equal(res.status, okStatus, `${what}: ${res.text}`);
  }
}

let gw;
let keysFile;
before(async () => {
  keysFile = path.join(tempDir(), 'keys');
  writeKeys(keysFile, keysText);
  gw = await startGateway({ args: ['-access-keys', keysFile, '-log-level', 'debug'] });
});
after(async () => { await gw?.stop(); });

const S = '/v1/spaces/alpha';
const fnUrl = 'http://127.0.0.1:9/x';
const httpFn = (id) => ({ functionId: id, type: 'http', provider: { url: fnUrl } });
const asyncSub = (fn) => ({ type: 'async', eventType: 'se', functionId: fn, path: '/', method: 'POST' });
const subId = (fn) => Buffer.from(`async,se,${fn},%2F,POST`).toString('base64url');

// Resources each caller's write requests work on, so that every cell's outcome is
// known whatever the other cells did.
async function setUpSpaceAlpha(g) {
  const mustCreate = async (resource, body) => {
    const res = await call(g, 'POST', `${S}/${resource}`, body, 'admin');
    assert.equal(res.status, 201, `${resource} ${JSON.stringify(body)}: ${res.text}`);
  };
  await mustCreate('eventtypes', { name: 'se' });
  for (const c of Object.keys(callers)) {
    for (const id of [`put-${c}`, `del-${c}`, `sf-${c}`, `df-${c}`, `pf-${c}`, `g1-${c}`]) {
      await mustCreate('functions', httpFn(id));
    }
    await mustCreate('eventtypes', { name: `put-${c}` });
    await mustCreate('eventtypes', { name: `del-${c}` });
    await mustCreate('subscriptions', asyncSub(`sf-${c}`));
    await mustCreate('subscriptions', asyncSub(`df-${c}`));
    await mustCreate('cors', { method: 'GET', path: `/put-${c}` });
    await mustCreate('cors', { method: 'GET', path: `/del-${c}` });
  }
}

// Every Config API endpoint: method, path, body and the success status, per caller.
// `write` endpoints are refused to read-only keys.
function endpoints(c) {
  return [
    { method: 'GET', path: `${S}/functions`, ok: 200 },
    { method: 'POST', path: `${S}/functions`, body: httpFn(`post-${c}`), ok: 201, write: true },
    { method: 'GET', path: `${S}/functions/put-${c}`, ok: 200 },
    { method: 'PUT', path: `${S}/functions/put-${c}`, body: httpFn(`put-${c}`), ok: 200, write: true },
    { method: 'DELETE', path: `${S}/functions/del-${c}`, ok: 204, write: true },
    { method: 'GET', path: `${S}/eventtypes`, ok: 200 },
    { method: 'POST', path: `${S}/eventtypes`, body: { name: `post-${c}` }, ok: 201, write: true },
    { method: 'GET', path: `${S}/eventtypes/put-${c}`, ok: 200 },
    { method: 'PUT', path: `${S}/eventtypes/put-${c}`, body: { metadata: { k: 'v' } }, ok: 200, write: true },
    { method: 'DELETE', path: `${S}/eventtypes/del-${c}`, ok: 204, write: true },
    { method: 'GET', path: `${S}/subscriptions`, ok: 200 },
    { method: 'POST', path: `${S}/subscriptions`, body: asyncSub(`pf-${c}`), ok: 201, write: true },
    // Gen 1 has no endpoints of its own: its subscriptions are bodies of the same URL.
    { method: 'POST', path: `${S}/subscriptions`, body: { event: 'http', functionId: `g1-${c}`, method: 'GET', path: `/g1-${c}` }, ok: 201, write: true },
    { method: 'GET', path: `${S}/subscriptions/${subId(`sf-${c}`)}`, ok: 200 },
    { method: 'PUT', path: `${S}/subscriptions/${subId(`sf-${c}`)}`, body: { ...asyncSub(`sf-${c}`), metadata: { k: 'v' } }, ok: 200, write: true },
    { method: 'DELETE', path: `${S}/subscriptions/${subId(`df-${c}`)}`, ok: 204, write: true },
    { method: 'GET', path: `${S}/cors`, ok: 200 },
    { method: 'POST', path: `${S}/cors`, body: { method: 'GET', path: `/post-${c}` }, ok: 201, write: true },
    { method: 'GET', path: `${S}/cors/GET%2Fput-${c}`, ok: 200 },
    { method: 'PUT', path: `${S}/cors/GET%2Fput-${c}`, body: { method: 'GET', path: `/put-${c}`, allowedOrigins: ['https://a.example'] }, ok: 200, write: true },
    { method: 'DELETE', path: `${S}/cors/GET%2Fdel-${c}`, ok: 204, write: true },
    { method: 'GET', path: '/v1/metrics', ok: 200, adminOnly: true },
    { method: 'GET', path: '/metrics', ok: 200, adminOnly: true },
    { method: 'GET', path: '/v1/status', ok: 200, open: true },
  ];
}

function expectedStatus(caller, ep) {
  if (ep.open) return 'ok';
  if (caller === 'none' || caller === 'unknown') return 401;
  if (caller === 'admin') return 'ok';
  if (ep.adminOnly || caller === 'beta') return 403;
  if (caller === 'alphaRead' && ep.write) return 403;
  return 'ok';
}

test('matrix: every Config API endpoint × no key, unknown key, admin, space, read-only and another space\'s key', async () => {
  await setUpSpaceAlpha(gw);
  let cells = 0;
  for (const caller of Object.keys(callers)) {
    for (const ep of endpoints(caller)) {
      const res = await call(gw, ep.method, ep.path, ep.body, caller);
      assertCell(res, expectedStatus(caller, ep), ep.ok, `${caller}: ${ep.method} ${ep.path}`);
      cells++;
    }
  }
  assert.equal(cells, 6 * 24);

  // What the refused callers asked for did not happen; what the allowed ones did, did.
  const fns = await call(gw, 'GET', `${S}/functions`, undefined, 'admin');
  const ids = new Set(fns.json.functions.map((f) => f.functionId));
  for (const c of ['admin', 'alpha']) {
    assert.ok(ids.has(`post-${c}`) && !ids.has(`del-${c}`), c);
  }
  for (const c of ['none', 'unknown', 'alphaRead', 'beta']) {
    assert.ok(!ids.has(`post-${c}`) && ids.has(`del-${c}`), c);
  }
});

test('a space key works in its own space only; lists show only that space', async () => {
  const created = await call(gw, 'POST', '/v1/spaces/beta/functions', httpFn('b1'), 'beta');
  assert.equal(created.status, 201, created.text);
  const list = await call(gw, 'GET', '/v1/spaces/beta/functions', undefined, 'beta');
  assert.deepEqual(list.json, { functions: [{ space: 'beta', ...httpFn('b1') }] });
  // The space as the router decodes it: %62eta is beta.
  assert.equal((await call(gw, 'GET', '/v1/spaces/%62eta/functions', undefined, 'beta')).status, 200);
  for (const p of ['/v1/spaces/alpha/functions', '/v1/spaces/Beta/functions', '/v1/spaces', '/v1/nope']) {
    assertCell(await call(gw, 'GET', p, undefined, 'beta'), 403, 0, p);
  }
  // An admin gets the router's answers for unknown paths; nobody without a key does.
  assert.equal((await call(gw, 'GET', '/v1/nope', undefined, 'admin')).status, 404);
  assertCell(await call(gw, 'GET', '/v1/nope', undefined, 'none'), 401, 0, '/v1/nope');
  // Only GET /v1/status is open.
  assertCell(await call(gw, 'POST', '/v1/status', {}, 'none'), 401, 0, 'POST /v1/status');
  // Malformed Authorization headers are 401 too.
  for (const auth of ['Basic YTpi', `Token ${keys.admin}`, 'Bearer', `${keys.admin}`, `Bearer ${keys.admin} x`]) {
    const res = await api(gw.configUrl, 'GET', `${S}/functions`, undefined, { authorization: auth });
    assertCell(res, 401, 0, `Authorization: ${auth.slice(0, 12)}…`);
  }
});

test('SDK: EVENT_GATEWAY_ACCESS_KEY is sent as "bearer <key>" and scopes apply to it', async (t) => {
  const saved = process.env.EVENT_GATEWAY_ACCESS_KEY;
  t.after(() => {
    if (saved === undefined) delete process.env.EVENT_GATEWAY_ACCESS_KEY;
    else process.env.EVENT_GATEWAY_ACCESS_KEY = saved;
  });
  const sdk = new SDK({ url: gw.eventsUrl, configurationUrl: gw.configUrl, space: 'alpha' });

  delete process.env.EVENT_GATEWAY_ACCESS_KEY;
  await assert.rejects(sdk.createFunction(httpFn('sdk-none')),
    new Error('Failed to create the function sdk-none due the error: An access key is required: send "Authorization: Bearer <key>".'));

  process.env.EVENT_GATEWAY_ACCESS_KEY = keys.alpha;
  assert.deepEqual(await sdk.createFunction(httpFn('sdk-1')), { space: 'alpha', ...httpFn('sdk-1') });
  assert.ok((await sdk.listFunctions()).some((f) => f.functionId === 'sdk-1'));
  assert.deepEqual(await sdk.createEventType({ name: 'sdk.event' }), { space: 'alpha', name: 'sdk.event' });
  assert.equal(await sdk.deleteEventType({ name: 'sdk.event' }), undefined);

  process.env.EVENT_GATEWAY_ACCESS_KEY = keys.alphaRead;
  assert.ok((await sdk.listFunctions()).some((f) => f.functionId === 'sdk-1'));
  await assert.rejects(sdk.deleteFunction({ functionId: 'sdk-1' }),
    new Error('Failed to delete the function sdk-1 due the error: An access key of scope "space:alpha:read" may only read (GET, HEAD).'));

  process.env.EVENT_GATEWAY_ACCESS_KEY = keys.beta;
  await assert.rejects(sdk.listFunctions(), /may not use space "alpha"/);

  process.env.EVENT_GATEWAY_ACCESS_KEY = unknownKey;
  await assert.rejects(sdk.listFunctions(), /Unknown access key/);
});

test('SDK: the accessKey option is sent for hosted-style URLs only, and wins over the environment', async (t) => {
  const saved = process.env.EVENT_GATEWAY_ACCESS_KEY;
  t.after(() => {
    if (saved === undefined) delete process.env.EVENT_GATEWAY_ACCESS_KEY;
    else process.env.EVENT_GATEWAY_ACCESS_KEY = saved;
  });
  delete process.env.EVENT_GATEWAY_ACCESS_KEY;

  // A local URL: SDK 0.11 drops accessKey, so the request carries no key.
  const local = new SDK({ url: gw.eventsUrl, configurationUrl: gw.configUrl, space: 'alpha', accessKey: keys.alpha });
  await assert.rejects(local.listFunctions(), /An access key is required/);

  // A hosted-style URL: the SDK derives https://config.slsgateway.com and the space
  // "alpha" from it; its fetch option sends those requests to the gateway under test.
  const seen = [];
  const hostedFetch = (url, init) => {
    seen.push({ url, authorization: init.headers?.Authorization });
    const target = new URL(url);
    assert.equal(target.origin, 'https://config.slsgateway.com');
    return fetch(new URL(target.pathname + target.search, gw.configUrl), init);
  };
  const hosted = new SDK({ url: 'https://alpha.slsgateway.com', accessKey: keys.alpha, fetch: hostedFetch });
  assert.deepEqual(await hosted.createFunction(httpFn('sdk-hosted')), { space: 'alpha', ...httpFn('sdk-hosted') });
  assert.equal(seen.at(-1).authorization, `bearer ${keys.alpha}`);
  assert.equal(seen.at(-1).url, 'https://config.slsgateway.com/v1/spaces/alpha/functions');

  // The option wins over the environment variable.
  process.env.EVENT_GATEWAY_ACCESS_KEY = keys.beta;
  assert.ok((await hosted.listFunctions()).some((f) => f.functionId === 'sdk-hosted'));
  assert.equal(seen.at(-1).authorization, `bearer ${keys.alpha}`);

  const hostedRead = new SDK({ url: 'https://alpha.slsgateway.com', accessKey: keys.alphaRead, fetch: hostedFetch });
  await assert.rejects(hostedRead.deleteFunction({ functionId: 'sdk-hosted' }), /may only read/);
});

test('keys never reach the logs, even at debug level', async () => {
  // Every kind of request once more, so that this test stands alone.
  for (const caller of Object.keys(callers)) {
    await call(gw, 'GET', `${S}/functions`, undefined, caller);
    await call(gw, 'POST', `${S}/eventtypes`, { name: `log-${caller}` }, caller);
  }
  await api(gw.configUrl, 'GET', `${S}/functions`, undefined, { authorization: `Bearer ${keys.admin} extra` });
  await api(gw.configUrl, 'GET', `${S}/functions`, undefined, { authorization: `Basic ${keys.alpha}` });
  const logs = gw.logs();
  // Debug logging was on and spoke of keys: by digest prefix and scope only.
  assert.match(logs, /by key sha256:[0-9a-f]{8} \(scope space:alpha\)/);
  assert.match(logs, /refused \(403\) to key sha256:[0-9a-f]{8} \(scope space:alpha:read\)/);
  assert.match(logs, /refused \(401\): unknown access key/);
  for (const key of allKeyTexts) {
    assert.ok(!logs.includes(key), 'a key appears in the logs');
    assert.ok(!logs.includes(sha256(key)), 'a full digest appears in the logs');
  }
});

test('SIGHUP re-reads the file while requests run: added keys work, removed ones get 401, no 5xx', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'keys');
  const stays = newKey();
  const removed = newKey();
  const added = newKey();
  writeKeys(file, line(stays, 'admin') + line(removed, 'space:alpha'));
  const g = await startGateway({ args: ['-access-keys', file] });
  try {
    const auth = (key) => ({ authorization: `Bearer ${key}` });
    assert.equal((await api(g.configUrl, 'GET', `${S}/functions`, undefined, auth(removed))).status, 200);
    assert.equal((await api(g.configUrl, 'GET', `${S}/functions`, undefined, auth(added))).status, 401);

    // Requests with all three keys keep running through the reload.
    const statuses = { stays: [], removed: [], added: [] };
    let running = true;
    const loop = async (name, key) => {
      while (running) {
        const res = await api(g.configUrl, 'GET', `${S}/functions`, undefined, auth(key));
        statuses[name].push(res.status);
      }
    };
    const loops = [loop('stays', stays), loop('stays', stays), loop('removed', removed), loop('added', added)];
    await waitFor(() => statuses.stays.length > 20, { message: 'requests before the reload' });

    writeKeys(file, '# rotated\n' + line(stays, 'admin') + line(added, 'space:alpha:read'));
    g.proc.kill('SIGHUP');
    await waitFor(async () => (await api(g.configUrl, 'GET', `${S}/functions`, undefined, auth(added))).status === 200,
      { timeout: 5000, message: 'the added key to work after SIGHUP' });
    const after = statuses.stays.length;
    await waitFor(() => statuses.stays.length > after + 20, { message: 'requests after the reload' });
    running = false;
    await Promise.all(loops);

    assert.deepEqual([...new Set(statuses.stays)], [200], 'a key in both files always works');
    for (const name of ['removed', 'added']) {
      assert.ok(statuses[name].every((s) => s === 200 || s === 401), `${name}: ${[...new Set(statuses[name])]}`);
    }
    // Each key changed once, in order: never back.
    const removedAt = statuses.removed.indexOf(401);
    assert.ok(removedAt > 0 && statuses.removed.slice(removedAt).every((s) => s === 401));
    const addedAt = statuses.added.indexOf(200);
    assert.ok(addedAt === -1 || statuses.added.slice(addedAt).every((s) => s === 200));

    assertCell(await api(g.configUrl, 'GET', `${S}/functions`, undefined, auth(removed)), 401, 0, 'removed key');
    // The new key has the new file's scope.
    assertCell(await api(g.configUrl, 'POST', `${S}/eventtypes`, { name: 'x' }, auth(added)), 403, 0, 'read-only key');
    assert.match(g.logs(), /Access keys reloaded: 2 key\(s\)/);

    // A file that does not parse keeps the keys in force.
    writeKeys(file, line(stays, 'admin') + 'not-a-digest space:alpha\n');
    g.proc.kill('SIGHUP');
    await waitFor(() => /Access keys not reloaded; the keys in force stay: .*line 2: /.test(g.logs()),
      { message: 'the refused reload in the logs' });
    assert.equal((await api(g.configUrl, 'GET', `${S}/functions`, undefined, auth(added))).status, 200);
    assert.equal((await api(g.configUrl, 'GET', `${S}/functions`, undefined, auth(removed))).status, 401);
    assert.equal(g.proc.exitCode, null, 'the gateway keeps running');
  } finally {
    assert.equal(await g.stop(), 0);
  }
});

test('SIGHUP without -access-keys does not stop the gateway, whose Config API stays open', async () => {
  const g = await startGateway();
  try {
    g.proc.kill('SIGHUP');
    await waitFor(() => /Nothing to reload/.test(g.logs()), { message: 'the SIGHUP in the logs' });
    assert.equal((await api(g.configUrl, 'GET', `${S}/functions`)).status, 200);
    assert.equal((await api(g.configUrl, 'GET', '/v1/metrics')).status, 200);
  } finally {
    assert.equal(await g.stop(), 0);
  }
});

test('-metrics-open: metrics need no key, everything else still does', async () => {
  const file = path.join(tempDir(), 'keys');
  writeKeys(file, line(keys.admin, 'admin'));
  const g = await startGateway({ args: ['-access-keys', file, '-metrics-open'] });
  try {
    for (const p of ['/v1/metrics', '/metrics']) {
      const res = await api(g.configUrl, 'GET', p);
      assert.equal(res.status, 200, p);
      assert.match(res.text, /eventgateway_config_requests_total|eventgateway_events_backlog/);
    }
    assertCell(await api(g.configUrl, 'GET', `${S}/functions`), 401, 0, 'functions without a key');
    assert.equal((await api(g.configUrl, 'GET', `${S}/functions`, undefined, { authorization: `Bearer ${keys.admin}` })).status, 200);
  } finally {
    await g.stop();
  }
});

test('-new-access-key prints a key and a line that works as a keys file', async () => {
  const binary = process.env.EG_BINARY;
  const made = spawnSync(binary, ['-new-access-key', 'space:alpha'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(made.status, 0, made.stderr);
  const m = /^key: ([A-Za-z0-9_-]{43})\n([0-9a-f]{64}) space:alpha\n$/.exec(made.stdout);
  assert.ok(m, made.stdout);
  assert.equal(m[2], sha256(m[1]));
  const again = spawnSync(binary, ['--new-access-key=admin'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(again.status, 0);
  assert.ok(!again.stdout.includes(m[1]), 'every key is new');

  const bad = spawnSync(binary, ['-new-access-key', 'space:a/b'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /invalid value "space:a\/b" for flag -new-access-key: invalid space name/);

  const file = path.join(tempDir(), 'keys');
  writeKeys(file, made.stdout.split('\n')[1] + '\n');
  const g = await startGateway({ args: ['-access-keys', file] });
  try {
    const auth = { authorization: `Bearer ${m[1]}` };
    assert.equal((await api(g.configUrl, 'POST', `${S}/eventtypes`, { name: 'n' }, auth)).status, 201);
    assertCell(await api(g.configUrl, 'GET', '/v1/spaces/beta/eventtypes', undefined, auth), 403, 0, 'other space');
  } finally {
    await g.stop();
  }
});

test('a bad keys file stops start-up with the line at fault, and never echoes a key', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'keys');
  const pasted = newKey();
  writeKeys(file, line(keys.admin, 'admin') + `${pasted} admin\n`);
  await assert.rejects(startGateway({ args: ['-access-keys', file] }), (err) => {
    assert.match(err.message, /gateway exited \(1\)/);
    assert.match(err.message, /access keys file ".*": line 2: the first field must be the SHA-256 of the key, 64 hex characters \(found 43 characters\)/);
    assert.ok(!err.message.includes(pasted), 'the pasted key is echoed');
    return true;
  });
  writeKeys(file, line(keys.admin, 'space:alpha:write'));
  await assert.rejects(startGateway({ args: ['-access-keys', file] }), /line 1: unknown scope "space:alpha:write"/);
  await assert.rejects(startGateway({ args: ['-access-keys', path.join(dir, 'missing')] }),
    /cannot read access keys file ".*missing": No such file or directory/);
});
