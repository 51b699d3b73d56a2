// Bounds on what the Config API stores (docs/config-api.md, "Bounds"), over HTTP for
// Gen 1 and Gen 2 bodies: at a limit accepted, over it a 400 naming the field, a body
// over 1 MiB a 413; the gateway keeps serving afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, api } from './lib/harness.mjs';

let gw;
before(async () => { gw = await startGateway(); });
after(async () => { await gw?.stop(); });

const base = '/v1/spaces/bounds';
const a = (n, c = 'a') => c.repeat(n);
const httpFn = (id, extra = {}) => ({ functionId: id, type: 'http', provider: { url: 'http://127.0.0.1:9/x' }, ...extra });

async function expectRefused(method, path, body, message) {
  const res = await api(gw.configUrl, method, path, body);
  assert.equal(res.status, 400, `${method} ${path}: ${res.text.slice(0, 300)}`);
  assert.deepEqual(Object.keys(res.json), ['errors']);
  assert.match(res.json.errors[0].message, message);
}

async function expectCreated(path, body) {
  const res = await api(gw.configUrl, 'POST', path, body);
  assert.equal(res.status, 201, `POST ${path}: ${res.text.slice(0, 300)}`);
  return res.json;
}

test('at the limits everything is stored and read back whole', async () => {
  const metadata = Object.fromEntries(
    Array.from({ length: 64 }, (_, i) => [`${i}`.padEnd(256, 'k'), a(1024, 'v')]));
  const id = a(256, 'f');
  await expectCreated(`${base}/functions`, httpFn(id, {
    provider: { url: `http://127.0.0.1:9/${a(4096 - 19)}`, headers: { 'X-Token': a(8192, 't') } },
    metadata,
  }));
  const eventType = a(256, 'e');
  await expectCreated(`${base}/eventtypes`, { name: eventType, authorizerId: id, metadata });
  const segments = `/${Array.from({ length: 63 }, (_, i) => `s${i}`).join('/')}/`;
  const path = segments + a(2048 - segments.length);
  assert.ok(path.length === 2048 && path.split('/').length - 1 === 64);
  const sub = await expectCreated(`${base}/subscriptions`,
    { type: 'async', eventType, functionId: id, path, metadata });
  assert.equal(sub.path, path);
  const cors = await expectCreated(`${base}/cors`, {
    method: 'GET', path, allowedOrigins: Array.from({ length: 64 }, (_, i) => `https://${i}.${a(1000)}`),
  });
  const one = await api(gw.configUrl, 'GET', `${base}/cors/${encodeURIComponent(cors.corsId)}`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.json, cors);
  const gen1 = await expectCreated(`${base}/subscriptions`, { event: 'http', functionId: id, method: 'GET', path });
  assert.equal(gen1.path, path);
});

test('Gen 2: one over a bound is a 400 naming the field', async () => {
  await expectCreated(`${base}/functions`, httpFn('g2'));
  await expectCreated(`${base}/eventtypes`, { name: 'g2.event' });
  const sub = { type: 'async', eventType: 'g2.event', functionId: 'g2' };
  const cases = [
    ['functions', httpFn(a(257)), /"functionId" must be at most 256 bytes/],
    ['functions', httpFn('g2b', { provider: { url: `http://a/${a(4096)}` } }), /"provider\.url" must be at most 4096 bytes/],
    ['functions', { functionId: 'g2c', type: 'awslambda', provider: { arn: a(2049), region: 'us-east-1' } },
      /"provider\.arn" must be at most 2048 bytes/],
    ['functions', httpFn('g2d', { provider: { url: 'http://a/', extra: a(70000) } }), /"provider" must be at most 65536 bytes/],
    ['functions', httpFn('g2e', { metadata: { k: a(1025) } }), /"metadata\.k" must be at most 1024 bytes/],
    ['eventtypes', { name: 'n', authorizerId: a(257) }, /"authorizerId" must be at most 256 bytes/],
    ['subscriptions', { ...sub, path: `/${a(2048)}` }, /"path" must be at most 2048 bytes/],
    ['subscriptions', { ...sub, path: '/x'.repeat(65) }, /"path" must have at most 64 segments/],
    ['subscriptions', { ...sub, metadata: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) },
      /"metadata" must have at most 64 entries/],
    ['subscriptions', { ...sub, deliveryPolicy: { maxBackoff: `${a(62, '0')}1ms` } },
      /"deliveryPolicy\.maxBackoff" must be at most 64 bytes/],
    ['cors', { method: 'GET', path: '/c', allowedHeaders: Array(65).fill('X') }, /"allowedHeaders" must have at most 64 entries/],
  ];
  for (const [collection, body, message] of cases) {
    await expectRefused('POST', `${base}/${collection}`, body, message);
  }
  await expectRefused('PUT', `${base}/functions/g2`, httpFn('g2', { metadata: { [a(257)]: 'v' } }),
    /"metadata" has a key longer than 256 bytes/);
  await expectRefused('GET', `/v1/spaces/${a(257)}/functions`, undefined, /space name is at most 256 bytes/);
});

test('Gen 1: one over a bound is a 400 naming the field', async () => {
  await expectCreated(`${base}/functions`, httpFn('g1'));
  const cases = [
    [{ event: a(257), functionId: 'g1' }, /"event" must be at most 256 bytes/],
    [{ event: 'http', functionId: 'g1', method: 'GET', path: `/${a(2048)}` }, /"path" must be at most 2048 bytes/],
    [{ event: 'invoke', functionId: 'g1', path: '/i'.repeat(65) }, /"path" must have at most 64 segments/],
    [{ event: 'http', functionId: 'g1', method: 'GET', path: '/h', cors: { origins: Array(65).fill('*') } },
      /"cors\.origins" must have at most 64 entries/],
    [{ event: 'http', functionId: 'g1', method: 'GET', path: '/h', cors: { headers: [a(1025)] } },
      /"cors\.headers" has an entry longer than 1024 bytes/],
  ];
  for (const [body, message] of cases) {
    await expectRefused('POST', `${base}/subscriptions`, body, message);
  }
  const created = await expectCreated(`${base}/subscriptions`, { event: 'g1.event', functionId: 'g1' });
  await expectRefused('PUT', `${base}/subscriptions/${created.subscriptionId}`,
    { event: 'g1.event', functionId: 'g1', metadata: { k: a(1025) } }, /"metadata\.k" must be at most 1024 bytes/);
});

test('a body over 1 MiB is a 413 with a JSON error, and the gateway keeps serving', async () => {
  const body = JSON.stringify(httpFn('big', { metadata: { k: a(1024 * 1024) } }));
  const res = await api(gw.configUrl, 'POST', `${base}/functions`, body, { 'content-type': 'application/json' });
  assert.equal(res.status, 413);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.match(res.json.errors[0].message, /request body exceeds 1048576 bytes/);

  assert.equal((await api(gw.configUrl, 'GET', '/v1/status')).status, 200);
  await expectCreated(`${base}/functions`, httpFn('after'));
  const list = await api(gw.configUrl, 'GET', `${base}/functions`);
  assert.equal(list.status, 200);
  assert.ok(list.json.functions.some((f) => f.functionId === 'after'));
  assert.ok(!list.json.functions.some((f) => f.functionId === 'big'));
});
