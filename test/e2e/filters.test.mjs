// Filters on async subscriptions (spec §3.9): a subscriber whose filters do not match
// an event is never called and takes no room in the delivery queue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, api } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe, settle, send,
  emitStructured, cloudEvent, errorMessage, quietPeriod, received, metrics, metricValue,
} from './lib/events_helpers.mjs';

let gw;
before(async () => { gw = await startGateway(); });
after(async () => {
  await closeServers();
  await gw?.stop();
});

const structured10 = (event) => ({
  headers: { 'content-type': 'application/cloudevents+json' },
  body: JSON.stringify({ specversion: '1.0', source: '/shop', ...event }),
});

test('each subscriber gets only the events its filters match, in every dialect', async () => {
  await createEventType(gw, 'flt', 'order.created');
  const subscribers = {
    eu: [{ prefix: { 'data.region': 'eu-' } }],
    big: [{ any: [{ exact: { 'data.total': '100' } }, { exact: { 'data.vip': 'true' } }] }],
    notTest: [{ not: { suffix: { source: '/test' } } }],
    tagged: [{ all: [{ exact: { type: 'order.created' } }, { exact: { channel: 'web' } }] }],
    none: [],
  };
  const servers = {};
  for (const [id, filters] of Object.entries(subscribers)) {
    servers[id] = await functionServer();
    await createFunction(gw, 'flt', id, servers[id].url);
    await subscribe(gw, 'flt', { type: 'async', eventType: 'order.created', functionId: id, path: '/flt', filters });
  }
  await settle(gw);

  const events = [
    { id: 'o1', data: { region: 'eu-west-1', total: 100 } },
    { id: 'o2', data: { region: 'us-east-1', vip: true }, source: '/shop/test' },
    { id: 'o3', data: { region: 'eu-north-1', total: 5 }, channel: 'web', source: '/shop/test' },
    { id: 'o4', data: { region: 'ap-south-1', total: 7.5 }, channel: 'app' },
  ];
  for (const e of events) {
    const res = await send(gw.eventsUrl, { path: '/flt', ...structured10({ type: 'order.created', ...e }) });
    assert.equal(res.status, 202, res.text);
  }
  const expected = { eu: ['o1', 'o3'], big: ['o1', 'o2'], notTest: ['o1', 'o4'], tagged: ['o3'], none: ['o1', 'o2', 'o3', 'o4'] };
  for (const [id, ids] of Object.entries(expected)) await servers[id].waitForRequests(ids.length);
  await quietPeriod();
  for (const [id, ids] of Object.entries(expected)) {
    assert.deepEqual(received(servers[id]).map((e) => e.id).sort(), ids, id);
  }
  const text = await metrics(gw);
  // 20 possible deliveries, 11 made.
  assert.equal(metricValue(text, 'eventgateway_events_filtered_total', { space: 'flt', type: 'order.created' }), 9);
});

test('a subscriber whose filters do not match takes no queue room', async () => {
  // Room for 2 deliveries in all (-workers 1 + -workers-backlog 1); 6 subscribers.
  const small = await startGateway({ args: ['-queue', 'memory', '-workers', '1', '-workers-backlog', '1'] });
  try {
    await createEventType(small, 'room', 'user.created');
    const hit = await functionServer();
    await createFunction(small, 'room', 'hit', hit.url);
    await subscribe(small, 'room', {
      type: 'async', eventType: 'user.created', functionId: 'hit', path: '/room',
      filters: [{ exact: { 'data.plan': 'pro' } }],
    });
    const misses = [];
    for (let i = 0; i < 5; i += 1) {
      const miss = await functionServer();
      misses.push(miss);
      await createFunction(small, 'room', `miss${i}`, miss.url);
      await subscribe(small, 'room', {
        type: 'async', eventType: 'user.created', functionId: `miss${i}`, path: '/room',
        filters: [{ exact: { 'data.plan': `other-${i}` } }],
      });
    }
    await settle(small);
    // Without filters each event would need 6 deliveries and be refused (503).
    for (let n = 0; n < 3; n += 1) {
      const res = await emitStructured(small.eventsUrl, cloudEvent('user.created', { plan: 'pro', n }), { path: '/room' });
      assert.equal(res.status, 202, res.text);
      await hit.waitForRequests(n + 1);
    }
    await quietPeriod();
    for (const miss of misses) assert.equal(miss.requests.length, 0, 'a non-matching subscriber is never called');
    assert.deepEqual(received(hit).map((e) => e.data.n), [0, 1, 2]);
    const text = await metrics(small);
    assert.equal(metricValue(text, 'eventgateway_events_filtered_total', { space: 'room' }), 15);
    assert.equal(metricValue(text, 'eventgateway_events_dropped_total', { space: 'room' }), 0);
  } finally {
    await small.stop();
  }
});

test('filters on Gen 1 custom events, binary 1.0 extensions and raw HTTP requests', async () => {
  const fn = await functionServer();
  await createFunction(gw, 'flt1', 'f', fn.url);
  await subscribe(gw, 'flt1', { event: 'user.signup', functionId: 'f', path: '/flt1', filters: [{ exact: { 'data.country': 'NO' } }] });
  await createEventType(gw, 'flt1', 'com.example.tick');
  await subscribe(gw, 'flt1', { type: 'async', eventType: 'com.example.tick', functionId: 'f', path: '/flt1', filters: [{ prefix: { partition: 'a' } }] });
  await createEventType(gw, 'flt1', 'http.request');
  await subscribe(gw, 'flt1', { type: 'async', eventType: 'http.request', functionId: 'f', method: 'POST', path: '/flt1/hook', filters: [{ exact: { 'data.headers.X-Kind': 'push' } }, { not: { exact: { 'data.query.skip.0': 'yes' } } }] });
  await settle(gw);

  const gen1 = (country) => send(gw.eventsUrl, { path: '/flt1', headers: { event: 'user.signup', 'content-type': 'application/json' }, body: { country } });
  assert.equal((await gen1('SE')).status, 202);
  assert.equal((await gen1('NO')).status, 202);
  const binary = (partition) => send(gw.eventsUrl, {
    path: '/flt1',
    headers: { 'ce-specversion': '1.0', 'ce-id': `t-${partition}`, 'ce-source': '/clock', 'ce-type': 'com.example.tick', 'ce-partition': partition, 'content-type': 'application/json' },
    body: { partition },
  });
  assert.equal((await binary('b1')).status, 202);
  assert.equal((await binary('a1')).status, 202);
  const hook = (kind) => send(gw.eventsUrl, { path: '/flt1/hook', headers: { 'x-kind': kind, 'content-type': 'text/plain' }, body: kind });
  // Subscribed but filtered out: still accepted, not "not found".
  assert.equal((await hook('pull')).status, 202);
  assert.equal((await hook('push')).status, 202);
  assert.equal((await send(gw.eventsUrl, { path: '/flt1/hook?skip=yes', headers: { 'x-kind': 'push' }, body: 'x' })).status, 202);

  await fn.waitForRequests(3);
  await quietPeriod();
  const got = received(fn);
  assert.equal(got.length, 3, JSON.stringify(got));
  assert.deepEqual(got.find((e) => e.eventType === 'user.signup')?.data, { country: 'NO' });
  assert.equal(got.find((e) => e.type === 'com.example.tick')?.partition, 'a1');
  // A non-JSON body travels base64-encoded, as in the original gateway.
  const hookBody = got.find((e) => e.eventType === 'http.request')?.data.body;
  assert.equal(Buffer.from(hookBody, 'base64').toString(), 'push');
});

test('validation, output, and a PUT that changes filters at once', async () => {
  await createEventType(gw, 'flt2', 'e.changed');
  const fn = await functionServer();
  await createFunction(gw, 'flt2', 'f', fn.url);
  const bad = await api(gw.configUrl, 'POST', '/v1/spaces/flt2/subscriptions',
    { type: 'async', eventType: 'e.changed', functionId: 'f', filters: [{ exact: { id: 'x' } }, { any: [{ regex: { id: '.*' } }] }] });
  assert.equal(bad.status, 400);
  assert.match(errorMessage(bad), /filters\[1\]\.any\[0\]: "regex" is not a filter dialect/);
  const sync = await api(gw.configUrl, 'POST', '/v1/spaces/flt2/subscriptions',
    { type: 'sync', eventType: 'e.changed', functionId: 'f', path: '/s', filters: [] });
  assert.equal(sync.status, 400);
  assert.match(errorMessage(sync), /"filters" is only allowed with type "async"/);

  const plain = await subscribe(gw, 'flt2', { type: 'async', eventType: 'e.changed', functionId: 'f', path: '/flt2' });
  assert.equal('filters' in plain, false, 'no filters, no key');
  const id = plain.subscriptionId;
  const put = await api(gw.configUrl, 'PUT', `/v1/spaces/flt2/subscriptions/${id}`,
    { type: 'async', eventType: 'e.changed', functionId: 'f', path: '/flt2', filters: [{ exact: { 'data.v': '2' } }] });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.json.filters, [{ exact: { 'data.v': '2' } }]);
  const read = await api(gw.configUrl, 'GET', `/v1/spaces/flt2/subscriptions/${id}`);
  assert.deepEqual(read.json.filters, [{ exact: { 'data.v': '2' } }]);
  await settle(gw);
  for (const v of [1, 2, 3]) {
    assert.equal((await emitStructured(gw.eventsUrl, cloudEvent('e.changed', { v }), { path: '/flt2' })).status, 202);
  }
  await fn.waitForRequests(1);
  await quietPeriod();
  assert.deepEqual(received(fn).map((e) => e.data.v), [2]);

  // A PUT without filters removes them: every event is delivered again.
  const cleared = await api(gw.configUrl, 'PUT', `/v1/spaces/flt2/subscriptions/${id}`, { metadata: { k: 'v' } });
  assert.equal(cleared.status, 200, cleared.text);
  assert.equal('filters' in cleared.json, false);
  await settle(gw);
  assert.equal((await emitStructured(gw.eventsUrl, cloudEvent('e.changed', { v: 9 }), { path: '/flt2' })).status, 202);
  await fn.waitForRequests(2);
  assert.deepEqual(received(fn).map((e) => e.data.v), [2, 9]);
});

test('filters on system event subscriptions', async () => {
  const fn = await functionServer();
  const target = await functionServer();
  await createFunction(gw, 'flt3', 'watch', fn.url);
  await createFunction(gw, 'flt3', 'target', target.url);
  await createEventType(gw, 'flt3', 'eventgateway.function.invoked');
  await subscribe(gw, 'flt3', {
    type: 'async', eventType: 'eventgateway.function.invoked', functionId: 'watch',
    filters: [{ exact: { 'data.functionId': 'nobody' } }],
  });
  await createEventType(gw, 'flt3', 'x.happened');
  await subscribe(gw, 'flt3', { type: 'async', eventType: 'x.happened', functionId: 'target', path: '/flt3' });
  await settle(gw);
  assert.equal((await emitStructured(gw.eventsUrl, cloudEvent('x.happened'), { path: '/flt3' })).status, 202);
  await target.waitForRequests(1);
  await quietPeriod();
  assert.equal(fn.requests.length, 0, 'the system event did not match the filter');
  const text = await metrics(gw);
  assert.ok(metricValue(text, 'eventgateway_events_filtered_total', { space: 'flt3', type: 'eventgateway.function.invoked' }) >= 1);
});
