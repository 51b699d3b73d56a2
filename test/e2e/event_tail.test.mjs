// The event tail (spec §7), GET /v1/spaces/<space>/events/tail, on the real binary with
// real function servers: every outcome kind in order, the filters, access keys, and a
// client that stops reading, which neither holds routing back nor grows the gateway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startGateway, api, trackTempDir } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe, settle,
  emitStructured, cloudEvent, send, waitFor,
} from './lib/events_helpers.mjs';
import { openTail } from './lib/sse.mjs';

let gw;
const tails = [];
before(async () => {
  gw = await startGateway({ args: ['-queue', 'memory'] });
});
after(async () => {
  for (const t of tails) t.close();
  await closeServers();
  await gw?.stop();
});

async function tail(space, opts) {
  const t = await openTail(gw, space, opts);
  tails.push(t);
  return t;
}

// The tail's events about one event ID.
function about(events, eventId) {
  return events.filter((e) => e.data.eventId === eventId);
}

test('every outcome kind, in order, with growing ids', async () => {
  const ok = await functionServer(() => ({ body: { statusCode: 200, body: 'fine' } }));
  const failing = await functionServer(() => ({ status: 503, body: { error: 'down' } }));
  const dlq = await functionServer();
  const space = 'tailkinds';
  for (const type of ['order.placed', 'order.retried', 'order.dropped', 'http.request']) {
    await createEventType(gw, space, type);
  }
  await createFunction(gw, space, 'ok', ok.url);
  await createFunction(gw, space, 'failing', failing.url);
  await createFunction(gw, space, 'dlq', dlq.url);
  const quick = { backoff: 'constant', backoffDelay: '10ms' };
  await subscribe(gw, space, { type: 'async', eventType: 'order.placed', functionId: 'ok', path: '/tailkinds' });
  await subscribe(gw, space, {
    type: 'async', eventType: 'order.retried', functionId: 'failing', path: '/tailkinds',
    deliveryPolicy: { ...quick, retries: 2, deadLetterFunctionId: 'dlq' },
  });
  await subscribe(gw, space, {
    type: 'async', eventType: 'order.dropped', functionId: 'failing', path: '/tailkinds',
    deliveryPolicy: { ...quick, retries: 1 },
  });
  await subscribe(gw, space, { type: 'sync', eventType: 'http.request', functionId: 'ok', method: 'GET', path: '/tailkinds/sync' });
  await settle(gw);

  const t = await tail(space);
  assert.equal(t.status, 200);
  assert.match(t.headers['content-type'], /^text\/event-stream/);
  assert.equal(t.headers['cache-control'], 'no-cache');

  const placed = cloudEvent('order.placed');
  const retried = cloudEvent('order.retried');
  const dropped = cloudEvent('order.dropped');
  for (const e of [placed, retried, dropped]) {
    assert.equal((await emitStructured(gw.eventsUrl, e, { path: '/tailkinds' })).status, 202);
  }
  const syncAnswer = await send(gw.eventsUrl, { method: 'GET', path: '/tailkinds/sync' });
  assert.equal(syncAnswer.status, 200);

  const kinds = (id) => about(t.events, id).map((e) => e.event);
  await t.waitForEvents(() =>
    kinds(placed.eventID).length >= 2 && kinds(retried.eventID).length >= 5 &&
    kinds(dropped.eventID).length >= 3 &&
    t.events.some((e) => e.data.eventType === 'http.request' && e.event === 'delivered'),
  { timeout: 10000 });

  assert.deepEqual(kinds(placed.eventID), ['received', 'delivered']);
  assert.deepEqual(kinds(retried.eventID), ['received', 'retrying', 'retrying', 'deadlettered', 'delivered']);
  assert.deepEqual(kinds(dropped.eventID), ['received', 'retrying', 'failed']);

  const [received, delivered] = about(t.events, placed.eventID);
  assert.equal(received.data.space, space);
  assert.equal(received.data.eventType, 'order.placed');
  assert.deepEqual(received.data.functions, ['ok']);
  assert.equal(delivered.data.functionId, 'ok');
  assert.equal(delivered.data.status, 200);
  assert.equal(delivered.data.attempt, 1);
  assert.equal(typeof delivered.data.latencyMs, 'number');
  assert.ok(delivered.data.subscriptionId);
  assert.match(delivered.data.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  const retries = about(t.events, retried.eventID);
  assert.deepEqual(retries.slice(1, 4).map((e) => [e.data.functionId, e.data.attempt, e.data.status]),
    [['failing', 1, 503], ['failing', 2, 503], ['failing', 3, 503]]);
  assert.match(retries[3].data.error, /503/);
  assert.equal(retries[4].data.functionId, 'dlq');
  assert.deepEqual(about(t.events, dropped.eventID).slice(1).map((e) => [e.data.attempt, e.data.status]),
    [[1, 503], [2, 503]]);

  const sync = t.events.filter((e) => e.data.eventType === 'http.request');
  assert.deepEqual(sync.map((e) => e.event), ['received', 'delivered']);
  assert.equal(sync[0].data.eventId, sync[1].data.eventId);
  assert.equal(sync[1].data.subscriptionId, undefined);

  // One sequence for the whole stream: it only grows.
  for (let i = 1; i < t.events.length; i++) {
    assert.ok(t.events[i].id > t.events[i - 1].id, `ids ${t.events[i - 1].id} then ${t.events[i].id}`);
  }
  assert.equal(t.events.filter((e) => e.event === 'skipped').length, 0);
});

test('filters by type and by function; other spaces stay apart', async () => {
  const fn = await functionServer();
  const space = 'tailfilters';
  await createEventType(gw, space, 'a.one');
  await createEventType(gw, space, 'a.two');
  await createFunction(gw, space, 'f', fn.url);
  await createFunction(gw, space, 'g', fn.url);
  await subscribe(gw, space, { type: 'async', eventType: 'a.one', functionId: 'f', path: '/tailfilters' });
  await subscribe(gw, space, { type: 'async', eventType: 'a.two', functionId: 'g', path: '/tailfilters' });
  await settle(gw);

  const all = await tail(space);
  const byType = await tail(space, { query: '?type=a.one' });
  const byFunction = await tail(space, { query: '?function=g' });
  const elsewhere = await tail('tailfilters-other');
  const one = cloudEvent('a.one');
  const two = cloudEvent('a.two');
  for (const e of [one, two]) {
    assert.equal((await emitStructured(gw.eventsUrl, e, { path: '/tailfilters' })).status, 202);
  }
  await all.waitForEvents((events) => events.filter((e) => e.event === 'delivered').length === 2);
  await byType.waitForEvents((events) => events.length >= 2);
  await byFunction.waitForEvents((events) => events.length >= 2);
  // Let anything that should not come have its chance.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(byType.events.map((e) => [e.event, e.data.eventId]),
    [['received', one.eventID], ['delivered', one.eventID]]);
  assert.deepEqual(byFunction.events.map((e) => [e.event, e.data.eventId]),
    [['received', two.eventID], ['delivered', two.eventID]]);
  assert.equal(all.events.length, 4);
  assert.equal(elsewhere.events.length, 0);
});

test('a closed client leaves the gateway: the tails gauge comes back down', async () => {
  const tailsOpen = async () => {
    const text = (await api(gw.configUrl, 'GET', '/v1/metrics')).text;
    return Number(/^eventgateway_tails (\d+)$/m.exec(text)?.[1]);
  };
  const before = await tailsOpen();
  const t = await openTail(gw, 'tailclose');
  await waitFor(async () => (await tailsOpen()) === before + 1, { message: 'one more tail open' });
  t.close();
  await waitFor(async () => (await tailsOpen()) === before, { timeout: 5000, message: 'the tail to go' });
  const wrong = await api(gw.configUrl, 'POST', '/v1/spaces/tailclose/events/tail');
  assert.equal(wrong.status, 405);
});

// A field of /proc/<pid>/status in KiB ("VmRSS:   12345 kB").
function statusKiB(pid, field) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)[1]);
}

test('a client that stops reading holds nothing back and grows nothing; it hears what it missed', async (t) => {
  const fn = await functionServer();
  const space = 'tailslow';
  await createEventType(gw, space, 'bulk');
  await createFunction(gw, space, 'sink', fn.url);
  await subscribe(gw, space, { type: 'async', eventType: 'bulk', functionId: 'sink', path: '/tailslow' });
  await settle(gw);

  const slow = await tail(space);
  await waitFor(() => slow.comments.length >= 1, { message: 'the tail to open' });
  slow.pause();
  const rssBefore = statusKiB(gw.proc.pid, 'VmRSS');

  // Many more observations than the tail's rate and ring: every one of them is still
  // routed and delivered while nobody reads the tail.
  const total = 4000;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const payload = { blob: 'x'.repeat(2000) };
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next += 1;
      const res = await emitStructured(gw.eventsUrl, cloudEvent('bulk', payload), { path: '/tailslow', agent });
      assert.equal(res.status, 202, res.text);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  await fn.waitForRequests(total, { timeout: 60000 });
  agent.destroy();
  const grownKiB = statusKiB(gw.proc.pid, 'VmRSS') - rssBefore;
  t.diagnostic(`RSS grew by ${grownKiB} KiB while the tail was not read`);
  // A sanitizer build reserves terabytes of shadow memory and holds freed memory in
  // quarantine: its growth says nothing about the gateway's.
  if (statusKiB(gw.proc.pid, 'VmSize') < 2 ** 30) {
    assert.ok(grownKiB < 32 * 1024, `the gateway grew by ${grownKiB} KiB while the tail was not read`);
  }

  // Reading again: what was skipped is reported, and nothing was lost unaccounted.
  slow.resume();
  const observed = 2 * total;  // received and delivered, per event
  const accounted = () => slow.events.reduce((n, e) => n + (e.event === 'skipped' ? e.data.skipped : 1), 0);
  await waitFor(() => accounted() === observed, {
    timeout: 15000, message: () => `${observed} observations accounted for (have ${accounted()})`,
  });
  const skipped = slow.events.filter((e) => e.event === 'skipped');
  assert.ok(skipped.length > 0);
  for (const s of skipped) assert.equal(s.data.skipped, s.data.rate + s.data.slow);
  const samples = slow.events.filter((e) => e.event !== 'skipped');
  assert.ok(samples.length < total / 2, `${samples.length} samples reached a client that did not read`);
  const text = (await api(gw.configUrl, 'GET', '/v1/metrics')).text;
  assert.ok(Number(/^eventgateway_tail_skipped_total\{reason="rate"\} (\d+)$/m.exec(text)[1]) > 0);
});

test('with access keys the tail needs a key that may read the space', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eg-tail-keys-'));
  trackTempDir(dir);
  const key = (scope) => {
    const k = crypto.randomBytes(16).toString('hex');
    return { k, line: `${crypto.createHash('sha256').update(k).digest('hex')} ${scope}` };
  };
  const reader = key('space:tailkeys:read');
  const other = key('space:elsewhere');
  const file = path.join(dir, 'keys');
  fs.writeFileSync(file, `${reader.line}\n${other.line}\n`);
  const keyed = await startGateway({ args: ['-access-keys', file, '-queue', 'memory'] });
  try {
    const none = await openTail(keyed, 'tailkeys');
    assert.equal(none.status, 401);
    const outOfScope = await openTail(keyed, 'tailkeys', { headers: { authorization: `Bearer ${other.k}` } });
    assert.equal(outOfScope.status, 403);
    const allowed = await openTail(keyed, 'tailkeys', { headers: { authorization: `Bearer ${reader.k}` } });
    tails.push(allowed);
    assert.equal(allowed.status, 200);
    allowed.close();
  } finally {
    // A tail still open ends with the gateway: it stops within its drain bound.
    const code = await keyed.stop();
    assert.equal(code, 0);
  }
});

test('the gateway stops promptly with a tail open', async () => {
  const own = await startGateway({ args: ['-queue', 'memory'] });
  const t = await openTail(own, 'tailstop');
  assert.equal(t.status, 200);
  const started = Date.now();
  assert.equal(await own.stop(), 0);
  assert.ok(Date.now() - started < 5000, `stopped after ${Date.now() - started} ms`);
  await waitFor(() => t.ended, { message: 'the stream to end' });
});
