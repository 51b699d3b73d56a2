// Per-function metrics (spec §7): eventgateway_function_calls_total{space,function,outcome}
// and eventgateway_function_duration_seconds{space,function}, from the real binary's
// /v1/metrics: their counts for sync and async calls, and a deleted function's series
// leaving the scrape.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, api } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe, settle,
  emitStructured, cloudEvent, send, metrics, metricValue, waitFor,
} from './lib/events_helpers.mjs';

let gw;
before(async () => {
  gw = await startGateway({ args: ['-queue', 'memory'] });
});
after(async () => {
  await closeServers();
  await gw?.stop();
});

const calls = (text, space, fn, outcome) =>
  metricValue(text, 'eventgateway_function_calls_total', { space, function: fn, outcome });
const durationCount = (text, space, fn) =>
  metricValue(text, 'eventgateway_function_duration_seconds_count', { space, function: fn });

test('calls are counted by outcome, and the duration histogram counts every call', async () => {
  const ok = await functionServer(() => ({ body: { statusCode: 200, body: 'fine' } }));
  const down = await functionServer(() => ({ status: 500, body: { error: 'down' } }));
  const dlq = await functionServer();
  const space = 'fnmetrics';
  await createEventType(gw, space, 'http.request');
  await createEventType(gw, space, 'job.run');
  await createFunction(gw, space, 'ok', ok.url);
  await createFunction(gw, space, 'down', down.url);
  await createFunction(gw, space, 'dlq', dlq.url);
  await subscribe(gw, space, { type: 'sync', eventType: 'http.request', functionId: 'ok', method: 'GET', path: '/fnmetrics/ok' });
  await subscribe(gw, space, { type: 'sync', eventType: 'http.request', functionId: 'down', method: 'GET', path: '/fnmetrics/down' });
  await subscribe(gw, space, {
    type: 'async', eventType: 'job.run', functionId: 'down', path: '/fnmetrics',
    deliveryPolicy: { retries: 1, backoff: 'constant', backoffDelay: '10ms', deadLetterFunctionId: 'dlq' },
  });
  await settle(gw);

  for (let i = 0; i < 5; i++) assert.equal((await send(gw.eventsUrl, { method: 'GET', path: '/fnmetrics/ok' })).status, 200);
  for (let i = 0; i < 3; i++) assert.equal((await send(gw.eventsUrl, { method: 'GET', path: '/fnmetrics/down' })).status, 500);
  for (let i = 0; i < 2; i++) {
    assert.equal((await emitStructured(gw.eventsUrl, cloudEvent('job.run'), { path: '/fnmetrics' })).status, 202);
  }
  await dlq.waitForRequests(2, { timeout: 10000 });

  let text;
  await waitFor(async () => {
    text = await metrics(gw);
    return calls(text, space, 'dlq', 'delivered') === 2;
  }, { message: () => `dead letters counted:\n${text}` });
  assert.equal(calls(text, space, 'ok', 'delivered'), 5);
  assert.equal(calls(text, space, 'ok', 'failed'), 0);
  // down: 3 failed sync calls; 2 events each tried twice, then dead-lettered.
  assert.equal(calls(text, space, 'down', 'failed'), 3);
  assert.equal(calls(text, space, 'down', 'retrying'), 2);
  assert.equal(calls(text, space, 'down', 'deadlettered'), 2);
  assert.equal(calls(text, space, 'down', 'delivered'), 0);
  assert.equal(durationCount(text, space, 'ok'), 5);
  assert.equal(durationCount(text, space, 'down'), 7);
  assert.equal(durationCount(text, space, 'dlq'), 2);
  assert.equal(
    metricValue(text, 'eventgateway_function_duration_seconds_bucket', { space, function: 'ok', le: '+Inf' }), 5);
  assert.ok(metricValue(text, 'eventgateway_function_duration_seconds_sum', { space, function: 'ok' }) > 0);
  assert.match(text, /^# TYPE eventgateway_function_calls_total counter$/m);
  assert.match(text, /^# TYPE eventgateway_function_duration_seconds histogram$/m);
});

test('a function that was never called has no series; a deleted one loses its series', async () => {
  const fn = await functionServer(() => ({ body: { statusCode: 200, body: 'x' } }));
  const space = 'fnmetricsdel';
  await createEventType(gw, space, 'http.request');
  await createFunction(gw, space, 'short', fn.url);
  await createFunction(gw, space, 'idle', fn.url);
  await createFunction(gw, space, 'stays', fn.url);
  const sub = await subscribe(gw, space, { type: 'sync', eventType: 'http.request', functionId: 'short', method: 'GET', path: '/fnmetricsdel/short' });
  await subscribe(gw, space, { type: 'sync', eventType: 'http.request', functionId: 'stays', method: 'GET', path: '/fnmetricsdel/stays' });
  await settle(gw);
  assert.equal((await send(gw.eventsUrl, { method: 'GET', path: '/fnmetricsdel/short' })).status, 200);
  assert.equal((await send(gw.eventsUrl, { method: 'GET', path: '/fnmetricsdel/stays' })).status, 200);

  let text = await metrics(gw);
  assert.equal(calls(text, space, 'short', 'delivered'), 1);
  assert.ok(!text.includes('function="idle"'), 'a function never called has no series');

  // An update keeps counting in the same series.
  const put = await api(gw.configUrl, 'PUT', `/v1/spaces/${space}/functions/stays`,
    { functionId: 'stays', type: 'http', provider: { url: `${fn.url}/v2` } });
  assert.equal(put.status, 200, put.text);
  await settle(gw);
  assert.equal((await send(gw.eventsUrl, { method: 'GET', path: '/fnmetricsdel/stays' })).status, 200);
  assert.equal(calls(await metrics(gw), space, 'stays', 'delivered'), 2);

  assert.equal((await api(gw.configUrl, 'DELETE', `/v1/spaces/${space}/subscriptions/${encodeURIComponent(sub.subscriptionId)}`)).status, 204);
  assert.equal((await api(gw.configUrl, 'DELETE', `/v1/spaces/${space}/functions/short`)).status, 204);
  await settle(gw);
  await waitFor(async () => {
    text = await metrics(gw);
    return !text.includes(`space="${space}",function="short"`);
  }, { message: () => `the deleted function's series to go:\n${text.split('\n').filter((l) => l.includes('short')).join('\n')}` });
  assert.equal(calls(text, space, 'stays', 'delivered'), 2, 'the other function keeps its series');
});
