// The official JS SDK (@serverless/event-gateway-sdk 0.11.0) emitting events to the
// real binary; the first test mirrors the SDK's own tests/emit.test.js.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startGateway } from './lib/harness.mjs';
import { functionServer, closeServers, settle, quietPeriod, received } from './lib/events_helpers.mjs';

const require = createRequire(import.meta.url);
const SDK = require('@serverless/event-gateway-sdk');

let gw;
let sdk;
before(async () => {
  gw = await startGateway();
  sdk = new SDK({ url: gw.eventsUrl, configurationUrl: gw.configUrl });
});
after(async () => {
  await closeServers();
  await gw?.stop();
});

test('emit: an async subscriber receives the CloudEvent and the SDK gets 202', async () => {
  const server = await functionServer(() => ({ body: { message: 'success' } }));
  await sdk.createEventType({ space: 'default', name: 'test.event' });
  await sdk.createFunction({
    space: 'default', functionId: 'test-emit', type: 'http', provider: { url: `${server.url}/test/path` },
  });
  await sdk.subscribe({ type: 'async', functionId: 'test-emit', eventType: 'test.event' });
  await settle(gw);

  const response = await sdk.emit({
    cloudEventsVersion: '0.1',
    eventType: 'test.event',
    eventID: '1',
    source: '/services/tests',
    contentType: 'application/json',
    data: { foo: 'bar' },
  });
  assert.equal(response.status, 202);
  await server.waitForRequests(1);
  const [request] = server.requests;
  assert.equal(request.method, 'POST');
  assert.equal(request.url, '/test/path');
  assert.match(request.headers['content-type'], /^application\/cloudevents\+json/);
  const event = JSON.parse(request.body);
  assert.equal(event.eventType, 'test.event');
  assert.equal(event.eventID, '1');
  assert.equal(event.source, '/services/tests');
  assert.equal(event.cloudEventsVersion, '0.1');
  assert.deepEqual(event.data, { foo: 'bar' });
  await quietPeriod();
  assert.equal(server.requests.length, 1, 'delivered exactly once');
});

test('emit: a sync subscriber answers the SDK with the function\'s response', async () => {
  const server = await functionServer((req) => {
    const event = JSON.parse(req.body);
    return {
      body: {
        statusCode: 200, headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hello: event.data.name }),
      },
    };
  });
  await sdk.createEventType({ name: 'sync.event' });
  await sdk.createFunction({ functionId: 'sync-fn', type: 'http', provider: { url: server.url } });
  await sdk.subscribe({ type: 'sync', functionId: 'sync-fn', eventType: 'sync.event', path: '/sync' });
  await settle(gw);

  const response = await sdk.emit({
    cloudEventsVersion: '0.1', eventType: 'sync.event', eventID: 'sync-1', source: '/services/tests',
    contentType: 'application/json', data: { name: 'world' },
  }, { path: '/sync' });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^application\/json/);
  assert.deepEqual(await response.json(), { hello: 'world' });
  assert.equal(server.requests.length, 1);
  assert.equal(received(server)[0].eventID, 'sync-1');
});

test('emit: a failing sync function rejects with "Function call failed. Please check logs."', async () => {
  const server = await functionServer(() => ({ status: 500, body: 'boom' }));
  await sdk.createEventType({ name: 'fail.event' });
  await sdk.createFunction({ functionId: 'fail-fn', type: 'http', provider: { url: server.url } });
  await sdk.subscribe({ type: 'sync', functionId: 'fail-fn', eventType: 'fail.event', path: '/fail' });
  await settle(gw);

  await assert.rejects(
    sdk.emit({ cloudEventsVersion: '0.1', eventType: 'fail.event', eventID: 'f-1', source: '/s', data: {} }, { path: '/fail' }),
    new Error('Failed to emit the event fail.event due the error: Function call failed. Please check logs.'));
  assert.equal(server.requests.length, 1, 'the function was called once');
});

test('emit: an invalid CloudEvent and a system event type are refused with a message', async () => {
  await assert.rejects(
    sdk.emit({ cloudEventsVersion: '0.1', eventType: 'test.event', source: '/s', data: {} }),
    (err) => {
      assert.match(err.message, /^Failed to emit the event test\.event due the error: .*eventID/);
      return true;
    });
  await assert.rejects(
    sdk.emit({ cloudEventsVersion: '0.1', eventType: 'eventgateway.function.invoked', eventID: 'x', source: '/s', data: {} }),
    (err) => {
      assert.match(err.message, /^Failed to emit the event eventgateway\.function\.invoked due the error: \S/);
      return true;
    });
});

test('emit: an event nobody subscribed to is accepted with 202', async () => {
  const response = await sdk.emit({ cloudEventsVersion: '0.1', eventType: 'nobody.listens', eventID: 'n-1', source: '/s', data: {} });
  assert.equal(response.status, 202);
});
