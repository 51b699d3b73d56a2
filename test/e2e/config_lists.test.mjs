// Config API lists of thousands of resources: streamed (Transfer-Encoding: chunked),
// exactly the resources created, metadata filters applied entry by entry, and the
// gateway's peak memory while it lists within twice the size of the answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { startGateway, api, sleep } from './lib/harness.mjs';

const kSpace = 'big';
const kGen2 = 5000;
const kGen1 = 20;
const kClients = 16;
// Each subscription carries 2 KB of metadata, so that the list is ~11 MB: large
// enough that holding the whole list more than once shows above the slack below.
const kPad = 'x'.repeat(1000);
// Memory the process may touch during a list beyond twice the answer's size: allocator
// pages first used then, and SQLite's page cache (2 MB by default).
const kSlackBytes = 4 * 1024 * 1024;

let gw;
before(async () => { gw = await startGateway(); });
after(async () => { await gw?.stop(); });

// Sends `bodies` as POSTs to `urlPath` over kClients keep-alive connections at once;
// resolves to the created resources in the order of `bodies`.
async function createAll(urlPath, bodies) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: kClients });
  const url = new URL(urlPath, gw.configUrl);
  const post = (body) => new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(10000, () => req.destroy(new Error('create timed out')));
    req.on('error', reject);
    req.end(text);
  });
  const created = new Array(bodies.length);
  let next = 0;
  const client = async () => {
    while (next < bodies.length) {
      const i = next++;
      const res = await post(bodies[i]);
      assert.equal(res.status, 201, `${JSON.stringify(bodies[i]).slice(0, 200)}: ${res.status} ${res.text}`);
      created[i] = JSON.parse(res.text);
    }
  };
  try {
    await Promise.all(Array.from({ length: kClients }, client));
  } finally {
    agent.destroy();
  }
  return created;
}

// GET over a fresh connection: status, headers, the body's text and how many pieces
// it arrived in.
function getRaw(urlPath) {
  const url = new URL(urlPath, gw.configUrl);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, path: url.pathname + url.search, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString(), pieces: chunks.length,
      }));
      res.on('error', reject);
    });
    req.setTimeout(30000, () => req.destroy(new Error('list timed out')));
    req.on('error', reject);
  });
}

// A field of /proc/<pid>/status in bytes ("VmRSS:   12345 kB").
function statusBytes(pid, field) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
  assert.ok(m, `${field} not in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

const byId = (items) => new Map(items.map((s) => [s.subscriptionId, s]));

let created = [];

test(`${kGen2 + kGen1} subscriptions, created by ${kClients} clients at once`, { timeout: 120_000 }, async (t) => {
  assert.equal((await api(gw.configUrl, 'POST', `/v1/spaces/${kSpace}/functions`,
    { functionId: 'fn', type: 'http', provider: { url: 'http://127.0.0.1:9/' } })).status, 201);
  assert.equal((await api(gw.configUrl, 'POST', `/v1/spaces/${kSpace}/eventtypes`, { name: 'big.event' })).status, 201);
  const bodies = [];
  for (let i = 0; i < kGen2; i++) {
    bodies.push({
      type: 'async', eventType: 'big.event', functionId: 'fn', path: `/s/${i}`,
      metadata: { team: i % 2 === 0 ? 'even' : 'odd', pad1: kPad, pad2: kPad },
    });
  }
  // Gen 1 subscriptions list in their own shape among the others.
  for (let i = 0; i < kGen1; i++) bodies.push({ functionId: 'fn', event: 'big.gen1', path: `/g/${i}` });
  const started = Date.now();
  created = await createAll(`/v1/spaces/${kSpace}/subscriptions`, bodies);
  t.diagnostic(`created ${created.length} in ${Date.now() - started} ms`);
  assert.equal(new Set(created.map((s) => s.subscriptionId)).size, kGen2 + kGen1);
});

test('the list is chunked and holds exactly the subscriptions created', async () => {
  assert.equal(created.length, kGen2 + kGen1, 'the subscriptions were created');
  const list = await getRaw(`/v1/spaces/${kSpace}/subscriptions`);
  assert.equal(list.status, 200);
  assert.equal(list.headers['transfer-encoding'], 'chunked');
  assert.equal(list.headers['content-length'], undefined);
  assert.equal(list.headers['content-type'], 'application/json');
  assert.ok(list.pieces > 1, `one piece only: ${list.text.length} bytes`);
  assert.ok(list.text.startsWith('{"subscriptions":[{'), list.text.slice(0, 100));
  const listed = JSON.parse(list.text);
  assert.deepEqual(Object.keys(listed), ['subscriptions']);
  assert.equal(listed.subscriptions.length, created.length);
  const expected = byId(created);
  for (const s of listed.subscriptions) assert.deepEqual(s, expected.get(s.subscriptionId));
  assert.deepEqual(listed.subscriptions.filter((s) => 'event' in s).length, kGen1);

  // What the harness's fetch sees: the same list.
  const viaFetch = await api(gw.configUrl, 'GET', `/v1/spaces/${kSpace}/subscriptions`);
  assert.equal(viaFetch.text, list.text);
});

test('metadata filters apply to every entry of a long list', async () => {
  assert.equal(created.length, kGen2 + kGen1, 'the subscriptions were created');
  const even = await getRaw(`/v1/spaces/${kSpace}/subscriptions?metadata.team=even`);
  assert.equal(even.status, 200);
  assert.equal(even.headers['transfer-encoding'], 'chunked');
  const want = created.filter((s) => s.metadata?.team === 'even');
  assert.equal(want.length, kGen2 / 2);
  const got = JSON.parse(even.text).subscriptions;
  assert.deepEqual(byId(got), byId(want));

  const both = await getRaw(`/v1/spaces/${kSpace}/subscriptions?metadata.team=odd&metadata.pad1=${kPad}`);
  assert.equal(JSON.parse(both.text).subscriptions.length, kGen2 / 2);
  const none = await getRaw(`/v1/spaces/${kSpace}/subscriptions?metadata.team=nobody`);
  assert.equal(none.status, 200);
  assert.equal(none.text, '{"subscriptions":[]}');
  const empty = await getRaw('/v1/spaces/nothing-here/subscriptions');
  assert.equal(empty.text, '{"subscriptions":[]}');
});

test('the peak memory of a list stays within twice the answer', async (t) => {
  assert.equal(created.length, kGen2 + kGen1, 'the subscriptions were created');
  // A fresh process on the same data: the allocator keeps what the creates and the
  // lists above freed, and a list could hide in that (so could one that held the
  // answer several times over). A restart leaves only what loading the routes freed.
  assert.equal(await gw.stop(), 0);
  gw = await startGateway({ dataDir: gw.dataDir });
  const pid = gw.proc.pid;
  // A sanitizer build reserves terabytes of shadow memory and holds freed memory in
  // quarantine: its peak says nothing about the gateway's.
  if (statusBytes(pid, 'VmSize') > 2 ** 40) {
    t.skip('sanitizer build: memory is not the gateway\'s own');
    return;
  }
  // Let the allocator give back what the creates freed, so that the list's own peak shows.
  await sleep(500);
  // "5" resets VmHWM to the current RSS (proc(5), Linux 4.0 and later), so that the peak
  // measured is the list's, not the creates'. Without it the bound still holds, but
  // only as far as earlier peaks stayed below it.
  let reset = true;
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch (err) {
    reset = false;
    t.diagnostic(`VmHWM not reset (${err.code}): the bound includes earlier peaks`);
  }
  const rssBefore = statusBytes(pid, 'VmRSS');
  const list = await getRaw(`/v1/spaces/${kSpace}/subscriptions`);
  assert.equal(list.status, 200);
  const hwmAfter = statusBytes(pid, 'VmHWM');
  const growth = hwmAfter - rssBefore;
  const size = Buffer.byteLength(list.text);
  const mb = (n) => (n / 1048576).toFixed(1);
  t.diagnostic(`answer ${mb(size)} MB, RSS before ${mb(rssBefore)} MB, peak after ${mb(hwmAfter)} MB, ` +
    `growth ${mb(growth)} MB, VmHWM reset: ${reset}`);
  assert.ok(size > 10 * 1024 * 1024, `the answer is ${size} bytes`);
  assert.ok(growth < 2 * size + kSlackBytes,
    `a list of ${mb(size)} MB raised the peak by ${mb(growth)} MB (bound ${mb(2 * size + kSlackBytes)} MB)`);
});
