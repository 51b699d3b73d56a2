// Retries and dead letters (spec §5) with the real binary and real function servers:
// what is retried, what is final, when a delivery gives up and where it then goes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, api } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe, settle,
  emitStructured, cloudEvent, received, metrics, metricValue, waitFor, header,
} from './lib/events_helpers.mjs';

let gw;
before(async () => {
  // Quick retries so that several fit in a test; the policy tests set their own.
  gw = await startGateway({ args: ['-delivery-backoff-delay', '20ms', '-delivery-max-backoff', '100ms'] });
});
after(async () => {
  await closeServers();
  await gw?.stop();
});

// A function that fails each event's first `failures` calls with `status`, then answers 200.
async function flakyFunction(failures, status = 503) {
  const seen = new Map();
  return functionServer((req) => {
    const id = JSON.parse(req.body).eventID;
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    return n <= failures ? { status, body: { error: 'not now' } } : { body: { ok: true } };
  });
}

async function setUp(space, { policy, url, deadLetterUrl } = {}) {
  await createEventType(gw, space, 'order.placed');
  await createFunction(gw, space, 'orders', url);
  if (deadLetterUrl) await createFunction(gw, space, 'dlq', deadLetterUrl);
  const body = { type: 'async', eventType: 'order.placed', functionId: 'orders', path: `/${space}` };
  if (policy) body.deliveryPolicy = policy;
  const sub = await subscribe(gw, space, body);
  await settle(gw);
  return sub;
}

test('a function failing 3 times then succeeding gets the event on the 4th attempt, same event ID', async () => {
  const fn = await flakyFunction(3);
  await setUp('flaky', { url: fn.url });
  const sent = cloudEvent('order.placed', { n: 1 });
  const res = await emitStructured(gw.eventsUrl, sent, { path: '/flaky' });
  assert.equal(res.status, 202, res.text);
  await fn.waitForRequests(4, { timeout: 10000 });
  const ids = received(fn).map((e) => e.eventID);
  assert.deepEqual(ids, [sent.eventID, sent.eventID, sent.eventID, sent.eventID]);
  await waitFor(async () => metricValue(await metrics(gw), 'eventgateway_deliveries_retried_total', { space: 'flaky' }) === 3,
    { message: 'retried_total of 3' });
  assert.equal(metricValue(await metrics(gw), 'eventgateway_deliveries_failed_total', { space: 'flaky' }), 0);
});

test('a 4xx answer goes to the dead-letter function at once, with the dead-letter attributes', async () => {
  const fn = await functionServer(() => ({ status: 404, body: { error: 'no such order' } }));
  const dlq = await functionServer();
  const sub = await setUp('gone', { url: fn.url, deadLetterUrl: dlq.url, policy: { deadLetterFunctionId: 'dlq' } });
  const sent = cloudEvent('order.placed', { n: 2 });
  assert.equal((await emitStructured(gw.eventsUrl, sent, { path: '/gone' })).status, 202);
  await dlq.waitForRequests(1);
  const [letter] = received(dlq);
  assert.equal(fn.requests.length, 1, 'a 4xx is not retried');
  assert.equal(letter.eventID, sent.eventID);
  assert.deepEqual(letter.data, sent.data);
  assert.deepEqual(letter.extensions.eventgateway.deadLetter, {
    subscriptionId: sub.subscriptionId, functionId: 'orders', attempts: 1,
    error: 'the function answered http 404',
  });
  assert.equal(dlq.requests[0].headers['content-type'], 'application/cloudevents+json');
  await waitFor(async () => metricValue(await metrics(gw), 'eventgateway_deliveries_deadlettered_total', { space: 'gone' }) === 1,
    { message: 'deadlettered_total of 1' });
});

test('retries exhausted: the dead letter says how many attempts were made and the last error', async () => {
  const fn = await flakyFunction(100, 500);
  const dlq = await functionServer();
  await setUp('exhaust', {
    url: fn.url, deadLetterUrl: dlq.url,
    policy: { retries: 2, backoff: 'constant', backoffDelay: '10ms', deadLetterFunctionId: 'dlq' },
  });
  const sent = cloudEvent('order.placed');
  assert.equal((await emitStructured(gw.eventsUrl, sent, { path: '/exhaust' })).status, 202);
  await dlq.waitForRequests(1, { timeout: 10000 });
  const [letter] = received(dlq);
  assert.equal(fn.requests.length, 3, '1 attempt + 2 retries');
  const info = letter.extensions.eventgateway.deadLetter;
  assert.equal(info.attempts, 3);
  assert.match(info.error, /http 500/);
});

test('an event older than maxEventAge goes to the dead letter', async () => {
  const fn = await flakyFunction(1000);
  const dlq = await functionServer();
  await setUp('aged', {
    url: fn.url, deadLetterUrl: dlq.url,
    policy: { retries: 1000, backoff: 'constant', backoffDelay: '50ms', maxEventAge: '400ms', deadLetterFunctionId: 'dlq' },
  });
  const started = Date.now();
  assert.equal((await emitStructured(gw.eventsUrl, cloudEvent('order.placed'), { path: '/aged' })).status, 202);
  await dlq.waitForRequests(1, { timeout: 10000 });
  const [letter] = received(dlq);
  assert.ok(Date.now() - started >= 350, 'not given up before its age');
  assert.match(letter.extensions.eventgateway.deadLetter.error, /maxEventAge/);
  assert.ok(fn.requests.length >= 2 && fn.requests.length < 50, `${fn.requests.length} attempts`);
});

test('without a dead letter, a given-up delivery is logged (no secrets) and counted as failed', async () => {
  const fn = await flakyFunction(1000);
  await createEventType(gw, 'nodlq', 'order.placed');
  await createFunction(gw, 'nodlq', 'orders', `${fn.url}/?code=s3cr3t-key`, { headers: { 'x-functions-key': 'hidden-value' } });
  await subscribe(gw, 'nodlq', { type: 'async', eventType: 'order.placed', functionId: 'orders', path: '/nodlq', deliveryPolicy: { retries: 1 } });
  await settle(gw);
  const sent = cloudEvent('order.placed');
  assert.equal((await emitStructured(gw.eventsUrl, sent, { path: '/nodlq' })).status, 202);
  await waitFor(async () => metricValue(await metrics(gw), 'eventgateway_deliveries_failed_total', { space: 'nodlq' }) === 1,
    { timeout: 10000, message: 'failed_total of 1' });
  assert.equal(fn.requests.length, 2);
  await waitFor(() => gw.logs().includes(sent.eventID), { message: 'a log line naming the event' });
  const line = gw.logs().split('\n').find((l) => l.includes(sent.eventID));
  assert.match(line, /failed after 2 attempt/);
  assert.doesNotMatch(gw.logs(), /s3cr3t-key|hidden-value/);
});

test('a Retry-After is honoured (up to maxBackoff)', async () => {
  const times = [];
  const fn = await functionServer(() => {
    times.push(Date.now());
    return times.length === 1 ? { status: 429, headers: { 'Retry-After': '1' }, body: 'slow down' } : { body: {} };
  });
  await setUp('polite', { url: fn.url, policy: { maxBackoff: '5s' } });
  assert.equal((await emitStructured(gw.eventsUrl, cloudEvent('order.placed'), { path: '/polite' })).status, 202);
  await fn.waitForRequests(2, { timeout: 10000 });
  assert.ok(times[1] - times[0] >= 900, `retried after ${times[1] - times[0]} ms, asked for 1 s`);
});

test('a PUT of the deliveryPolicy applies to deliveries already queued', async () => {
  const fn = await flakyFunction(1000);
  const dlq = await functionServer();
  const sub = await setUp('changed', {
    url: fn.url, deadLetterUrl: dlq.url, policy: { retries: 1000, backoff: 'constant', backoffDelay: '50ms' },
  });
  assert.equal((await emitStructured(gw.eventsUrl, cloudEvent('order.placed'), { path: '/changed' })).status, 202);
  await fn.waitForRequests(2);
  const put = await api(gw.configUrl, 'PUT', `/v1/spaces/changed/subscriptions/${sub.subscriptionId}`,
    { ...sub, deliveryPolicy: { retries: 0, deadLetterFunctionId: 'dlq' } });
  assert.equal(put.status, 200, put.text);
  await dlq.waitForRequests(1, { timeout: 10000 });
  const [letter] = received(dlq);
  assert.ok(letter.extensions.eventgateway.deadLetter.attempts >= 2);
});

test('the queue is described at start-up and its figures are exported', async () => {
  assert.match(gw.logs(), /delivery queue: embedded \(log in [^)]*queue/);
  const text = await metrics(gw);
  for (const name of ['eventgateway_queue_deliveries', 'eventgateway_queue_oldest_seconds',
    'eventgateway_queue_bytes', 'eventgateway_events_backlog']) {
    assert.match(text, new RegExp(`^${name} \\d`, 'm'), name);
  }
  assert.ok(metricValue(text, 'eventgateway_queue_bytes') > 0);
  // A sync route is untouched by the queue: no header of its own.
  const res = await api(gw.eventsUrl, 'GET', '/nothing-here');
  assert.equal(header(res, 'retry-after'), undefined);
});
