// Events API (spec §3.1–§3.3): turning requests into events, routing them to sync and
// async subscribers, Gen 1 invoke, and how sync responses are written back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe, settle, send,
  emitStructured, cloudEvent, errorMessage, received, quietPeriod, header, rawConnection,
} from './lib/events_helpers.mjs';

let gw;
before(async () => { gw = await startGateway(); });
after(async () => {
  await closeServers();
  await gw?.stop();
});

const kUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// A recorder function `id` in `space` subscribed async to `type` on `path`.
async function asyncSubscriber(space, id, type, path = '/') {
  const server = await functionServer();
  await createFunction(gw, space, id, server.url);
  await subscribe(gw, space, { type: 'async', eventType: type, functionId: id, path });
  return server;
}

function assertGatewayBuilt(event, type) {
  assert.equal(event.eventType, type);
  assert.equal(event.cloudEventsVersion, '0.1');
  assert.match(event.eventID, kUuid, 'a gateway-built event has a UUID eventID');
  assert.equal(typeof event.source, 'string');
  assert.ok(event.source.length > 0, 'a gateway-built event has a source');
  const time = Date.parse(event.eventTime);
  assert.ok(Number.isFinite(time) && Math.abs(Date.now() - time) < 60000, `eventTime ${event.eventTime} is now`);
  assert.deepEqual(event.extensions?.eventgateway, { transformed: 'true', 'transformation-version': '0.1' });
}

test('structured CloudEvent: delivered as sent to an async subscriber', async () => {
  await createEventType(gw, 'structured', 'routing.structured');
  const fn = await asyncSubscriber('structured', 'recorder', 'routing.structured', '/structured');
  await settle(gw);

  const sent = cloudEvent('routing.structured', { user: { id: 7 }, tags: ['a', 'b'] }, {
    eventTypeVersion: '2.0', eventTime: '2018-04-05T17:31:00Z', schemaURL: 'https://example.com/schema',
    extensions: { traceId: 'abc' },
  });
  const res = await emitStructured(gw.eventsUrl, sent, { path: '/structured' });
  assert.equal(res.status, 202, res.text);
  await fn.waitForRequests(1);
  const [request] = fn.requests;
  assert.equal(request.method, 'POST');
  assert.match(request.headers['content-type'], /^application\/cloudevents\+json/);
  const got = JSON.parse(request.body);
  for (const key of ['eventType', 'eventTypeVersion', 'cloudEventsVersion', 'source', 'eventID', 'schemaURL', 'contentType']) {
    assert.equal(got[key], sent[key], key);
  }
  assert.equal(Date.parse(got.eventTime), Date.parse(sent.eventTime));
  assert.deepEqual(got.data, sent.data);
  assert.equal(got.extensions?.traceId, 'abc');
});

test('binary mode: CE-* headers are the attributes, CE-X-* extensions, the body is data', async () => {
  await createEventType(gw, 'binary', 'routing.binary');
  const fn = await asyncSubscriber('binary', 'recorder', 'routing.binary', '/binary');
  await settle(gw);

  const res = await send(gw.eventsUrl, {
    path: '/binary',
    headers: {
      'Content-Type': 'application/json',
      'CE-EventType': 'routing.binary',
      'CE-EventTypeVersion': '1.1',
      'CE-CloudEventsVersion': '0.1',
      'CE-Source': '/binary/source',
      'CE-EventID': 'bin-1',
      'CE-EventTime': '2018-04-05T17:31:00Z',
      'CE-SchemaURL': 'https://example.com/binary-schema',
      'CE-X-MyExtension': 'ext-value',
    },
    body: JSON.stringify({ a: 1 }),
  });
  assert.equal(res.status, 202, res.text);
  await fn.waitForRequests(1);
  const got = received(fn)[0];
  assert.equal(got.eventType, 'routing.binary');
  assert.equal(got.eventTypeVersion, '1.1');
  assert.equal(got.cloudEventsVersion, '0.1');
  assert.equal(got.source, '/binary/source');
  assert.equal(got.eventID, 'bin-1');
  assert.equal(Date.parse(got.eventTime), Date.parse('2018-04-05T17:31:00Z'));
  assert.equal(got.schemaURL, 'https://example.com/binary-schema');
  assert.equal(got.contentType, 'application/json');
  assert.equal(got.extensions?.myExtension, 'ext-value');
  assert.deepEqual(got.data, { a: 1 });

  const badTime = await send(gw.eventsUrl, {
    path: '/binary',
    headers: {
      'CE-EventType': 'routing.binary', 'CE-CloudEventsVersion': '0.1', 'CE-Source': '/s',
      'CE-EventID': 'bin-2', 'CE-EventTime': 'yesterday',
    },
    body: 'x',
  });
  assert.equal(badTime.status, 400, badTime.text);
  assert.match(errorMessage(badTime), /eventTime/i);
});

test('legacy Event header: JSON body is data, other bodies base64, forms a string', async () => {
  const fn = await functionServer();
  await createFunction(gw, 'legacy', 'recorder', fn.url);
  await subscribe(gw, 'legacy', { functionId: 'recorder', event: 'legacy.event', path: '/legacy' });
  await settle(gw);

  const json = await send(gw.eventsUrl, {
    path: '/legacy', headers: { Event: 'legacy.event', 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'Max', n: [1, 2] }),
  });
  assert.equal(json.status, 202, json.text);
  await fn.waitForRequests(1);
  const first = received(fn)[0];
  assertGatewayBuilt(first, 'legacy.event');
  assert.deepEqual(first.data, { name: 'Max', n: [1, 2] });
  assert.equal(first.contentType, 'application/json');

  const binary = Buffer.from([0, 1, 2, 250, 251, 252, 10, 13]);
  const octets = await send(gw.eventsUrl, {
    path: '/legacy', headers: { Event: 'legacy.event', 'Content-Type': 'application/octet-stream' }, body: binary,
  });
  assert.equal(octets.status, 202, octets.text);
  await fn.waitForRequests(2);
  assert.equal(received(fn)[1].data, binary.toString('base64'));

  // A JSON body without a Content-Type is opaque.
  const untyped = await send(gw.eventsUrl, {
    path: '/legacy', headers: { Event: 'legacy.event' }, body: '{"a":1}',
  });
  assert.equal(untyped.status, 202, untyped.text);
  await fn.waitForRequests(3);
  assert.equal(received(fn)[2].data, Buffer.from('{"a":1}').toString('base64'));

  const form = await send(gw.eventsUrl, {
    path: '/legacy', headers: { Event: 'legacy.event', 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=two',
  });
  assert.equal(form.status, 202, form.text);
  await fn.waitForRequests(4);
  assert.equal(received(fn)[3].data, 'a=1&b=two');

  // A JSON body that is itself a CloudEvent is used as it is.
  const inner = cloudEvent('legacy.event', { inner: true }, { eventID: 'inner-1' });
  const wrapped = await send(gw.eventsUrl, {
    path: '/legacy', headers: { Event: 'legacy.event', 'Content-Type': 'application/json' }, body: JSON.stringify(inner),
  });
  assert.equal(wrapped.status, 202, wrapped.text);
  await fn.waitForRequests(5);
  const fifth = received(fn)[4];
  assert.equal(fifth.eventID, 'inner-1');
  assert.deepEqual(fifth.data, { inner: true });
});

test('http.request event: path, method, flattened headers, host, query lists, params, body', async () => {
  const fn = await functionServer(() => ({ body: { statusCode: 200, body: 'seen' } }));
  await createEventType(gw, 'httpreq', 'http.request');
  await createFunction(gw, 'httpreq', 'api', fn.url);
  await subscribe(gw, 'httpreq', { type: 'sync', eventType: 'http.request', functionId: 'api', method: 'POST', path: '/api/:id/files/*rest' });
  await settle(gw);

  const res = await send(gw.eventsUrl, {
    method: 'POST', path: '/api/42/files/x/y/z?a=1&a=2&b=x+y&c=%2F',
    headers: { 'Content-Type': 'application/json', 'X-Single': 'hello', 'X-Multi': ['v1', 'v2'] },
    body: JSON.stringify({ payload: true }),
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, 'seen');
  const event = received(fn)[0];
  assertGatewayBuilt(event, 'http.request');
  const { data } = event;
  assert.equal(data.path, '/api/42/files/x/y/z');
  assert.equal(data.method, 'POST');
  assert.equal(data.host, `127.0.0.1:${gw.eventsPort}`);
  for (const [name, value] of Object.entries(data.headers)) {
    assert.equal(typeof value, 'string', `header ${name} is one string`);
  }
  assert.equal(data.headers['X-Single'], 'hello');
  assert.match(data.headers['X-Multi'], /^v1.*v2$/);
  assert.match(data.headers['Content-Type'], /^application\/json/);
  assert.deepEqual(data.query, { a: ['1', '2'], b: ['x y'], c: ['/'] });
  assert.deepEqual(data.params, { id: '42', rest: 'x/y/z' });
  assert.deepEqual(data.body, { payload: true });
});

test('an invalid structured CloudEvent is refused with 400 naming the attribute', async () => {
  const cases = [
    [{ cloudEventsVersion: '0.1', source: '/s', eventID: '1' }, /eventType/],
    [{ eventType: 'bad.one', cloudEventsVersion: '0.1', source: '/s' }, /eventID/],
    [{ eventType: 'bad.one', source: '/s', eventID: '1' }, /cloudEventsVersion/],
    [{ eventType: 'bad.one', cloudEventsVersion: '0.1', eventID: '1' }, /source/],
  ];
  for (const [body, attribute] of cases) {
    const res = await emitStructured(gw.eventsUrl, body);
    assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
    assert.match(errorMessage(res), attribute);
  }
  const notJson = await send(gw.eventsUrl, { headers: { 'Content-Type': 'application/cloudevents+json' }, body: '{nope' });
  assert.equal(notJson.status, 400, notJson.text);
  errorMessage(notJson);
});

test('system event types cannot be sent from outside (400)', async () => {
  const structured = await emitStructured(gw.eventsUrl, cloudEvent('eventgateway.function.invoked'));
  assert.equal(structured.status, 400, structured.text);
  errorMessage(structured);
  const legacy = await send(gw.eventsUrl, { headers: { Event: 'gateway.event.received', 'Content-Type': 'application/json' }, body: '{}' });
  assert.equal(legacy.status, 400, legacy.text);
  errorMessage(legacy);
  const binary = await send(gw.eventsUrl, {
    headers: { 'CE-EventType': 'eventgateway.event.received', 'CE-CloudEventsVersion': '0.1', 'CE-Source': '/s', 'CE-EventID': '1' },
    body: 'x',
  });
  assert.equal(binary.status, 400, binary.text);
  errorMessage(binary);
});

test('nothing subscribed: http.request answers 404 with a JSON error, a custom event 202', async () => {
  const get = await send(gw.eventsUrl, { method: 'GET', path: '/nobody/here' });
  assert.equal(get.status, 404, get.text);
  assert.match(header(get, 'content-type'), /^application\/json/);
  errorMessage(get);
  const custom = await emitStructured(gw.eventsUrl, cloudEvent('nobody.subscribed'), { path: '/nobody/here' });
  assert.equal(custom.status, 202, custom.text);
  const legacy = await send(gw.eventsUrl, { path: '/nobody', headers: { Event: 'nobody.subscribed' }, body: 'x' });
  assert.equal(legacy.status, 202, legacy.text);
});

test('request target: an absolute URL is routed by its path; neither a path nor a URL is 400', async () => {
  await createEventType(gw, 'targets', 'http.request');
  const fn = await asyncSubscriber('targets', 'recorder', 'http.request', '/targets');
  await settle(gw);
  const answer = async (line) => {
    const conn = await rawConnection(gw.eventsPort);
    try {
      return await conn.exchange(`${line}\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`);
    } finally {
      conn.socket.destroy();
    }
  };

  for (const target of ['http://example.com/targets?x=1', 'HTTPS://example.com:8443/targets?x=1']) {
    const res = await answer(`POST ${target} HTTP/1.1`);
    assert.equal(res.status, 202, `${target}: ${res.text}`);
  }
  await fn.waitForRequests(2);
  for (const event of received(fn)) {
    assert.equal(event.data.path, '/targets');
    assert.deepEqual(event.data.query, { x: ['1'] });
  }

  for (const line of ['POST ?a==b HTTP/1.1', 'POST targets HTTP/1.1', 'GET * HTTP/1.1', 'CONNECT example.com:443 HTTP/1.1']) {
    const res = await answer(line);
    assert.equal(res.status, 400, `${line}: ${res.text}`);
    assert.equal(errorMessage(res), 'request target must be a path starting with "/" or an absolute http(s) URL');
  }
  const options = await answer('OPTIONS * HTTP/1.1');
  assert.equal(options.status, 200, options.text);
  assert.equal(options.text, '');
  await quietPeriod();
  assert.equal(fn.requests.length, 2, 'no other target reached the subscriber');
});

test('three async subscribers each receive one event exactly once', async () => {
  await createEventType(gw, 'fanout', 'fan.out');
  const fns = [];
  for (const id of ['one', 'two', 'three']) fns.push(await asyncSubscriber('fanout', id, 'fan.out', '/fan'));
  await settle(gw);

  const sent = cloudEvent('fan.out', { k: 'v' });
  const res = await emitStructured(gw.eventsUrl, sent, { path: '/fan' });
  assert.equal(res.status, 202, res.text);
  await Promise.all(fns.map((f) => f.waitForRequests(1)));
  await quietPeriod();
  for (const f of fns) {
    assert.equal(f.requests.length, 1);
    assert.equal(received(f)[0].eventID, sent.eventID);
  }
  // Another path or another method does not match.
  assert.equal((await emitStructured(gw.eventsUrl, cloudEvent('fan.out'), { path: '/fan/other' })).status, 202);
  await quietPeriod();
  for (const f of fns) assert.equal(f.requests.length, 1, 'async paths match exactly');
});

test('async subscribers in two spaces both receive a matching event', async () => {
  const a = await functionServer();
  const b = await functionServer();
  for (const [space, server] of [['space-a', a], ['space-b', b]]) {
    await createEventType(gw, space, 'shared.event');
    await createFunction(gw, space, 'handler', server.url);
    await subscribe(gw, space, { type: 'async', eventType: 'shared.event', functionId: 'handler', path: '/shared' });
  }
  await settle(gw);
  const sent = cloudEvent('shared.event');
  const res = await emitStructured(gw.eventsUrl, sent, { path: '/shared' });
  assert.equal(res.status, 202, res.text);
  await a.waitForRequests(1);
  await b.waitForRequests(1);
  assert.equal(received(a)[0].eventID, sent.eventID);
  assert.equal(received(b)[0].eventID, sent.eventID);
});

test('Gen 1 invoke: 200 with the raw result, 404 when not invokable, 500 on failure', async () => {
  const ok = await functionServer(() => ({ headers: { 'content-type': 'text/plain' }, body: 'raw result, not an object' }));
  const failing = await functionServer(() => ({ status: 502, body: 'bad gateway' }));
  const notInvokable = await functionServer();
  await createFunction(gw, 'invokespace', 'ok-fn', ok.url);
  await createFunction(gw, 'invokespace', 'failing-fn', failing.url);
  await createFunction(gw, 'invokespace', 'plain-fn', notInvokable.url);
  await subscribe(gw, 'invokespace', { functionId: 'ok-fn', event: 'invoke', path: '/inv' });
  await subscribe(gw, 'invokespace', { functionId: 'failing-fn', event: 'invoke', path: '/inv' });
  await settle(gw);

  const invoke = (functionId, extra = {}) => send(gw.eventsUrl, {
    path: '/inv',
    headers: { 'Content-Type': 'application/json', Event: 'invoke', 'Function-ID': functionId, Space: 'invokespace', ...extra },
    body: JSON.stringify({ name: 'Max' }),
  });
  const res = await invoke('ok-fn');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, 'raw result, not an object');
  const event = received(ok)[0];
  assert.equal(event.eventType, 'invoke');
  assert.deepEqual(event.data, { name: 'Max' });

  for (const [functionId, extra] of [['missing-fn', {}], ['plain-fn', {}], ['ok-fn', { Space: 'default' }]]) {
    const missing = await invoke(functionId, extra);
    assert.equal(missing.status, 404, `${functionId} ${JSON.stringify(extra)}: ${missing.text}`);
    assert.equal(errorMessage(missing), 'function or subscription not found');
  }
  const wrongPath = await send(gw.eventsUrl, {
    path: '/elsewhere', headers: { Event: 'invoke', 'Function-ID': 'ok-fn', Space: 'invokespace' }, body: '{}',
  });
  assert.equal(wrongPath.status, 404, wrongPath.text);
  assert.equal(notInvokable.requests.length, 0);

  const failed = await invoke('failing-fn');
  assert.equal(failed.status, 500, failed.text);
  assert.equal(failing.requests.length, 1);
});

test('sync response: statusCode, headers and body are written back', async () => {
  let reply;
  const fn = await functionServer(() => reply);
  await createEventType(gw, 'syncresp', 'http.request');
  await createEventType(gw, 'syncresp', 'sync.custom');
  await createFunction(gw, 'syncresp', 'fn', fn.url);
  await subscribe(gw, 'syncresp', { type: 'sync', eventType: 'http.request', functionId: 'fn', method: 'GET', path: '/resp' });
  await subscribe(gw, 'syncresp', { type: 'sync', eventType: 'sync.custom', functionId: 'fn', path: '/resp' });
  await settle(gw);

  reply = { body: { statusCode: 201, headers: { 'x-from-function': 'yes', 'content-type': 'text/plain' }, body: 'created it' } };
  const res = await send(gw.eventsUrl, { method: 'GET', path: '/resp' });
  assert.equal(res.status, 201, res.text);
  assert.equal(header(res, 'x-from-function'), 'yes');
  assert.equal(header(res, 'content-type'), 'text/plain');
  assert.equal(res.text, 'created it');

  reply = { body: { body: 'default status' } };
  const dflt = await send(gw.eventsUrl, { method: 'GET', path: '/resp' });
  assert.equal(dflt.status, 200, dflt.text);
  assert.equal(dflt.text, 'default status');

  // A custom event's sync subscriber answers the same way.
  reply = { body: { statusCode: 418, body: 'teapot' } };
  const custom = await emitStructured(gw.eventsUrl, cloudEvent('sync.custom'), { path: '/resp' });
  assert.equal(custom.status, 418, custom.text);
  assert.equal(custom.text, 'teapot');

  for (const malformed of ['not json at all', '[1,2,3]', '{"statusCode":"two hundred"}', '{"headers":"nope"}', '{"body":{"x":1}}']) {
    reply = { headers: { 'content-type': 'application/json' }, body: malformed };
    const bad = await send(gw.eventsUrl, { method: 'GET', path: '/resp' });
    assert.equal(bad.status, 500, `${malformed}: ${bad.status} ${bad.text}`);
    assert.match(errorMessage(bad), /HTTP response object malformed/, malformed);
  }

  for (const failure of [{ status: 500, body: 'crash' }, { destroy: true }]) {
    reply = failure;
    const failed = await send(gw.eventsUrl, { method: 'GET', path: '/resp' });
    assert.equal(failed.status, 500, failed.text);
    assert.deepEqual(failed.json, { errors: [{ message: 'Function call failed. Please check logs.' }] });
  }
});
