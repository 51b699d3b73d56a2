// Events API under failure and load (spec §1, §3.2, §3.7): hanging and unreachable
// functions, body limits, slow clients, a full delivery queue, and draining on SIGTERM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startGateway, freePort } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe, settle, send,
  emitStructured, cloudEvent, errorMessage, received, quietPeriod, header, metrics, metricValue,
  waitExit, waitFor, rawConnection,
} from './lib/events_helpers.mjs';

// The slow-loris gateway runs with a short -read-timeout so the test stays quick; the
// client runs in the background while the other tests run.
const kReadTimeoutMs = 3000;

let gw;
let loris;  // Promise of the slow-loris outcome, started in before()
before(async () => {
  gw = await startGateway();
  const lorisGw = await startGateway({ args: [`-read-timeout=${kReadTimeoutMs}ms`] });
  loris = slowLoris(lorisGw);
  loris.catch(() => {});  // awaited by its test; never an unhandled rejection meanwhile
});
after(async () => {
  await closeServers();
  await gw?.stop();
});

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Sends a request's header bytes one line a second and never finishes it. Resolves
// {closedAfterMs, servedMeanwhile} once the gateway closes the connection; a normal
// request is made while the slow one is open.
function slowLoris(lorisGw) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(lorisGw.eventsPort, '127.0.0.1');
    let timer;
    let servedMeanwhile;
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(guard);
      socket.destroy();
      const result = { closedAfterMs: Date.now() - started, servedMeanwhile };
      lorisGw.stop().catch(() => {}).then(() => (err ? reject(err) : resolve(result)));
    };
    const guard = setTimeout(() => finish(new Error(`slow client still connected after ${kReadTimeoutMs + 15000} ms`)),
      kReadTimeoutMs + 15000);
    socket.on('connect', () => {
      socket.write('GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      let n = 0;
      timer = setInterval(() => {
        n += 1;
        if (!socket.destroyed) socket.write(`X-Slow-${n}: ${'a'.repeat(8)}\r\n`);
        if (n === 2) {
          send(lorisGw.eventsUrl, { method: 'GET', path: '/normal' })
            .then((r) => { servedMeanwhile = r.status; }, (e) => { servedMeanwhile = String(e); });
        }
      }, 500);
    });
    socket.on('data', () => {});  // a 408 answer before closing is fine
    socket.on('error', () => finish());
    socket.on('close', () => finish());
  });
}

// Sends a POST of `size` bytes on a raw socket and resolves to everything the gateway
// answered once the connection closed. The body follows the headers at once, a chunk at
// a time, and stops when an answer arrives, as curl does; with `expectContinue` the body
// waits for "100 Continue" instead.
function rawOversized(port, path, size, { expectContinue = false } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    const guard = setTimeout(() => { socket.destroy(); reject(new Error(`no close within 20 s; got ${answer.slice(0, 200)}`)); }, 20000);
    const chunk = Buffer.alloc(64 * 1024, 7);
    let sent = 0;
    const pump = () => {
      if (answer !== '' && !answer.startsWith('HTTP/1.1 100')) return;
      if (sent >= size || socket.destroyed) return;
      sent += chunk.length;
      if (socket.write(chunk)) setImmediate(pump); else socket.once('drain', pump);
    };
    socket.on('data', (c) => {
      const first = answer === '';
      answer += c.toString('latin1');
      if (first && expectContinue && answer.startsWith('HTTP/1.1 100')) {
        answer = answer.replace(/^HTTP\/1\.1 100[^\r]*\r\n\r\n/, '');
        pump();
      }
    });
    socket.on('error', () => {});  // EPIPE/ECONNRESET once the gateway closed: expected
    socket.on('close', () => { clearTimeout(guard); resolve(answer); });
    socket.on('connect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n` +
        `Content-Length: ${size}\r\n${expectContinue ? 'Expect: 100-continue\r\n' : ''}\r\n`);
      if (!expectContinue) pump();
    });
  });
}

test('a hanging function times out with 500 while other requests are served', async () => {
  const hanging = await functionServer(() => new Promise(() => {}));
  const fast = await functionServer(() => ({ body: { statusCode: 200, body: 'fast' } }));
  await createEventType(gw, 'hang', 'http.request');
  await createFunction(gw, 'hang', 'hanging', hanging.url, { timeout: 1000 });
  await createFunction(gw, 'hang', 'fast', fast.url);
  await subscribe(gw, 'hang', { type: 'sync', eventType: 'http.request', functionId: 'hanging', method: 'GET', path: '/hang' });
  await subscribe(gw, 'hang', { type: 'sync', eventType: 'http.request', functionId: 'fast', method: 'GET', path: '/fast' });
  await settle(gw);

  const started = Date.now();
  let hangsDoneAt = 0;
  const hangs = Promise.all([1, 2, 3, 4, 5].map(() => send(gw.eventsUrl, { method: 'GET', path: '/hang' })))
    .then((all) => { hangsDoneAt = Date.now(); return all; });
  await hanging.waitForRequests(5);
  const fastTimes = [];
  for (let i = 0; i < 5; i++) {
    const res = await send(gw.eventsUrl, { method: 'GET', path: '/fast' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'fast');
    fastTimes.push(Date.now());
  }
  const results = await hangs;
  const elapsed = hangsDoneAt - started;
  for (const res of results) {
    assert.equal(res.status, 500, res.text);
    assert.equal(errorMessage(res), 'Function call failed. Please check logs.');
  }
  assert.ok(elapsed >= 950, `the timeout is 1000 ms, answered after ${elapsed} ms`);
  assert.ok(elapsed < 4000, `five hanging calls time out together, not one after another (${elapsed} ms)`);
  assert.ok(fastTimes.every((t) => t < hangsDoneAt), 'fast requests were answered while the slow ones hung');
});

test('an unreachable function: 500 for sync, 202 for async and an invocationFailed system event', async () => {
  const port = await freePort();  // nothing listens there
  const watcher = await functionServer();
  await createEventType(gw, 'unreach', 'http.request');
  await createEventType(gw, 'unreach', 'unreach.event');
  await createEventType(gw, 'unreach', 'eventgateway.function.invocationFailed');
  await createFunction(gw, 'unreach', 'gone', `http://127.0.0.1:${port}/fn`, { connectTimeout: 1000, timeout: 2000 });
  await createFunction(gw, 'unreach', 'watcher', watcher.url);
  await subscribe(gw, 'unreach', { type: 'sync', eventType: 'http.request', functionId: 'gone', method: 'GET', path: '/unreach' });
  await subscribe(gw, 'unreach', { type: 'async', eventType: 'unreach.event', functionId: 'gone', path: '/unreach' });
  await subscribe(gw, 'unreach', { type: 'async', eventType: 'eventgateway.function.invocationFailed', functionId: 'watcher' });
  await settle(gw);

  const sync = await send(gw.eventsUrl, { method: 'GET', path: '/unreach' });
  assert.equal(sync.status, 500, sync.text);
  assert.deepEqual(sync.json, { errors: [{ message: 'Function call failed. Please check logs.' }] });

  const sent = cloudEvent('unreach.event', { x: 1 });
  const res = await emitStructured(gw.eventsUrl, sent, { path: '/unreach' });
  assert.equal(res.status, 202, res.text);

  const failure = await waitFor(() => received(watcher).find((e) => e.data?.event?.eventID === sent.eventID),
    { message: () => `invocationFailed for ${sent.eventID} (watcher got ${watcher.requests.length})` });
  assert.equal(failure.eventType, 'eventgateway.function.invocationFailed');
  assert.equal(failure.data.functionId, 'gone');
  assert.equal(failure.data.space, 'unreach');
  assert.equal(typeof failure.data.error?.message, 'string');
  assert.ok(failure.data.error.message.length > 0);
  assert.deepEqual(failure.data.event.data, { x: 1 });
  // The sync call's failure is announced too.
  await waitFor(() => received(watcher).some((e) => e.data?.event?.eventType === 'http.request'),
    { message: 'invocationFailed for the sync call' });
});

test('a body over the 6 MiB default limit gets 413; one just under it is delivered', async () => {
  const fn = await functionServer((req) => {
    const event = JSON.parse(req.body);
    return { body: { statusCode: 200, body: String(Buffer.from(event.data.body, 'base64').length) } };
  });
  await createEventType(gw, 'big', 'http.request');
  await createFunction(gw, 'big', 'sizer', fn.url);
  await subscribe(gw, 'big', { type: 'sync', eventType: 'http.request', functionId: 'sizer', method: 'POST', path: '/big' });
  await settle(gw);

  const under = 6 * 1024 * 1024 - 64 * 1024;
  const ok = await send(gw.eventsUrl, {
    path: '/big', headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(under, 7), timeout: 20000,
  });
  assert.equal(ok.status, 200, ok.text.slice(0, 200));
  assert.equal(ok.text, String(under));

  // The gateway answers as soon as it sees Content-Length and closes; node's http
  // client drops an answer that arrives while it is still writing, so a raw socket
  // reads it.
  const answer = await rawOversized(gw.eventsPort, '/big', 10 * 1024 * 1024);
  assert.match(answer, /^HTTP\/1\.1 413 /, JSON.stringify(answer.slice(0, 200)));
  const expected = await rawOversized(gw.eventsPort, '/big', 10 * 1024 * 1024, { expectContinue: true });
  assert.match(expected, /^HTTP\/1\.1 413 /, `with Expect: 100-continue: ${JSON.stringify(expected.slice(0, 200))}`);
  assert.equal(fn.requests.length, 1, 'the oversized request never reached the function');
});

test('a full memory queue refuses events with 503 + Retry-After; every 202 is delivered', async () => {
  const slow = await functionServer(async () => { await delay(300); return { body: { ok: true } }; });
  const bgw = await startGateway({ args: ['-queue', 'memory', '-workers', '1', '-workers-backlog', '2'] });
  try {
    await createEventType(bgw, 'backlog', 'back.event');
    for (const id of ['s1', 's2', 's3']) {
      await createFunction(bgw, 'backlog', id, `${slow.url}/${id}`);
      await subscribe(bgw, 'backlog', { type: 'async', eventType: 'back.event', functionId: id, path: '/back' });
    }
    await settle(bgw);
    const droppedBefore = metricValue(await metrics(bgw), 'eventgateway_events_dropped_total', { space: 'backlog' });

    const accepted = [];
    let refused = 0;
    for (let i = 0; i < 8; i++) {
      const sent = cloudEvent('back.event', { i });
      const res = await emitStructured(bgw.eventsUrl, sent, { path: '/back' });
      if (res.status === 202) {
        accepted.push(sent.eventID);
      } else {
        assert.equal(res.status, 503, res.text);
        const retryAfter = header(res, 'retry-after');
        assert.ok(retryAfter !== undefined && Number(retryAfter) > 0, `Retry-After: ${retryAfter}`);
        errorMessage(res);
        refused += 1;
      }
    }
    assert.ok(accepted.length >= 1, 'the first event fits the queue');
    assert.ok(refused >= 1, `with 1 worker and a backlog of 2, 8 events of 3 deliveries cannot all fit (refused ${refused})`);

    const expected = 3 * accepted.length;
    await waitFor(() => slow.requests.length >= expected,
      { timeout: expected * 300 + 5000, message: () => `${expected} deliveries (have ${slow.requests.length})` });
    await quietPeriod();
    assert.equal(slow.requests.length, expected, 'nothing refused was delivered');
    for (const id of ['s1', 's2', 's3']) {
      const got = slow.requests.filter((r) => r.url === `/${id}`).map((r) => JSON.parse(r.body).eventID).sort();
      assert.deepEqual(got, [...accepted].sort(), `subscriber ${id} got every accepted event once`);
    }
    const text = await metrics(bgw);
    const dropped = metricValue(text, 'eventgateway_events_dropped_total', { space: 'backlog' }) - droppedBefore;
    assert.ok(dropped >= refused, `eventgateway_events_dropped_total grew by ${dropped}, ${refused} event(s) refused`);
    await waitFor(async () => metricValue(await metrics(bgw), 'eventgateway_events_backlog') === 0,
      { message: 'eventgateway_events_backlog back to 0' });
  } finally {
    await bgw.stop();
  }
});

// A structured CloudEvent POST to `path`, as raw request text.
function eventRequest(event, path) {
  const body = JSON.stringify(event);
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/cloudevents+json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

test('SIGTERM with -queue memory: while queued deliveries drain, the listeners stay open and events get 503 + Connection: close; then exit 0', async () => {
  const slow = await functionServer(async () => { await delay(500); return { body: { ok: true } }; });
  const dgw = await startGateway({ args: ['-queue', 'memory', '-workers', '1'] });
  const raw = [];
  try {
    await createEventType(dgw, 'drain', 'drain.event');
    for (const id of ['d1', 'd2', 'd3']) {
      await createFunction(dgw, 'drain', id, `${slow.url}/${id}`);
      await subscribe(dgw, 'drain', { type: 'async', eventType: 'drain.event', functionId: id, path: '/drain' });
    }
    await settle(dgw);

    // A connection kept alive from before the signal, idle when it arrives. Events of a
    // type nobody subscribed to add no delivery: 202 before the signal, 503 after.
    const kept = await rawConnection(dgw.eventsPort);
    raw.push(kept);
    const first = await kept.exchange(eventRequest(cloudEvent('drain.unsubscribed'), '/drain'));
    assert.equal(first.status, 202, first.text);
    assert.notEqual(first.headers.connection, 'close');
    // A request begun before the signal: its connection is not idle.
    const pending = await rawConnection(dgw.eventsPort);
    raw.push(pending);
    pending.socket.write('POST /drain HTTP/1.1\r\n');

    for (let i = 0; i < 2; i++) {
      const res = await emitStructured(dgw.eventsUrl, cloudEvent('drain.event', { i }), { path: '/drain' });
      assert.equal(res.status, 202, res.text);
    }
    await slow.waitForRequests(1);
    assert.ok(slow.requests.length < 6, 'deliveries are still queued when the signal arrives');
    const exited = waitExit(dgw.proc, 20000);
    dgw.proc.kill('SIGTERM');

    // (a) A fresh connection gets an answer, not a refusal: 503 once the gateway drains.
    let fresh;
    await waitFor(async () => {
      fresh = await send(dgw.eventsUrl, {
        path: '/drain', agent: false, body: JSON.stringify(cloudEvent('drain.unsubscribed')),
        headers: { 'Content-Type': 'application/cloudevents+json' },
      });
      return fresh.status === 503;
    }, { timeout: 3000, message: () => `the gateway to start draining (last ${fresh?.status})` });
    assert.equal(header(fresh, 'connection'), 'close');
    assert.equal(header(fresh, 'retry-after'), '1');
    assert.equal(errorMessage(fresh), 'gateway is shutting down');

    // (b) The kept-alive connection: 503 with Connection: close, then the gateway closes it.
    const late = await kept.exchange(eventRequest(cloudEvent('drain.event', { late: true }), '/drain'));
    assert.equal(late.status, 503, late.text);
    assert.equal(late.headers.connection, 'close');
    assert.equal(errorMessage(late), 'gateway is shutting down');
    await waitFor(() => kept.closed, { timeout: 3000, message: 'the gateway to close the kept-alive connection' });

    // The request begun before the signal, finished now: the same.
    const body = JSON.stringify(cloudEvent('drain.event', { late: true }));
    const finished = await pending.exchange('Host: 127.0.0.1\r\nContent-Type: application/cloudevents+json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    assert.equal(finished.status, 503, finished.text);
    assert.equal(finished.headers.connection, 'close');
    await waitFor(() => pending.closed, { timeout: 3000, message: 'the gateway to close the pending connection' });

    // The Config API serves on during the drain, closing each connection after its answer.
    const status = await send(dgw.configUrl, { method: 'GET', path: '/v1/status', agent: false });
    assert.equal(status.status, 200, status.text);
    assert.equal(header(status, 'connection'), 'close');
    assert.ok(slow.requests.length < 6, 'all of the above happened while deliveries were draining');

    // (c) Exit 0 once every queued delivery is made; both listeners are closed.
    const code = await exited;
    assert.equal(code, 0, dgw.logs());
    assert.equal(slow.requests.length, 6, 'every queued delivery completed before exit');
    for (const port of [dgw.eventsPort, dgw.configPort]) {
      await assert.rejects(rawConnection(port), { code: 'ECONNREFUSED' }, `port ${port} is closed`);
    }
  } finally {
    for (const conn of raw) conn.socket.destroy();
    await dgw.stop().catch(() => {});
  }
});

test('a slow-loris client is disconnected while normal requests are served', async () => {
  const outcome = await loris;
  assert.equal(outcome.servedMeanwhile, 404, 'a normal request was answered while the slow one was open');
  assert.ok(outcome.closedAfterMs <= kReadTimeoutMs + 5000, `disconnected after ${outcome.closedAfterMs} ms`);
  assert.ok(outcome.closedAfterMs >= kReadTimeoutMs - 100, `disconnected after ${outcome.closedAfterMs} ms, before its read timeout`);
});
