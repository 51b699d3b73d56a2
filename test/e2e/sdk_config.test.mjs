// The official JS SDK (@serverless/event-gateway-sdk 0.11.0 from npm) managing
// configuration against the real binary; results compared field by field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startGateway } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const SDK = require('@serverless/event-gateway-sdk');

let gw;
let sdk;
before(async () => {
  gw = await startGateway();
  sdk = new SDK({ url: gw.eventsUrl, configurationUrl: gw.configUrl, space: 'sdkspace' });
});
after(async () => { await gw?.stop(); });

const lambda = { functionId: 'test', type: 'awslambda', provider: { arn: 'arn::::', region: 'us-east-1' } };
const lambdaOut = { space: 'sdkspace', ...lambda };

test('functions: create, list, filter, update, delete and their errors', async () => {
  assert.deepEqual(await sdk.createFunction(lambda), lambdaOut);
  assert.deepEqual(await sdk.listFunctions(), [lambdaOut]);
  assert.deepEqual(await sdk.listFunctions({ 'metadata.foo': 'bar' }), []);
  await assert.rejects(sdk.createFunction(lambda),
    new Error('Failed to create the function test due the error: Function "test" already registered.'));

  const update = { functionId: 'test', type: 'awslambda', provider: { arn: 'arn::::', region: 'us-west-1' }, metadata: { foo: 'bar' } };
  assert.deepEqual(await sdk.updateFunction(update), { space: 'sdkspace', ...update });
  assert.deepEqual(await sdk.listFunctions({ 'metadata.foo': 'bar' }), [{ space: 'sdkspace', ...update }]);

  assert.equal(await sdk.deleteFunction({ functionId: 'test' }), undefined);
  await assert.rejects(sdk.deleteFunction({ functionId: 'missing-func' }),
    new Error('Failed to delete the function missing-func due the error: Function "missing-func" not found.'));
  await assert.rejects(sdk.updateFunction({ functionId: 'missing-func', type: 'http', provider: { url: 'http://a/' } }),
    new Error('Failed to update the function missing-func due the error: Function "missing-func" not found.'));
});

test('event types: create, list, filter, update, delete and their errors', async () => {
  assert.deepEqual(await sdk.createEventType({ name: 'test.event' }), { space: 'sdkspace', name: 'test.event' });
  assert.deepEqual(await sdk.listEventTypes(), [{ space: 'sdkspace', name: 'test.event' }]);
  assert.deepEqual(await sdk.listEventTypes({ 'metadata.foo': 'bar' }), []);
  await assert.rejects(sdk.createEventType({ name: 'test.event' }),
    new Error('Failed to create test.event event type due the error: Event Type "test.event" already exists.'));
  assert.deepEqual(await sdk.updateEventType({ name: 'test.event', metadata: { foo: 'bar' } }),
    { space: 'sdkspace', name: 'test.event', metadata: { foo: 'bar' } });
  assert.deepEqual(await sdk.listEventTypes({ 'metadata.foo': 'bar' }),
    [{ space: 'sdkspace', name: 'test.event', metadata: { foo: 'bar' } }]);
  assert.equal(await sdk.deleteEventType({ name: 'test.event' }), undefined);
  await assert.rejects(sdk.deleteEventType({ name: 'non.existing' }),
    new Error('Failed to delete non.existing event type due the error: Event Type "non.existing" not found.'));
});

test('subscriptions: subscribe, list, filter, unsubscribe and their errors', async () => {
  await sdk.createEventType({ name: 'test.event' });
  await sdk.createFunction(lambda);
  const created = {
    space: 'sdkspace', subscriptionId: 'YXN5bmMsdGVzdC5ldmVudCx0ZXN0LCUyRixQT1NU',
    type: 'async', eventType: 'test.event', functionId: 'test', method: 'POST', path: '/',
  };
  assert.deepEqual(await sdk.subscribe({ type: 'async', eventType: 'test.event', functionId: 'test' }), created);
  assert.deepEqual(await sdk.listSubscriptions(), [created]);
  assert.deepEqual(await sdk.listSubscriptions({ 'metadata.foo': 'bar' }), []);
  await assert.rejects(sdk.subscribe({ functionId: 'none-exiting-function', eventType: 'pageVisited' }),
    new Error('Failed to subscribe the event pageVisited to the function none-exiting-function due the error: ' +
      "Subscription doesn't validate. Validation error: Key: 'Subscription.Type' Error:Field validation for 'Type' failed on the 'required' tag"));
  assert.equal(await sdk.unsubscribe({ subscriptionId: created.subscriptionId }), undefined);
  assert.deepEqual(await sdk.listSubscriptions(), []);
  await assert.rejects(sdk.unsubscribe({ subscriptionId: 'xxx' }),
    new Error('Failed to unsubscribe the subscription xxx due the error: Subscription "xxx" not found.'));
});

test('CORS: create, list, filter, update, delete and their errors', async () => {
  const corsOut = {
    space: 'sdkspace', corsId: 'GET%2Ftest', method: 'GET', path: '/test',
    allowedOrigins: ['http://example.com'], allowedHeaders: ['Origin', 'Accept', 'Content-Type'],
    allowedMethods: ['HEAD', 'GET', 'POST'], allowCredentials: false,
  };
  assert.deepEqual(await sdk.createCORS({ method: 'GET', path: '/test', allowedOrigins: ['http://example.com'] }), corsOut);
  assert.deepEqual(await sdk.listCORS(), [corsOut]);
  assert.deepEqual(await sdk.listCORS({ 'metadata.foo': 'bar' }), []);
  await assert.rejects(sdk.createCORS({ method: 'GET', path: '/test' }),
    new Error('Failed to create CORS configuration due the error: CORS configuration "GET%2Ftest" already exists.'));
  const updated = await sdk.updateCORS({ corsId: 'GET%2Ftest', method: 'GET', path: '/test', allowedOrigins: ['*'], allowCredentials: true, metadata: { foo: 'bar' } });
  assert.deepEqual(updated, { ...corsOut, allowedOrigins: ['*'], allowCredentials: true, metadata: { foo: 'bar' } });
  assert.deepEqual(await sdk.listCORS({ 'metadata.foo': 'bar' }), [updated]);
  assert.equal(await sdk.deleteCORS({ corsId: 'GET%2Ftest' }), undefined);
  await assert.rejects(sdk.deleteCORS({ corsId: 'GET%2Ftest' }),
    new Error('Failed to delete GET%2Ftest CORS configuration due the error: CORS configuration "GET%2Ftest" not found.'));
});
