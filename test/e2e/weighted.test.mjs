// Weighted functions (spec §3.10) with the real binary and real function servers: the
// split of traffic by weight, sticky keys, a PUT that shifts traffic, the in-use checks,
// and every kind of call (sync, async, Gen 1 invoke, authorizer) with system events
// that name the target called.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startGateway, api } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe, settle, create,
  send, emitStructured, cloudEvent, received, waitFor, errorMessage,
} from './lib/events_helpers.mjs';

let gw;
let agent;
before(async () => {
  gw = await startGateway();
  agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
});
after(async () => {
  agent?.destroy();
  await closeServers();
  await gw?.stop();
});

// A function whose sync result's body is its name.
function named(name) {
  return functionServer(() => ({ body: { statusCode: 200, body: name } }));
}

function createWeighted(space, functionId, weights, stickyBy) {
  const provider = { functions: Object.entries(weights).map(([id, weight]) => ({ functionId: id, weight })) };
  if (stickyBy) provider.stickyBy = stickyBy;
  return create(gw, space, 'functions', { functionId, type: 'weighted', provider });
}

function putWeighted(space, functionId, weights) {
  const provider = { functions: Object.entries(weights).map(([id, weight]) => ({ functionId: id, weight })) };
  return api(gw.configUrl, 'PUT', `/v1/spaces/${space}/functions/${functionId}`, { type: 'weighted', provider });
}

// Two named http functions, `v1` and `v2`, a weighted function `w` over them, and a sync
// subscription GET /<space> to `w`.
async function setUp(space, weights, stickyBy) {
  await createFunction(gw, space, 'v1', (await named('v1')).url);
  await createFunction(gw, space, 'v2', (await named('v2')).url);
  await createWeighted(space, 'w', weights, stickyBy);
  await createEventType(gw, space, 'http.request');
  await subscribe(gw, space, { type: 'sync', eventType: 'http.request', functionId: 'w', method: 'GET', path: `/${space}` });
  await settle(gw);
}

function call(space, headers = {}) {
  return send(gw.eventsUrl, { method: 'GET', path: `/${space}`, headers, agent });
}

// `n` calls, `concurrency` at a time over keep-alive connections; the bodies answered.
async function calls(space, n, { concurrency = 16, headers = {} } = {}) {
  const bodies = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next += 1;
      const res = await call(space, headers);
      assert.equal(res.status, 200, res.text);
      bodies.push(res.text);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return bodies;
}

function share(bodies, name) {
  return bodies.filter((b) => b === name).length / bodies.length;
}

test('10,000 sync calls split 70/30 by the weights', async () => {
  await setUp('ratio', { v1: 70, v2: 30 });
  const bodies = await calls('ratio', 10000);
  assert.equal(bodies.length, 10000);
  assert.equal(bodies.filter((b) => b !== 'v1' && b !== 'v2').length, 0);
  // One standard deviation of the share is 0.46 points: 2 points is far outside chance.
  const v1 = share(bodies, 'v1');
  assert.ok(Math.abs(v1 - 0.7) <= 0.02, `v1 got ${(v1 * 100).toFixed(2)}% of the calls, expected 70 ± 2`);
  assert.ok(Math.abs(share(bodies, 'v2') - 0.3) <= 0.02);
});

test('stickyBy header: each key always reaches the same target', async () => {
  await setUp('sticky', { v1: 50, v2: 50 }, 'header:X-User');
  const targets = new Map();
  for (let user = 0; user < 20; user++) {
    const key = `user-${user}`;
    const bodies = await calls('sticky', 25, { concurrency: 5, headers: { 'X-User': key } });
    assert.equal(new Set(bodies).size, 1, `${key} reached ${[...new Set(bodies)]}`);
    targets.set(key, bodies[0]);
  }
  // The keys spread over both targets, and the header's case does not matter.
  assert.deepEqual(new Set(targets.values()), new Set(['v1', 'v2']));
  for (const [key, target] of targets) {
    assert.equal((await call('sticky', { 'x-user': key })).text, target);
  }
  // Calls without the key are spread at random.
  const keyless = await calls('sticky', 200);
  assert.ok(share(keyless, 'v1') > 0.3 && share(keyless, 'v2') > 0.3, `keyless: ${share(keyless, 'v1')} at v1`);
});

test('a PUT of the weights moves all traffic at once', async () => {
  await setUp('shift', { v1: 100, v2: 0 });
  assert.deepEqual(new Set(await calls('shift', 100)), new Set(['v1']));
  const res = await putWeighted('shift', 'w', { v1: 0, v2: 100 });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.provider.functions, [{ functionId: 'v1', weight: 0 }, { functionId: 'v2', weight: 100 }]);
  // The change reaches routing through the store's watch: once one call reaches v2,
  // every following one does.
  await waitFor(async () => (await call('shift')).text === 'v2', { message: 'the first call to reach v2' });
  assert.deepEqual(new Set(await calls('shift', 500)), new Set(['v2']));
});

test('a target in use cannot be deleted; once its weighted function is gone it can', async () => {
  await setUp('inuse', { v1: 1, v2: 0 });
  for (const target of ['v1', 'v2']) {
    const res = await api(gw.configUrl, 'DELETE', `/v1/spaces/inuse/functions/${target}`);
    assert.equal(res.status, 400, res.text);
    assert.equal(errorMessage(res), `Function "${target}" cannot be deleted because weighted function "w" calls it.`);
  }
  // A target cannot itself be made weighted, nor can a weighted function call a weighted one.
  const nested = await putWeighted('inuse', 'v1', { v2: 1 });
  assert.equal(nested.status, 400, nested.text);
  assert.equal(errorMessage(nested), 'Function "v1" cannot be made weighted because weighted function "w" calls it.');
  const onWeighted = await api(gw.configUrl, 'POST', '/v1/spaces/inuse/functions',
    { functionId: 'w2', type: 'weighted', provider: { functions: [{ functionId: 'w', weight: 1 }] } });
  assert.equal(onWeighted.status, 400, onWeighted.text);
  assert.match(errorMessage(onWeighted), /Target function "w" is weighted/);
  const missing = await api(gw.configUrl, 'POST', '/v1/spaces/inuse/functions',
    { functionId: 'w3', type: 'weighted', provider: { functions: [{ functionId: 'nope', weight: 1 }] } });
  assert.equal(missing.status, 400, missing.text);
  assert.equal(errorMessage(missing), 'Target function "nope" not found.');
  const noWeight = await api(gw.configUrl, 'POST', '/v1/spaces/inuse/functions',
    { functionId: 'w4', type: 'weighted', provider: { functions: [{ functionId: 'v1', weight: 0 }] } });
  assert.equal(noWeight.status, 400, noWeight.text);
  assert.match(errorMessage(noWeight), /Field "provider\.functions" must give at least one function a weight above 0/);

  const sub = (await api(gw.configUrl, 'GET', '/v1/spaces/inuse/subscriptions')).json.subscriptions[0];
  assert.equal((await api(gw.configUrl, 'DELETE', `/v1/spaces/inuse/subscriptions/${sub.subscriptionId}`)).status, 204);
  assert.equal((await api(gw.configUrl, 'DELETE', '/v1/spaces/inuse/functions/w')).status, 204);
  assert.equal((await api(gw.configUrl, 'DELETE', '/v1/spaces/inuse/functions/v1')).status, 204);
  assert.equal((await api(gw.configUrl, 'DELETE', '/v1/spaces/inuse/functions/v2')).status, 204);
});

test('the function is read back as written, stickyBy only when set', async () => {
  await setUp('shape', { v1: 3, v2: 1 }, 'header:X-User');
  const res = await api(gw.configUrl, 'GET', '/v1/spaces/shape/functions/w');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, {
    space: 'shape', functionId: 'w', type: 'weighted',
    provider: { functions: [{ functionId: 'v1', weight: 3 }, { functionId: 'v2', weight: 1 }], stickyBy: 'header:X-User' },
  });
  const plain = await createWeighted('shape', 'plain', { v1: 1 });
  assert.deepEqual(plain.provider, { functions: [{ functionId: 'v1', weight: 1 }] });
});

test('async deliveries to a weighted function reach its targets, sticky ones by the kept request', async () => {
  const a = await functionServer();
  const b = await functionServer();
  await createFunction(gw, 'async', 'a', a.url);
  await createFunction(gw, 'async', 'b', b.url);
  await createWeighted('async', 'w', { a: 1, b: 1 });
  await createWeighted('async', 'sticky', { a: 1, b: 1 }, 'header:X-User');
  await createEventType(gw, 'async', 'order.placed');
  await createEventType(gw, 'async', 'user.moved');
  await subscribe(gw, 'async', { type: 'async', eventType: 'order.placed', functionId: 'w', path: '/orders' });
  await subscribe(gw, 'async', { type: 'async', eventType: 'user.moved', functionId: 'sticky', path: '/moves' });
  await settle(gw);

  const sent = [];
  for (let i = 0; i < 40; i++) {
    const event = cloudEvent('order.placed', { n: i });
    const res = await emitStructured(gw.eventsUrl, event, { path: '/orders' });
    assert.equal(res.status, 202, res.text);
    sent.push(event.eventID);
  }
  await waitFor(() => a.requests.length + b.requests.length >= 40, { message: '40 deliveries' });
  const ids = [...received(a), ...received(b)].map((e) => e.eventID).sort();
  assert.deepEqual(ids, [...sent].sort());
  assert.ok(a.requests.length > 0 && b.requests.length > 0, `a got ${a.requests.length}, b ${b.requests.length}`);

  // header:X-User on async deliveries: the queue keeps the request, so each user's
  // events reach one target.
  const users = new Map();
  for (let user = 0; user < 8; user++) {
    const before = { a: a.requests.length, b: b.requests.length };
    for (let i = 0; i < 5; i++) {
      const res = await emitStructured(gw.eventsUrl, cloudEvent('user.moved', { user }), { path: '/moves', headers: { 'X-User': `u${user}` } });
      assert.equal(res.status, 202, res.text);
    }
    await waitFor(() => a.requests.length + b.requests.length >= before.a + before.b + 5, { message: `user ${user}'s 5 deliveries` });
    const toA = a.requests.length - before.a;
    assert.ok(toA === 0 || toA === 5, `user u${user}: ${toA} of 5 at a`);
    users.set(user, toA === 5 ? 'a' : 'b');
  }
  assert.deepEqual(new Set(users.values()), new Set(['a', 'b']));
});

test('Gen 1 invoke and an authorizer work through weighted functions', async () => {
  await createFunction(gw, 'gen1', 'v1', (await functionServer(() => ({ body: { from: 'v1' } }))).url);
  await createFunction(gw, 'gen1', 'v2', (await functionServer(() => ({ body: { from: 'v2' } }))).url);
  await createWeighted('gen1', 'w', { v1: 0, v2: 1 });
  await subscribe(gw, 'gen1', { event: 'invoke', functionId: 'w', path: '/' });
  await settle(gw);
  const invoke = await send(gw.eventsUrl, {
    path: '/', body: '{}', headers: { 'Content-Type': 'application/json', Event: 'invoke', 'Function-ID': 'w', Space: 'gen1' },
  });
  assert.equal(invoke.status, 200, invoke.text);
  assert.deepEqual(invoke.json, { from: 'v2' });

  const allow = await functionServer(() => ({ body: { authorization: { principalId: 'p-1' } } }));
  const deny = await functionServer(() => ({ body: { error: { message: 'denied by v2' } } }));
  const fn = await functionServer((req) => ({ body: { statusCode: 200, body: JSON.stringify(JSON.parse(req.body).extensions.eventgateway.authorization) } }));
  await createFunction(gw, 'authz', 'allow', allow.url);
  await createFunction(gw, 'authz', 'deny', deny.url);
  await createFunction(gw, 'authz', 'fn', fn.url);
  await createWeighted('authz', 'auth', { allow: 0, deny: 1 });
  await createEventType(gw, 'authz', 'http.request', { authorizerId: 'auth' });
  await subscribe(gw, 'authz', { type: 'sync', eventType: 'http.request', functionId: 'fn', method: 'GET', path: '/authz' });
  await settle(gw);
  const refused = await call('authz');
  assert.equal(refused.status, 403, refused.text);
  assert.equal(errorMessage(refused), 'denied by v2');
  assert.equal(fn.requests.length, 0);
  assert.equal((await putWeighted('authz', 'auth', { allow: 1, deny: 0 })).status, 200);
  await waitFor(async () => (await call('authz')).status === 200, { message: 'the authorizer to allow' });
  const allowed = await call('authz');
  assert.equal(allowed.status, 200, allowed.text);
  assert.deepEqual(JSON.parse(allowed.text), { principalId: 'p-1' });
});

test('function.invoked and function.invoking name the target called', async () => {
  await setUp('sys', { v1: 0, v2: 1 });
  const watcher = await functionServer();
  await createFunction(gw, 'sys', 'watcher', watcher.url);
  for (const type of ['eventgateway.function.invoked', 'eventgateway.function.invoking']) {
    await createEventType(gw, 'sys', type);
    await subscribe(gw, 'sys', { type: 'async', eventType: type, functionId: 'watcher' });
  }
  await settle(gw);
  assert.equal((await call('sys')).text, 'v2');
  await waitFor(() => watcher.requests.length >= 2, { message: 'function.invoking and function.invoked' });
  const events = received(watcher);
  assert.deepEqual(events.map((e) => e.eventType).sort(), ['eventgateway.function.invoked', 'eventgateway.function.invoking']);
  for (const e of events) assert.equal(e.data.functionId, 'v2', JSON.stringify(e.data));
  const invoked = events.find((e) => e.eventType === 'eventgateway.function.invoked');
  assert.equal(invoked.data.result, JSON.stringify({ statusCode: 200, body: 'v2' }));
});
