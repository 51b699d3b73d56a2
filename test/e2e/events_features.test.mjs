// Events API features (spec §3.4–§3.6, §2.5): authorizers, CORS, system events and the
// events metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe, settle, send, create,
  emitStructured, cloudEvent, errorMessage, received, quietPeriod, header, metrics, metricValue, waitFor,
} from './lib/events_helpers.mjs';

let gw;
before(async () => { gw = await startGateway(); });
after(async () => {
  await closeServers();
  await gw?.stop();
});

// An authorizer that allows events whose data.allow is true, refuses the others, and
// answers garbage or fails when data.mode says so.
async function authorizerServer() {
  return functionServer((req) => {
    const { event } = JSON.parse(req.body);
    const mode = event?.data?.mode;
    if (mode === 'garbage') return { headers: { 'content-type': 'text/plain' }, body: 'not json' };
    if (mode === 'fail') return { status: 500, body: 'authorizer crashed' };
    if (event?.data?.allow === true) {
      return { body: { authorization: { principalId: 'user-1', context: { role: 'admin' } } } };
    }
    return { body: { error: { message: 'denied by policy' } } };
  });
}

test('authorizer: async delivery gets extensions.eventgateway.authorization; refused ones are skipped', async () => {
  const auth = await authorizerServer();
  const target = await functionServer();
  await createFunction(gw, 'authasync', 'authorizer', auth.url);
  await createFunction(gw, 'authasync', 'target', target.url);
  await createEventType(gw, 'authasync', 'auth.event', { authorizerId: 'authorizer' });
  await subscribe(gw, 'authasync', { type: 'async', eventType: 'auth.event', functionId: 'target', path: '/auth' });
  await settle(gw);

  const allowed = cloudEvent('auth.event', { allow: true });
  const res = await emitStructured(gw.eventsUrl, allowed, { path: '/auth', headers: { 'X-Token': 'secret-1' } });
  assert.equal(res.status, 202, res.text);
  await target.waitForRequests(1);
  const delivered = received(target)[0];
  assert.equal(delivered.eventID, allowed.eventID);
  assert.deepEqual(delivered.extensions?.eventgateway?.authorization,
    { principalId: 'user-1', context: { role: 'admin' } });

  // The authorizer saw the event and the original request.
  const call = JSON.parse(auth.requests[0].body);
  assert.equal(call.event.eventID, allowed.eventID);
  assert.equal(call.request.path, '/auth');
  assert.equal(call.request.method, 'POST');
  assert.equal(call.request.headers['X-Token'], 'secret-1');

  for (const data of [{ allow: false }, { mode: 'garbage' }, { mode: 'fail' }]) {
    const before = auth.requests.length;
    const refused = await emitStructured(gw.eventsUrl, cloudEvent('auth.event', data), { path: '/auth' });
    assert.equal(refused.status, 202, refused.text);
    await auth.waitForRequests(before + 1);
    await quietPeriod();
    assert.equal(target.requests.length, 1, `${JSON.stringify(data)}: an unauthorised delivery is skipped`);
  }
});

test('authorizer: sync subscription answers 403 when refused, calls the function when allowed', async () => {
  const auth = await authorizerServer();
  const target = await functionServer((req) => {
    const event = JSON.parse(req.body);
    return { body: { statusCode: 200, body: JSON.stringify(event.extensions?.eventgateway?.authorization ?? null) } };
  });
  await createFunction(gw, 'authsync', 'authorizer', auth.url);
  await createFunction(gw, 'authsync', 'target', target.url);
  await createEventType(gw, 'authsync', 'auth.sync', { authorizerId: 'authorizer' });
  await subscribe(gw, 'authsync', { type: 'sync', eventType: 'auth.sync', functionId: 'target', path: '/authsync' });
  await settle(gw);

  const ok = await emitStructured(gw.eventsUrl, cloudEvent('auth.sync', { allow: true }), { path: '/authsync' });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(JSON.parse(ok.text), { principalId: 'user-1', context: { role: 'admin' } });

  for (const data of [{ allow: false }, { mode: 'garbage' }, { mode: 'fail' }]) {
    const res = await emitStructured(gw.eventsUrl, cloudEvent('auth.sync', data), { path: '/authsync' });
    assert.equal(res.status, 403, `${JSON.stringify(data)}: ${res.text}`);
    errorMessage(res);
  }
  assert.equal(target.requests.length, 1, 'refused events never reach the function');
});

// --- CORS (§3.5) ---

function preflight(path, origin, method = 'GET', requestHeaders) {
  const headers = { Origin: origin, 'Access-Control-Request-Method': method };
  if (requestHeaders) headers['Access-Control-Request-Headers'] = requestHeaders;
  return send(gw.eventsUrl, { method: 'OPTIONS', path, headers });
}

function listHeader(res, name) {
  return (header(res, name) ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
}

async function syncGet(space, path, server) {
  await createFunction(gw, space, `fn${path.replace(/\W/g, '-')}`, server.url);
  await subscribe(gw, space, { type: 'sync', eventType: 'http.request', functionId: `fn${path.replace(/\W/g, '-')}`, method: 'GET', path });
}

test('CORS resource: preflight answered from the configuration; origins matched', async () => {
  const fn = await functionServer(() => ({ body: { statusCode: 200, body: 'ok' } }));
  await createEventType(gw, 'corsspace', 'http.request');
  await syncGet('corsspace', '/cors-test', fn);
  await syncGet('corsspace', '/cors-wild', fn);
  await syncGet('corsspace', '/cors-cred', fn);
  await create(gw, 'corsspace', 'cors', { method: 'GET', path: '/cors-test', allowedOrigins: ['http://example.com'] });
  await create(gw, 'corsspace', 'cors', { method: 'GET', path: '/cors-wild', allowedOrigins: ['http://*.example.com'] });
  await create(gw, 'corsspace', 'cors', {
    method: 'GET', path: '/cors-cred', allowedOrigins: ['*'], allowedMethods: ['GET', 'PUT'],
    allowedHeaders: ['X-Custom'], allowCredentials: true,
  });
  await settle(gw);

  const pre = await preflight('/cors-test', 'http://example.com', 'GET', 'Content-Type');
  assert.ok(pre.status >= 200 && pre.status < 300, `preflight answered ${pre.status} ${pre.text}`);
  assert.equal(header(pre, 'access-control-allow-origin'), 'http://example.com');
  assert.ok(listHeader(pre, 'access-control-allow-methods').includes('get'), 'the requested method is allowed');
  assert.ok(listHeader(pre, 'access-control-allow-headers').includes('content-type'), 'the requested header is allowed');
  const badHeader = await preflight('/cors-test', 'http://example.com', 'GET', 'X-Not-Allowed');
  assert.ok(!listHeader(badHeader, 'access-control-allow-headers').includes('x-not-allowed'),
    'a header outside allowedHeaders is not allowed');
  assert.equal(fn.requests.length, 0, 'the gateway answers preflights itself');

  const ok = await send(gw.eventsUrl, { method: 'GET', path: '/cors-test', headers: { Origin: 'http://example.com' } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(header(ok, 'access-control-allow-origin'), 'http://example.com');
  const other = await send(gw.eventsUrl, { method: 'GET', path: '/cors-test', headers: { Origin: 'http://evil.com' } });
  assert.equal(other.status, 200, other.text);
  assert.equal(header(other, 'access-control-allow-origin'), undefined, 'a non-matching origin gets no CORS headers');
  const otherPre = await preflight('/cors-test', 'http://evil.com');
  assert.equal(header(otherPre, 'access-control-allow-origin'), undefined);

  const sub = await send(gw.eventsUrl, { method: 'GET', path: '/cors-wild', headers: { Origin: 'http://a.example.com' } });
  assert.equal(header(sub, 'access-control-allow-origin'), 'http://a.example.com');
  const notSub = await send(gw.eventsUrl, { method: 'GET', path: '/cors-wild', headers: { Origin: 'http://example.org' } });
  assert.equal(header(notSub, 'access-control-allow-origin'), undefined);

  const credPre = await preflight('/cors-cred', 'http://anyone.test', 'GET', 'X-Custom');
  assert.ok(['*', 'http://anyone.test'].includes(header(credPre, 'access-control-allow-origin')));
  assert.ok(listHeader(credPre, 'access-control-allow-methods').includes('get'));
  assert.ok(listHeader(credPre, 'access-control-allow-headers').includes('x-custom'));
  assert.equal(header(credPre, 'access-control-allow-credentials'), 'true');
  const cred = await send(gw.eventsUrl, { method: 'GET', path: '/cors-cred', headers: { Origin: 'http://anyone.test' } });
  assert.equal(header(cred, 'access-control-allow-credentials'), 'true');
  // With credentials a browser refuses "*": the origin itself must be echoed.
  assert.equal(header(cred, 'access-control-allow-origin'), 'http://anyone.test');
});

test('CORS: a Gen 1 http subscription\'s cors applies; no configuration sends no CORS headers', async () => {
  const fn = await functionServer(() => ({ body: { statusCode: 200, body: 'gen1' } }));
  await createFunction(gw, 'corsgen1', 'fn', fn.url);
  await subscribe(gw, 'corsgen1', { functionId: 'fn', event: 'http', method: 'GET', path: '/gen1-cors', cors: {} });
  await subscribe(gw, 'corsgen1', { functionId: 'fn', event: 'http', method: 'GET', path: '/gen1-only', cors: { origins: ['http://only.me'] } });
  await subscribe(gw, 'corsgen1', { functionId: 'fn', event: 'http', method: 'GET', path: '/no-cors' });
  await subscribe(gw, 'corsgen1', { functionId: 'fn', event: 'gen1.custom', path: '/gen1-custom' });
  await settle(gw);

  const any = await send(gw.eventsUrl, { method: 'GET', path: '/gen1-cors', headers: { Origin: 'http://whoever.test' } });
  assert.equal(any.status, 200, any.text);
  assert.ok(['*', 'http://whoever.test'].includes(header(any, 'access-control-allow-origin')),
    `default cors accepts any origin: ${header(any, 'access-control-allow-origin')}`);
  const pre = await preflight('/gen1-cors', 'http://whoever.test');
  assert.ok(pre.status >= 200 && pre.status < 300, `${pre.status}`);
  assert.ok(header(pre, 'access-control-allow-origin') !== undefined);
  assert.ok(listHeader(pre, 'access-control-allow-methods').includes('get'));

  const only = await send(gw.eventsUrl, { method: 'GET', path: '/gen1-only', headers: { Origin: 'http://only.me' } });
  assert.equal(header(only, 'access-control-allow-origin'), 'http://only.me');
  const notOnly = await send(gw.eventsUrl, { method: 'GET', path: '/gen1-only', headers: { Origin: 'http://else.where' } });
  assert.equal(header(notOnly, 'access-control-allow-origin'), undefined);

  const none = await send(gw.eventsUrl, { method: 'GET', path: '/no-cors', headers: { Origin: 'http://whoever.test' } });
  assert.equal(none.status, 200, none.text);
  for (const name of Object.keys(none.headers)) {
    assert.ok(!name.toLowerCase().startsWith('access-control-'), `unexpected ${name}`);
  }
  const nonePre = await preflight('/no-cors', 'http://whoever.test');
  for (const name of Object.keys(nonePre.headers)) {
    assert.ok(!name.toLowerCase().startsWith('access-control-'), `unexpected ${name} on a preflight without configuration`);
  }

  // Gen 1 custom events accept any origin.
  const custom = await send(gw.eventsUrl, {
    path: '/gen1-custom', headers: { Origin: 'http://whoever.test', Event: 'gen1.custom', 'Content-Type': 'application/json' }, body: '{}',
  });
  assert.equal(custom.status, 202, custom.text);
  assert.ok(['*', 'http://whoever.test'].includes(header(custom, 'access-control-allow-origin')));
});

// --- System events (§3.6) ---

test('system events: Gen 2 and Gen 1 names both reach their subscribers, without loops', async () => {
  const target = await functionServer(() => ({ headers: { 'content-type': 'text/plain' }, body: 'target result' }));
  const gen2 = await functionServer();
  const gen1 = await functionServer();
  const invoking = await functionServer();
  const receivedSub = await functionServer();
  const space = 'sys';
  await createFunction(gw, space, 'target', target.url);
  await createFunction(gw, space, 'gen2-watcher', gen2.url);
  await createFunction(gw, space, 'gen1-watcher', gen1.url);
  await createFunction(gw, space, 'invoking-watcher', invoking.url);
  await createFunction(gw, space, 'received-watcher', receivedSub.url);
  await createEventType(gw, space, 'sys.trigger');
  for (const t of ['eventgateway.function.invoked', 'eventgateway.function.invoking', 'eventgateway.event.received']) {
    await createEventType(gw, space, t);
  }
  await subscribe(gw, space, { type: 'async', eventType: 'sys.trigger', functionId: 'target', path: '/sys' });
  await subscribe(gw, space, { type: 'async', eventType: 'eventgateway.function.invoked', functionId: 'gen2-watcher' });
  await subscribe(gw, space, { event: 'gateway.function.invoked', functionId: 'gen1-watcher' });
  await subscribe(gw, space, { type: 'async', eventType: 'eventgateway.function.invoking', functionId: 'invoking-watcher' });
  await subscribe(gw, space, { type: 'async', eventType: 'eventgateway.event.received', functionId: 'received-watcher' });
  await settle(gw);

  const sent = cloudEvent('sys.trigger', { hello: 'system' });
  const res = await emitStructured(gw.eventsUrl, sent, { path: '/sys', headers: { 'X-Marker': 'sys-1' } });
  assert.equal(res.status, 202, res.text);
  await target.waitForRequests(1);

  const about = (server) => () => received(server).filter((e) => e.data?.event?.eventID === sent.eventID);
  const [g2] = await waitFor(() => about(gen2)().length > 0 && about(gen2)(), { message: 'eventgateway.function.invoked' });
  assert.equal(g2.eventType, 'eventgateway.function.invoked');
  assert.equal(g2.data.functionId, 'target');
  assert.equal(g2.data.space, 'sys');
  assert.equal(g2.data.result, 'target result');
  assert.deepEqual(g2.data.event.data, { hello: 'system' });

  const [g1] = await waitFor(() => about(gen1)().length > 0 && about(gen1)(), { message: 'gateway.function.invoked' });
  assert.equal(g1.eventType, 'gateway.function.invoked');
  assert.equal(g1.data.functionId, 'target');

  const [inv] = await waitFor(() => about(invoking)().length > 0 && about(invoking)(), { message: 'eventgateway.function.invoking' });
  assert.equal(inv.eventType, 'eventgateway.function.invoking');
  assert.equal(inv.data.functionId, 'target');

  const [rec] = await waitFor(() => about(receivedSub)().length > 0 && about(receivedSub)(), { message: 'eventgateway.event.received' });
  assert.equal(rec.eventType, 'eventgateway.event.received');
  assert.equal(rec.data.path, '/sys');
  assert.equal(typeof rec.data.headers, 'object');
  const marker = Object.entries(rec.data.headers).find(([k]) => k.toLowerCase() === 'x-marker');
  assert.deepEqual(marker?.[1], 'sys-1');

  // No loops: delivering a system event announces nothing, and each subscriber got
  // exactly one event about the trigger.
  await quietPeriod();
  for (const server of [gen2, gen1, invoking, receivedSub]) {
    assert.equal(about(server)().length, 1);
    for (const e of received(server)) {
      assert.ok(!['gen2-watcher', 'gen1-watcher', 'invoking-watcher', 'received-watcher'].includes(e.data?.functionId),
        `a system event about delivering a system event: ${JSON.stringify(e).slice(0, 300)}`);
      assert.ok(!/^(eventgateway|gateway)\./.test(e.data?.event?.eventType ?? ''),
        `a system event about a system event: ${JSON.stringify(e).slice(0, 300)}`);
    }
  }
});

// --- Metrics (§2.5) ---

test('metrics: the events series exist and received/processed counters grow', async () => {
  const fn = await functionServer();
  await createEventType(gw, 'metricspace', 'metrics.event');
  await createFunction(gw, 'metricspace', 'fn', fn.url);
  await subscribe(gw, 'metricspace', { type: 'async', eventType: 'metrics.event', functionId: 'fn', path: '/metrics-path' });
  await settle(gw);

  const labels = { space: 'metricspace', type: 'metrics.event' };
  const beforeText = await metrics(gw);
  const receivedBefore = metricValue(beforeText, 'eventgateway_events_received_total', labels);
  const processedBefore = metricValue(beforeText, 'eventgateway_events_processed_total', labels);

  for (let i = 0; i < 2; i++) {
    const res = await emitStructured(gw.eventsUrl, cloudEvent('metrics.event'), { path: '/metrics-path' });
    assert.equal(res.status, 202, res.text);
  }
  await fn.waitForRequests(2);
  const text = await waitFor(async () => {
    const t = await metrics(gw);
    return metricValue(t, 'eventgateway_events_processed_total', labels) - processedBefore >= 2 && t;
  }, { message: 'eventgateway_events_processed_total to grow by 2' });
  assert.equal(metricValue(text, 'eventgateway_events_received_total', labels) - receivedBefore, 2);
  assert.equal(metricValue(text, 'eventgateway_events_processed_total', labels) - processedBefore, 2);

  for (const name of ['eventgateway_events_received_total', 'eventgateway_events_processed_total',
    'eventgateway_events_dropped_total', 'eventgateway_events_backlog', 'eventgateway_events_custom_processing_seconds',
    'eventgateway_eventtypes_total', 'eventgateway_functions_total', 'eventgateway_subscriptions_total']) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is declared`);
  }
  assert.ok(metricValue(text, 'eventgateway_events_custom_processing_seconds_count') >= 2, 'the histogram observed the deliveries');
  assert.ok(metricValue(text, 'eventgateway_functions_total', { space: 'metricspace' }) >= 1);
});
