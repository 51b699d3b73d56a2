// CloudEvents 1.0 (spec §3.8) against the official CloudEvents JavaScript SDK: its
// emitter sends binary, structured and batch events to the gateway, and functions built
// on its HTTP receiver parse what the gateway delivers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, HTTP, Mode, emitterFor } from 'cloudevents';
import { startGateway } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe, settle, send,
  errorMessage, quietPeriod, received, emitStructured, cloudEvent,
} from './lib/events_helpers.mjs';

let gw;
before(async () => { gw = await startGateway(); });
after(async () => {
  await closeServers();
  await gw?.stop();
});

// The SDK's emitter over a transport that also tells the answer's status.
function emitter(mode, path) {
  return emitterFor((message) => send(gw.eventsUrl, { path, headers: message.headers, body: message.body }),
    { mode });
}

// A function that reads every call with the SDK's receiver; `events` holds what it read.
async function sdkFunction(answer) {
  const events = [];
  const errors = [];
  const server = await functionServer((request) => {
    try {
      events.push(HTTP.toEvent({ headers: request.headers, body: request.body }));
    } catch (err) {
      errors.push(String(err?.message ?? err));
    }
    return answer?.(request);
  });
  return { server, events, errors };
}

async function subscriber(space, id, type, path, extra = {}) {
  const fn = await sdkFunction();
  await createFunction(gw, space, id, fn.server.url);
  await subscribe(gw, space, { type: 'async', eventType: type, functionId: id, path, ...extra });
  return fn;
}

// What the SDK's binary mode sends as Content-Type when an event has no datacontenttype:
// the binding makes it the event's datacontenttype.
const kBinaryDefaultType = 'application/json; charset=utf-8';

// Every attribute the SDK gives the sent event, compared with what the function read.
// `contentType`: the datacontenttype expected when the sent event has none (binary mode
// makes the Content-Type it sends the event's datacontenttype).
function assertSameEvent(got, sent, contentType = undefined) {
  for (const key of ['specversion', 'id', 'source', 'type', 'subject', 'dataschema']) {
    assert.equal(got[key], sent[key], key);
  }
  assert.equal(got.datacontenttype, sent.datacontenttype ?? contentType, 'datacontenttype');
  assert.equal(Date.parse(got.time), Date.parse(sent.time), 'time');
  for (const [key, value] of Object.entries(sent)) {
    if (['data', 'data_base64', 'time', 'datacontenttype'].includes(key)) continue;
    assert.equal(String(got[key]), String(value), `attribute ${key}`);
  }
  if (sent.data instanceof Uint8Array || Buffer.isBuffer(sent.data)) {
    assert.deepEqual(Buffer.from(got.data), Buffer.from(sent.data), 'data (bytes)');
  } else {
    assert.deepEqual(got.data, sent.data, 'data');
  }
}

test('binary and structured 1.0 events from the SDK reach an async subscriber as sent', async () => {
  await createEventType(gw, 'ce', 'com.example.order.created');
  const fn = await subscriber('ce', 'orders', 'com.example.order.created', '/ce/orders');
  await settle(gw);

  const events = [
    new CloudEvent({
      type: 'com.example.order.created', source: '/shop/eu', subject: 'order-1',
      data: { order: 1, items: ['a', 'b'] }, myext: 'one', priority: 5,
    }),
    new CloudEvent({
      type: 'com.example.order.created', source: 'https://example.com/shop', datacontenttype: 'text/plain',
      dataschema: 'https://example.com/schema', data: 'plain text, ünïcode',
    }),
    new CloudEvent({
      type: 'com.example.order.created', source: '/shop', datacontenttype: 'application/octet-stream',
      data: Buffer.from([0, 1, 2, 253, 254, 255]),
    }),
  ];
  let n = 0;
  for (const mode of [Mode.BINARY, Mode.STRUCTURED]) {
    for (const event of events) {
      const res = await emitter(mode, '/ce/orders')(event);
      assert.equal(res.status, 202, `${mode} ${event.datacontenttype}: ${res.text}`);
      n += 1;
      await fn.server.waitForRequests(n);
      assert.deepEqual(fn.errors, [], 'the SDK reads what the gateway delivers');
      assertSameEvent(fn.events.at(-1), event, mode === Mode.BINARY ? kBinaryDefaultType : undefined);
      // Delivered structured, in the version it arrived in.
      const request = fn.server.requests.at(-1);
      assert.match(request.headers['content-type'], /^application\/cloudevents\+json/);
      assert.equal(JSON.parse(request.body).specversion, '1.0');
    }
  }
});

test('a batch from SDK events: every member routed by its type, all or nothing', async () => {
  await createEventType(gw, 'batch', 'com.example.a');
  await createEventType(gw, 'batch', 'com.example.b');
  const a = await subscriber('batch', 'fa', 'com.example.a', '/ce/batch');
  const b = await subscriber('batch', 'fb', 'com.example.b', '/ce/batch');
  await settle(gw);

  const members = [
    new CloudEvent({ type: 'com.example.a', source: '/batch', data: { n: 1 } }),
    new CloudEvent({ type: 'com.example.b', source: '/batch', data: { n: 2 } }),
    new CloudEvent({ type: 'com.example.a', source: '/batch', data: { n: 3 } }),
    new CloudEvent({ type: 'com.example.unsubscribed', source: '/batch', data: { n: 4 } }),
  ];
  const batch = (list) => send(gw.eventsUrl, {
    path: '/ce/batch',
    headers: { 'content-type': 'application/cloudevents-batch+json' },
    body: JSON.stringify(list),
  });
  const res = await batch(members);
  assert.equal(res.status, 202, res.text);
  await a.server.waitForRequests(2);
  await b.server.waitForRequests(1);
  assert.deepEqual(a.events.map((e) => e.data.n).sort(), [1, 3]);
  assert.deepEqual(b.events.map((e) => e.data.n), [2]);
  for (const got of [...a.events, ...b.events]) {
    assertSameEvent(got, members.find((m) => m.id === got.id));
  }

  // One bad member: 400 naming its index, and none of the others is delivered.
  const bad = JSON.parse(JSON.stringify(members.slice(0, 2)));
  bad.push({ specversion: '1.0', source: '/batch', type: 'com.example.a' });
  const refused = await batch(bad);
  assert.equal(refused.status, 400);
  assert.equal(errorMessage(refused), 'CloudEvent batch member 2 doesn\'t validate: attribute "id" is required.');
  const systemMember = await batch([{ specversion: '1.0', id: 'x', source: '/s', type: 'eventgateway.event.received' }]);
  assert.equal(systemMember.status, 400);
  assert.match(errorMessage(systemMember), /^CloudEvent batch member 0: system events/);
  await quietPeriod();
  assert.equal(a.server.requests.length, 2, 'nothing of a refused batch is delivered');
  assert.equal(b.server.requests.length, 1, 'nothing of a refused batch is delivered');

  const empty = await batch([]);
  assert.equal(empty.status, 202, empty.text);
});

test('1.0 validation errors are 400s naming the attribute', async () => {
  const structured = (event) => send(gw.eventsUrl, {
    path: '/ce/invalid', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(event),
  });
  const base = { specversion: '1.0', id: '1', source: '/s', type: 't' };
  const cases = [
    [{ ...base, id: undefined }, 'attribute "id" is required.'],
    [{ ...base, source: '' }, 'attribute "source" is required.'],
    [{ ...base, type: 5 }, 'attribute "type" must be a string.'],
    [{ ...base, specversion: '0.3' }, 'attribute "specversion" must be "1.0".'],
    [{ ...base, time: 'yesterday' }, 'attribute "time" must be an RFC 3339 time.'],
    [{ ...base, 'Bad-Name': 'x' }, 'attribute "Bad-Name" is not a valid attribute name: [a-z0-9]{1,20}.'],
    [{ ...base, ext: { nested: true } }, 'attribute "ext" must be a string, a number or a boolean.'],
    [{ ...base, data: 1, data_base64: 'AA==' }, 'attribute "data_base64" cannot be set together with "data".'],
  ];
  for (const [event, message] of cases) {
    const res = await structured(event);
    assert.equal(res.status, 400, JSON.stringify(event));
    assert.equal(errorMessage(res), `CloudEvent doesn't validate: ${message}`);
  }
  const binary = await send(gw.eventsUrl, {
    path: '/ce/invalid', headers: { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-type': 't' }, body: '',
  });
  assert.equal(binary.status, 400);
  assert.equal(errorMessage(binary), 'CloudEvent doesn\'t validate: attribute "source" is required.');
});

test('a sync subscriber gets the 1.0 event and answers the request; 0.1 stays 0.1', async () => {
  await createEventType(gw, 'cesync', 'com.example.query');
  const fn = await sdkFunction((request) => {
    const event = HTTP.toEvent({ headers: request.headers, body: request.body });
    return { body: { statusCode: 200, body: `answer to ${event.subject}` } };
  });
  await createFunction(gw, 'cesync', 'answers', fn.server.url);
  await subscribe(gw, 'cesync', { type: 'sync', eventType: 'com.example.query', functionId: 'answers', path: '/ce/sync', method: 'POST' });
  await createEventType(gw, 'cesync', 'old.style');
  const old = await functionServer();
  await createFunction(gw, 'cesync', 'old', old.url);
  await subscribe(gw, 'cesync', { type: 'async', eventType: 'old.style', functionId: 'old', path: '/ce/sync' });
  await settle(gw);

  const res = await emitter(Mode.BINARY, '/ce/sync')(
    new CloudEvent({ type: 'com.example.query', source: '/q', subject: 'question 7' }));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, 'answer to question 7');
  assert.deepEqual(fn.errors, []);

  const v01 = { eventType: 'old.style', cloudEventsVersion: '0.1', source: '/old', eventID: 'e-1', data: { k: 1 } };
  const sent = await send(gw.eventsUrl, {
    path: '/ce/sync', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(v01),
  });
  assert.equal(sent.status, 202, sent.text);
  await old.waitForRequests(1);
  assert.deepEqual(received(old)[0], v01);
});

test("the http provider's eventVersion and eventMode: the SDK reads every form", async () => {
  await createEventType(gw, 'forms', 'com.example.form');
  await createEventType(gw, 'forms', 'old.form');
  const binary = await sdkFunction();
  await createFunction(gw, 'forms', 'binary', binary.server.url, { eventMode: 'binary' });
  const as01 = await functionServer();
  await createFunction(gw, 'forms', 'as01', as01.url, { eventVersion: '0.1' });
  const as10 = await sdkFunction();
  await createFunction(gw, 'forms', 'as10', as10.server.url, { eventVersion: '1.0', eventMode: 'binary' });
  for (const fn of ['binary', 'as01', 'as10']) {
    for (const eventType of ['com.example.form', 'old.form']) {
      await subscribe(gw, 'forms', { type: 'async', eventType, functionId: fn, path: '/ce/forms' });
    }
  }
  const refused = await send(gw.configUrl, {
    path: '/v1/spaces/forms/functions', headers: { 'content-type': 'application/json' },
    body: { functionId: 'bad', type: 'http', provider: { url: 'http://127.0.0.1:1/', eventMode: 'batch' } },
  });
  assert.equal(refused.status, 400);
  assert.equal(errorMessage(refused),
    'Function doesn\'t validate. Validation error: Field "provider.eventMode" must be "structured" or "binary".');
  await settle(gw);

  const sent = new CloudEvent({
    type: 'com.example.form', source: '/forms', subject: 'sub', data: { n: 1 }, myext: 'x',
  });
  const res = await emitter(Mode.STRUCTURED, '/ce/forms')(sent);
  assert.equal(res.status, 202, res.text);
  await binary.server.waitForRequests(1);
  await as10.server.waitForRequests(1);
  await as01.waitForRequests(1);
  assert.deepEqual(binary.errors, []);
  assert.equal(binary.server.requests[0].headers['ce-id'], sent.id, 'delivered in binary mode');
  // Delivered in binary mode, JSON data without a datacontenttype goes as application/json.
  assertSameEvent(binary.events[0], sent, 'application/json');
  assertSameEvent(as10.events[0], sent, 'application/json');
  const got01 = received(as01)[0];
  assert.deepEqual(got01, {
    eventType: sent.type, cloudEventsVersion: '0.1', source: sent.source, eventID: sent.id,
    eventTime: sent.time, extensions: { myext: 'x', subject: 'sub' }, data: { n: 1 },
  });

  // A 0.1 event, asked for as 1.0 binary.
  const v01 = {
    eventType: 'old.form', cloudEventsVersion: '0.1', source: '/old', eventID: 'old-1',
    eventTypeVersion: '3', contentType: 'application/json', extensions: { region: 'eu' }, data: { k: 2 },
  };
  const res01 = await send(gw.eventsUrl, {
    path: '/ce/forms', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(v01),
  });
  assert.equal(res01.status, 202, res01.text);
  await as10.server.waitForRequests(2);
  assert.deepEqual(as10.errors, []);
  const got10 = as10.events[1];
  assert.equal(got10.specversion, '1.0');
  assert.equal(got10.type, 'old.form');
  assert.equal(got10.id, 'old-1');
  assert.equal(got10.source, '/old');
  assert.equal(got10.eventtypeversion, '3');
  assert.equal(got10.region, 'eu');
  assert.deepEqual(got10.data, { k: 2 });
});

test('a batch the delivery queue cannot take whole is refused whole: 503, nothing delivered', async () => {
  // Room for 3 deliveries in all (-workers 1 + -workers-backlog 2).
  const small = await startGateway({ args: ['-queue', 'memory', '-workers', '1', '-workers-backlog', '2'] });
  try {
    await createEventType(small, 'full', 'com.example.full');
    const fn = await functionServer();
    await createFunction(small, 'full', 'sink', fn.url);
    await subscribe(small, 'full', { type: 'async', eventType: 'com.example.full', functionId: 'sink', path: '/ce/full' });
    await settle(small);
    const batch = (n) => send(small.eventsUrl, {
      path: '/ce/full',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify(Array.from({ length: n }, (_, i) => (
        { specversion: '1.0', id: `m-${n}-${i}`, source: '/full', type: 'com.example.full', data: { i } }))),
    });
    const refused = await batch(4);
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.headers['retry-after'], '1');
    assert.match(errorMessage(refused), /retry later/);
    await quietPeriod();
    assert.equal(fn.requests.length, 0, 'no member of a refused batch is delivered');
    const accepted = await batch(3);
    assert.equal(accepted.status, 202, accepted.text);
    await fn.waitForRequests(3);
    assert.deepEqual(received(fn).map((e) => e.id).sort(), ['m-3-0', 'm-3-1', 'm-3-2']);
  } finally {
    await small.stop();
  }
});

test('trace context: traceparent and tracestate reach every call, and 1.0 events carry them', async () => {
  const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const state = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';
  const auth = await functionServer(() => ({ body: { authorization: { principalId: 'p' } } }));
  const syncFn = await functionServer(() => ({ body: { statusCode: 200, body: 'ok' } }));
  const asyncFn = await functionServer();
  await createFunction(gw, 'trace', 'auth', auth.url);
  await createFunction(gw, 'trace', 'sync', syncFn.url);
  await createFunction(gw, 'trace', 'async', asyncFn.url);
  await createEventType(gw, 'trace', 'com.example.traced', { authorizerId: 'auth' });
  await createEventType(gw, 'trace', 'legacy.traced');
  await subscribe(gw, 'trace', { type: 'sync', eventType: 'com.example.traced', functionId: 'sync', path: '/trace' });
  await subscribe(gw, 'trace', { type: 'async', eventType: 'com.example.traced', functionId: 'async', path: '/trace' });
  await subscribe(gw, 'trace', { type: 'async', eventType: 'legacy.traced', functionId: 'async', path: '/trace' });
  await settle(gw);

  const res = await send(gw.eventsUrl, {
    path: '/trace',
    headers: {
      'ce-specversion': '1.0', 'ce-id': 't-1', 'ce-source': '/tracer', 'ce-type': 'com.example.traced',
      'content-type': 'application/json', traceparent: parent, tracestate: state,
    },
    body: { n: 1 },
  });
  assert.equal(res.status, 200, res.text);
  await asyncFn.waitForRequests(1);
  // The sync call, the async delivery (through the durable queue) and each authorizer call.
  const calls = [syncFn.requests[0], asyncFn.requests[0], ...auth.requests];
  assert.equal(auth.requests.length, 2, 'the sync call and the async delivery are authorized');
  for (const call of calls) {
    assert.equal(call.headers.traceparent, parent);
    assert.equal(call.headers.tracestate, state);
  }
  for (const call of [syncFn.requests[0], asyncFn.requests[0]]) {
    const event = HTTP.toEvent({ headers: call.headers, body: call.body });
    assert.equal(event.traceparent, parent, 'the distributed-tracing extension');
    assert.equal(event.tracestate, state);
  }

  // A 0.1 event is forwarded the headers and left as sent; an invalid traceparent is not forwarded.
  const traced = cloudEvent('legacy.traced');
  const legacy = await emitStructured(gw.eventsUrl, traced, { path: '/trace', headers: { traceparent: parent } });
  assert.equal(legacy.status, 202, legacy.text);
  const untraced = cloudEvent('legacy.traced');
  const invalid = await emitStructured(gw.eventsUrl, untraced, { path: '/trace', headers: { traceparent: 'not-a-trace', tracestate: state } });
  assert.equal(invalid.status, 202, invalid.text);
  await asyncFn.waitForRequests(3);
  // Deliveries run side by side: tell them by event ID.
  const byId = (id) => asyncFn.requests.find((r) => JSON.parse(r.body).eventID === id);
  const withTrace = byId(traced.eventID);
  const withoutTrace = byId(untraced.eventID);
  assert.equal(withTrace.headers.traceparent, parent);
  assert.equal(JSON.parse(withTrace.body).extensions?.traceparent, undefined);
  assert.equal(withoutTrace.headers.traceparent, undefined);
  assert.equal(withoutTrace.headers.tracestate, undefined);
});
