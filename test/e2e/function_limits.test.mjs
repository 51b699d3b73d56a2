// Function limits (spec §6): a sync call over a function's rate gets 429 with
// Retry-After; async deliveries wait for room and every one arrives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, api } from './lib/harness.mjs';
import {
  functionServer, closeServers, createEventType, subscribe, settle, send, create,
  errorMessage, emitStructured, cloudEvent, metrics, metricValue,
} from './lib/events_helpers.mjs';

let gw;
before(async () => { gw = await startGateway(); });
after(async () => {
  await closeServers();
  await gw?.stop();
});

const limited = (space, functionId, url, limits) =>
  create(gw, space, 'functions', { functionId, type: 'http', provider: { url }, limits });

test('a burst against a sync route: the bucket is served, the rest get 429 with Retry-After', async () => {
  const fn = await functionServer(() => ({ body: { statusCode: 200, body: 'ok' } }));
  // One call per 100 s after a burst of 5: no token comes back during the test.
  const created = await limited('lim', 'slow', fn.url, { rate: 0.01, burst: 5 });
  assert.deepEqual(created.limits, { rate: 0.01, burst: 5 });
  await createEventType(gw, 'lim', 'http.request');
  await subscribe(gw, 'lim', { type: 'sync', eventType: 'http.request', functionId: 'slow', method: 'GET', path: '/lim/slow' });
  await settle(gw);
  const answers = await Promise.all(Array.from({ length: 20 }, () => send(gw.eventsUrl, { method: 'GET', path: '/lim/slow' })));
  const ok = answers.filter((a) => a.status === 200);
  const refused = answers.filter((a) => a.status === 429);
  assert.equal(ok.length, 5, answers.map((a) => a.status).join(','));
  assert.equal(refused.length, 15);
  for (const r of refused) {
    assert.match(errorMessage(r), /function "slow" is over its limits/);
    assert.ok(Number(r.headers['retry-after']) >= 1, r.headers['retry-after']);
  }
  assert.equal(fn.requests.length, 5, 'refused calls never reach the function');
  const text = await metrics(gw);
  assert.equal(metricValue(text, 'eventgateway_calls_limited_total', { space: 'lim' }), 15);
});

test('an async subscriber with concurrency 1 never sees two calls overlap, and every event arrives', async () => {
  let inside = 0;
  let most = 0;
  const fn = await functionServer(async () => {
    inside += 1;
    most = Math.max(most, inside);
    await new Promise((resolve) => setTimeout(resolve, 20));
    inside -= 1;
    return { body: 'ok' };
  });
  await limited('lim', 'one', fn.url, { concurrency: 1 });
  await createEventType(gw, 'lim', 'job.queued');
  await subscribe(gw, 'lim', { type: 'async', eventType: 'job.queued', functionId: 'one', path: '/lim/jobs' });
  await settle(gw);
  const events = Array.from({ length: 20 }, (_, n) => cloudEvent('job.queued', { n }));
  const answers = await Promise.all(events.map((e) => emitStructured(gw.eventsUrl, e, { path: '/lim/jobs' })));
  for (const a of answers) assert.equal(a.status, 202, a.text);
  await fn.waitForRequests(20, { timeout: 20000 });
  assert.equal(most, 1, 'calls overlapped');
  const ids = fn.requests.map((r) => JSON.parse(r.body).eventID).sort();
  assert.deepEqual(ids, events.map((e) => e.eventID).sort());
});

test('limits are validated, shown only when set, and a PUT changes them', async () => {
  const fn = await functionServer();
  const bad = await api(gw.configUrl, 'POST', '/v1/spaces/lim2/functions',
    { functionId: 'f', type: 'http', provider: { url: fn.url }, limits: { rate: 5, perMinute: 1 } });
  assert.equal(bad.status, 400);
  assert.match(errorMessage(bad), /"limits.perMinute" is unknown/);
  const plain = await create(gw, 'lim2', 'functions', { functionId: 'f', type: 'http', provider: { url: fn.url } });
  assert.equal('limits' in plain, false);
  const put = await api(gw.configUrl, 'PUT', '/v1/spaces/lim2/functions/f',
    { type: 'http', provider: { url: fn.url }, limits: { concurrency: 3 } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.json.limits, { concurrency: 3 });
  const read = await api(gw.configUrl, 'GET', '/v1/spaces/lim2/functions/f');
  assert.deepEqual(read.json.limits, { concurrency: 3 });
});
