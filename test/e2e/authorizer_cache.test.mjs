// Authorizer caching (spec §6, `authorizerCache` of an event type): decisions, allow and
// refusal alike, reused per key until the TTL ends, for sync calls and async
// deliveries; the Config API's checks of the field; the cache's metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, startGateway } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe, settle, send,
  emitStructured, cloudEvent, errorMessage, received, metrics, metricValue, waitFor,
} from './lib/events_helpers.mjs';

let gw;
before(async () => { gw = await startGateway(); });
after(async () => {
  await closeServers();
  await gw?.stop();
});

// An authorizer that refuses "Bearer bad" and allows everything else, naming as the
// principal what it was given: the Authorization header, X-Api-Key and the tenant.
async function authorizerServer() {
  return functionServer((req) => {
    const { request } = JSON.parse(req.body);
    const token = request.headers.Authorization;
    if (token === 'Bearer bad') return { body: { error: { message: 'denied by policy' } } };
    const principalId = [token, request.headers['X-Api-Key'], request.query.tenant?.join('+')]
      .filter(Boolean).join('|') || 'anonymous';
    return { body: { authorization: { principalId } } };
  });
}

// A space with an authorizer, a sync GET /<space> whose function answers with the
// authorization it got, and http.request guarded with `authorizerCache`.
async function syncSetup(space, authorizerCache) {
  const auth = await authorizerServer();
  const target = await functionServer((req) => {
    const event = JSON.parse(req.body);
    return { body: { statusCode: 200, body: JSON.stringify(event.extensions?.eventgateway?.authorization ?? null) } };
  });
  await createFunction(gw, space, 'authorizer', auth.url);
  await createFunction(gw, space, 'target', target.url);
  await createEventType(gw, space, 'http.request', { authorizerId: 'authorizer', authorizerCache });
  await subscribe(gw, space, { type: 'sync', eventType: 'http.request', functionId: 'target', method: 'GET', path: `/${space}` });
  await settle(gw);
  const get = (headers = {}, query = '') => send(gw.eventsUrl, { method: 'GET', path: `/${space}${query}`, headers });
  return { auth, target, get };
}

test('sync: one authorizer call per key within the TTL; another key calls again; metrics count hits and misses', async () => {
  const { auth, target, get } = await syncSetup('acsync', { ttl: '1m' });
  for (let i = 0; i < 5; i++) {
    const res = await get({ Authorization: 'Bearer alice' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(JSON.parse(res.text), { principalId: 'Bearer alice' });
  }
  assert.equal(auth.requests.length, 1, 'one authorizer call for five requests with one key');
  assert.equal(target.requests.length, 5);

  const bob = await get({ Authorization: 'Bearer bob' });
  assert.deepEqual(JSON.parse(bob.text), { principalId: 'Bearer bob' });
  await get({ Authorization: 'Bearer bob' });
  assert.equal(auth.requests.length, 2, 'one call for the second key');

  // Without the key's header: the authorizer is asked every time.
  await get();
  await get();
  assert.equal(auth.requests.length, 4);

  const text = await metrics(gw);
  const labels = { space: 'acsync', type: 'http.request' };
  assert.equal(metricValue(text, 'eventgateway_authorizer_cache_hits_total', labels), 5);
  assert.equal(metricValue(text, 'eventgateway_authorizer_cache_misses_total', labels), 4);
  assert.ok(metricValue(text, 'eventgateway_authorizer_cache_entries') >= 2, text);
});

test('sync: a refusal is cached too: 403 both times, one authorizer call', async () => {
  const { auth, target, get } = await syncSetup('acrefuse', { ttl: '1m' });
  for (let i = 0; i < 2; i++) {
    const res = await get({ Authorization: 'Bearer bad' });
    assert.equal(res.status, 403, res.text);
    assert.equal(errorMessage(res), 'denied by policy');
  }
  assert.equal(auth.requests.length, 1);
  assert.equal(target.requests.length, 0);
});

test('sync: the decision is asked again once the TTL has passed', async () => {
  const { auth, get } = await syncSetup('acttl', { ttl: '300ms' });
  const first = Date.now();
  await get({ Authorization: 'Bearer alice' });
  await get({ Authorization: 'Bearer alice' });
  // Under load the second request may itself come after the TTL; only then a second call.
  if (Date.now() - first < 250) assert.equal(auth.requests.length, 1);
  await waitFor(async () => {
    await get({ Authorization: 'Bearer alice' });
    return auth.requests.length >= 2;
  }, { timeout: 5000, interval: 50, message: 'a second authorizer call after the TTL' });
  assert.ok(Date.now() - first >= 300, 'not before the TTL');
});

test('key of a header and a query parameter: one call per distinct pair; a missing part is not cached', async () => {
  const { auth, get } = await syncSetup('ackey', { ttl: '1m', key: ['header:X-Api-Key', 'query:tenant'] });
  const res = await get({ 'X-Api-Key': 'k1' }, '?tenant=t1');
  assert.deepEqual(JSON.parse(res.text), { principalId: 'k1|t1' });
  await get({ 'x-api-key': 'k1', Authorization: 'Bearer ignored' }, '?tenant=t1&other=1');
  assert.equal(auth.requests.length, 1, 'the same pair (Authorization is not in this key)');
  await get({ 'X-Api-Key': 'k1' }, '?tenant=t2');
  await get({ 'X-Api-Key': 'k2' }, '?tenant=t1');
  assert.equal(auth.requests.length, 3);
  await get({ 'X-Api-Key': 'k2' }, '?tenant=t1');
  assert.equal(auth.requests.length, 3);
  await get({ 'X-Api-Key': 'k1' });
  await get({ 'X-Api-Key': 'k1' });
  await get({}, '?tenant=t1');
  assert.equal(auth.requests.length, 6, 'requests without a key part are never cached');
});

test('a changed authorizerCache is not served decisions of the old settings', async () => {
  const { auth, get } = await syncSetup('acchange', { ttl: '1m', key: ['header:X-Api-Key'] });
  const refused = await get({ 'X-Api-Key': 'same', Authorization: 'Bearer bad' });
  assert.equal(refused.status, 403, refused.text);
  assert.equal(auth.requests.length, 1);
  // The new key's value is the old one's: only the settings tell the two apart.
  const put = await api(gw.configUrl, 'PUT', '/v1/spaces/acchange/eventtypes/http.request',
    { authorizerId: 'authorizer', authorizerCache: { ttl: '1m', key: ['header:X-Other'] } });
  assert.equal(put.status, 200, put.text);
  await settle(gw);
  const res = await get({ 'X-Other': 'same', Authorization: 'Bearer alice' });
  assert.equal(res.status, 200, res.text);
  assert.equal(auth.requests.length, 2);
});

test('async: deliveries read the key from the original request; one authorizer call per key', async () => {
  const auth = await authorizerServer();
  const target = await functionServer();
  await createFunction(gw, 'acasync', 'authorizer', auth.url);
  await createFunction(gw, 'acasync', 'target', target.url);
  await createEventType(gw, 'acasync', 'ac.event', { authorizerId: 'authorizer', authorizerCache: { ttl: '1m' } });
  await subscribe(gw, 'acasync', { type: 'async', eventType: 'ac.event', functionId: 'target', path: '/acasync' });
  await settle(gw);

  // One at a time: deliveries run concurrently, and two that miss together both call.
  for (let i = 1; i <= 3; i++) {
    const res = await emitStructured(gw.eventsUrl, cloudEvent('ac.event'), { path: '/acasync', headers: { Authorization: 'Bearer alice' } });
    assert.equal(res.status, 202, res.text);
    await target.waitForRequests(i);
  }
  for (const event of received(target)) {
    assert.deepEqual(event.extensions?.eventgateway?.authorization, { principalId: 'Bearer alice' });
  }
  assert.equal(auth.requests.length, 1);

  const labels = { space: 'acasync', type: 'ac.event' };
  for (let i = 1; i <= 2; i++) {
    const res = await emitStructured(gw.eventsUrl, cloudEvent('ac.event'), { path: '/acasync', headers: { Authorization: 'Bearer bad' } });
    assert.equal(res.status, 202, res.text);
    await waitFor(async () => metricValue(await metrics(gw), 'eventgateway_events_unauthorized_total', labels) === i,
      { message: `refused delivery ${i} counted` });
  }
  assert.equal(auth.requests.length, 2, 'the refusal asked once');
  assert.equal(target.requests.length, 3);
  const text = await metrics(gw);
  assert.equal(metricValue(text, 'eventgateway_authorizer_cache_hits_total', labels), 3);
  assert.equal(metricValue(text, 'eventgateway_authorizer_cache_misses_total', labels), 2);
});

test('Config API: authorizerCache is checked, echoed as sent, and replaced by PUT', async () => {
  const auth = await authorizerServer();
  await createFunction(gw, 'acconfig', 'authorizer', auth.url);
  const post = (body) => api(gw.configUrl, 'POST', '/v1/spaces/acconfig/eventtypes', body);
  const refused = [
    [{ name: 'e1', authorizerCache: { ttl: '1s' } }, 'Field "authorizerCache" is only allowed with "authorizerId".'],
    [{ name: 'e1', authorizerId: 'authorizer', authorizerCache: { ttl: '1s', keys: [] } },
      'Field "authorizerCache.keys" is unknown; an authorizer cache has ttl and key.'],
    [{ name: 'e1', authorizerId: 'authorizer', authorizerCache: {} }, 'Missing required field "authorizerCache.ttl".'],
    [{ name: 'e1', authorizerId: 'authorizer', authorizerCache: { ttl: '25h' } },
      'Field "authorizerCache.ttl" must be between 1ms and 24h.'],
    [{ name: 'e1', authorizerId: 'authorizer', authorizerCache: { ttl: '1s', key: ['cookie:a'] } },
      'Field "authorizerCache.key" must be an array of 1 to 8 entries, each "header:<Name>" or "query:<name>".'],
  ];
  for (const [body, message] of refused) {
    const res = await post(body);
    assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
    assert.equal(errorMessage(res), `Event Type doesn't validate. Validation error: ${message}`);
  }

  const created = await post({ name: 'e1', authorizerId: 'authorizer', authorizerCache: { ttl: '1m30s', key: ['query:tenant'] } });
  assert.equal(created.status, 201, created.text);
  const expected = { space: 'acconfig', name: 'e1', authorizerId: 'authorizer', authorizerCache: { ttl: '1m30s', key: ['query:tenant'] } };
  assert.deepEqual(created.json, expected);
  assert.deepEqual((await api(gw.configUrl, 'GET', '/v1/spaces/acconfig/eventtypes/e1')).json, expected);

  const put = await api(gw.configUrl, 'PUT', '/v1/spaces/acconfig/eventtypes/e1', { authorizerId: 'authorizer' });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.json, { space: 'acconfig', name: 'e1', authorizerId: 'authorizer' });
  assert.deepEqual((await api(gw.configUrl, 'GET', '/v1/spaces/acconfig/eventtypes/e1')).json,
    { space: 'acconfig', name: 'e1', authorizerId: 'authorizer' });
});
