// A 202 is a promise (spec §5) with the embedded queue: it outlives a function outage, a
// kill -9 of the gateway at any moment, a torn or corrupt log, a full queue and SIGTERM.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startGateway, api, freePort, sleep, trackTempDir } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe, settle,
  emitStructured, cloudEvent, metrics, metricValue, waitFor, header, errorMessage, waitExit,
} from './lib/events_helpers.mjs';
import { idCounter, load } from './lib/load.mjs';

after(async () => {
  await closeServers();
});

const kFastRetries = ['-delivery-backoff-delay', '20ms', '-delivery-max-backoff', '500ms'];

function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  trackTempDir(dir);
  return dir;
}

// An HTTP function on a fixed port that can be stopped and started again (down, up).
async function switchableFunction(onRequest, delayMs = 0) {
  const port = await freePort();
  let server;
  const sockets = new Set();
  const api = {
    url: `http://127.0.0.1:${port}/fn`,
    async up() {
      server = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          onRequest(Buffer.concat(chunks).toString('utf8'));
          setTimeout(() => res.end('{}'), delayMs);
        });
      });
      server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
      await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
    },
    async down() {
      if (!server) return;
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
      server = undefined;
    },
  };
  return api;
}

async function configure(gw, space, url, policy) {
  await createEventType(gw, space, 'load.event');
  await createFunction(gw, space, 'sink', url);
  const body = { type: 'async', eventType: 'load.event', functionId: 'sink', path: `/${space}` };
  if (policy) body.deliveryPolicy = policy;
  await subscribe(gw, space, body);
  await settle(gw);
}

test('a function down for 20 s while thousands of events are accepted: all delivered when it returns', async () => {
  const ids = idCounter();
  const fn = await switchableFunction((body) => ids.add(body));
  // Retries often enough and long enough to outlast the outage (with the defaults, 10
  // retries with full jitter wait about 80 s in all, but some far less).
  const gw = await startGateway({
    args: ['-delivery-retries', '100', '-delivery-backoff-delay', '100ms', '-delivery-max-backoff', '2s'],
  });
  try {
    await configure(gw, 'outage', fn.url);
    const sending = load(gw.eventsUrl, '/outage', 'load.event', { concurrency: 8 });
    await sleep(20000);
    const { accepted, refused } = await sending.stop();
    assert.equal(refused.length, 0, `no 503 while the queue has room: ${refused[0]?.status} ${refused[0]?.text}`);
    assert.ok(accepted.length >= 2000, `thousands accepted (${accepted.length})`);
    assert.equal(ids.counts.size, 0, 'nothing delivered while the function was down');
    const waiting = metricValue(await metrics(gw), 'eventgateway_queue_deliveries');
    assert.ok(waiting >= accepted.length, `${waiting} deliveries queued, ${accepted.length} accepted`);
    await fn.up();
    await waitFor(() => ids.missing(accepted).length === 0, {
      timeout: 30000, interval: 200,
      message: () => `every accepted event delivered (${ids.missing(accepted).length} of ${accepted.length} missing)`,
    });
    console.log(`outage: ${accepted.length} accepted, ${ids.duplicates()} duplicate deliveries`);
    await waitFor(async () => metricValue(await metrics(gw), 'eventgateway_queue_deliveries') === 0,
      { timeout: 10000, message: 'the queue to empty' });
  } finally {
    await fn.down();
    await gw.stop();
  }
});

test('kill -9 at random moments under load, 10 rounds: every 202 reaches the function', async () => {
  const ids = idCounter();
  const fn = await switchableFunction((body) => ids.add(body), 5);
  await fn.up();
  const dataDir = tempDir('eg-kill9-');
  const args = ['-workers', '4', ...kFastRetries];
  const accepted = [];
  for (let round = 1; round <= 10; round++) {
    const gw = await startGateway({ dataDir, args });
    if (round === 1) await configure(gw, 'crash', fn.url);
    // The function (4 workers, 5 ms a call) falls behind, so deliveries wait in the log
    // when the kill comes: while events arrive, or after the last 202.
    const sending = load(gw.eventsUrl, '/crash', 'load.event', { concurrency: 8, limit: 600 });
    await sleep(100 + Math.floor(Math.random() * 1200));
    await gw.kill9();
    const { accepted: these, refused } = await sending.stop();
    assert.equal(refused.length, 0, `round ${round}: ${refused[0]?.status} ${refused[0]?.text}`);
    accepted.push(...these);
  }
  const gw = await startGateway({ dataDir, args });
  try {
    await waitFor(() => ids.missing(accepted).length === 0, {
      timeout: 60000, interval: 200,
      message: () => `every accepted event delivered (${ids.missing(accepted).length} of ${accepted.length} missing)`,
    });
    console.log(`kill -9 x10: ${accepted.length} accepted, all delivered, ${ids.duplicates()} duplicate deliveries`);
    assert.ok(accepted.length > 1000, `enough load to mean something (${accepted.length})`);
  } finally {
    await gw.stop();
    await fn.down();
  }
});

// Queues `count` events for a function that is down, then kills the gateway: what is
// left is the log of those deliveries. Answers the data dir and the accepted IDs.
async function queueAndKill(space, count) {
  const dataDir = tempDir(`eg-${space}-`);
  const gw = await startGateway({ dataDir, args: kFastRetries });
  await configure(gw, space, `http://127.0.0.1:${await freePort()}/down`);
  const accepted = [];
  for (let i = 0; i < count; i++) {
    const event = cloudEvent('load.event', { i });
    const res = await emitStructured(gw.eventsUrl, event, { path: `/${space}` });
    assert.equal(res.status, 202, res.text);
    accepted.push(event.eventID);
  }
  await gw.kill9();
  return { dataDir, accepted };
}

function newestSegment(dataDir) {
  const dir = path.join(dataDir, 'queue');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();
  return path.join(dir, files[files.length - 1]);
}

// Restarts on `dataDir`, points the function at a live server and waits for deliveries.
async function restartAndDeliver(dataDir, space, expectAtLeast, accepted) {
  const ids = idCounter();
  const fn = await functionServer((req) => { ids.add(req.body); return { body: {} }; });
  const gw = await startGateway({ dataDir, args: kFastRetries });
  try {
    const put = await api(gw.configUrl, 'PUT', `/v1/spaces/${space}/functions/sink`,
      { type: 'http', provider: { url: fn.url } });
    assert.equal(put.status, 200, put.text);
    await waitFor(() => ids.counts.size >= expectAtLeast, {
      timeout: 15000, message: () => `${expectAtLeast} deliveries after the restart (have ${ids.counts.size})`,
    });
    for (const id of ids.counts.keys()) assert.ok(accepted.includes(id), `${id} was accepted`);
    // Still serving: a new event is accepted and delivered.
    const late = cloudEvent('load.event', { late: true });
    assert.equal((await emitStructured(gw.eventsUrl, late, { path: `/${space}` })).status, 202);
    await waitFor(() => ids.counts.has(late.eventID), { message: 'a new event after the restart' });
    return { gw, ids };
  } catch (err) {
    await gw.stop();
    throw err;
  }
}

test('a log truncated mid-record: the torn tail is cut off, the intact deliveries are made', async () => {
  const { dataDir, accepted } = await queueAndKill('torn', 30);
  const segment = newestSegment(dataDir);
  fs.truncateSync(segment, fs.statSync(segment).size - 7);
  const { gw, ids } = await restartAndDeliver(dataDir, 'torn', 29, accepted);
  try {
    assert.match(gw.logs(), /cut off the \d+ byte\(s\)/);
    assert.ok(ids.counts.size >= 29);
  } finally {
    await gw.stop();
  }
});

test('a log with garbage appended: the garbage is cut off, every delivery is made', async () => {
  const { dataDir, accepted } = await queueAndKill('garbage', 30);
  fs.appendFileSync(newestSegment(dataDir), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256)));
  const { gw, ids } = await restartAndDeliver(dataDir, 'garbage', 30, accepted);
  try {
    assert.match(gw.logs(), /cut off the \d+ byte\(s\)/);
    assert.deepEqual(ids.missing(accepted), []);
  } finally {
    await gw.stop();
  }
});

test('a full queue answers 503 with Retry-After; every event answered 202 is delivered', async () => {
  const ids = idCounter();
  const fn = await switchableFunction((body) => ids.add(body));
  const gw = await startGateway({ args: ['-queue-max-bytes', '1048576', ...kFastRetries] });
  try {
    await configure(gw, 'full', fn.url);
    const droppedBefore = metricValue(await metrics(gw), 'eventgateway_events_dropped_total', { space: 'full' });
    const { accepted, refused } = await load(gw.eventsUrl, '/full', 'load.event', { concurrency: 4, limit: 300, size: 8000 }).done;
    assert.ok(accepted.length > 50, `${accepted.length} accepted`);
    assert.ok(refused.length > 0, '300 events of 8 KB do not fit 1 MiB');
    for (const res of refused) {
      assert.equal(res.status, 503, res.text);
      assert.ok(Number(header(res, 'retry-after')) > 0);
      assert.match(JSON.parse(res.text).errors[0].message, /full/);
    }
    const dropped = metricValue(await metrics(gw), 'eventgateway_events_dropped_total', { space: 'full' }) - droppedBefore;
    assert.equal(dropped, refused.length);
    await fn.up();
    await waitFor(() => ids.missing(accepted).length === 0, {
      timeout: 20000, message: () => `${ids.missing(accepted).length} of ${accepted.length} accepted events undelivered`,
    });
    // And there is room again.
    await waitFor(async () => (await emitStructured(gw.eventsUrl, cloudEvent('load.event'), { path: '/full' })).status === 202,
      { timeout: 10000, message: 'room in the queue again' });
  } finally {
    await fn.down();
    await gw.stop();
  }
});

test('SIGTERM: calls in flight finish, the rest stays queued and is delivered after the restart', async () => {
  const ids = idCounter();
  const fn = await switchableFunction((body) => ids.add(body), 1500);
  await fn.up();
  const dataDir = tempDir('eg-sigterm-');
  let gw = await startGateway({ dataDir, args: ['-workers', '1'] });
  try {
    await configure(gw, 'term', fn.url);
    const accepted = [];
    for (let i = 0; i < 6; i++) {
      const event = cloudEvent('load.event', { i });
      assert.equal((await emitStructured(gw.eventsUrl, event, { path: '/term' })).status, 202);
      accepted.push(event.eventID);
    }
    await waitFor(() => ids.counts.size >= 1, { message: 'the first call under way' });
    const signalled = Date.now();
    const exited = waitExit(gw.proc, 20000);
    gw.proc.kill('SIGTERM');
    assert.equal(await exited, 0, gw.logs());
    const took = Date.now() - signalled;
    assert.ok(took < 5000, `SIGTERM waits for the call in flight, not for the queue (${took} ms)`);
    assert.ok(ids.counts.size < accepted.length, 'deliveries were left for the next start');
    assert.match(gw.logs(), /stay queued for the next start/);

    gw = await startGateway({ dataDir, args: ['-workers', '4'] });
    await waitFor(() => ids.missing(accepted).length === 0, {
      timeout: 20000, message: () => `${ids.missing(accepted).length} undelivered after the restart`,
    });
    // Draining refuses new events meanwhile: checked on the second instance.
    const refusing = waitExit(gw.proc, 20000);
    gw.proc.kill('SIGTERM');
    await refusing;
  } finally {
    await gw.stop().catch(() => {});
    await fn.down();
  }
});
