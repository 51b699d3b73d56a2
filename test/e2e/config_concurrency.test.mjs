// Config API writes under concurrency: many clients creating distinct subscriptions in
// one space at once all get 201, whichever instance they write through. Once on the
// embedded store (one gateway), once on a real 3-member etcd cluster with two gateways
// taking writes at the same time.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, api } from './lib/harness.mjs';
import { startEtcdCluster, etcdUnavailableReason } from './lib/etcd_cluster.mjs';

const kSpace = 'busy';
const kClients = 16;
const kCreatesPerClient = 500;
const kFunctions = 4;
// A hard bound per case; on a small machine either case takes well under a minute.
const kCaseTimeoutMs = 180_000;

const gateways = [];
let etcd;
after(async () => {
  await Promise.all(gateways.map((gw) => gw.kill9()));
  await etcd?.destroy();
});

async function mustCreate(gw, resource, body) {
  const res = await api(gw.configUrl, 'POST', `/v1/spaces/${kSpace}/${resource}`, body);
  assert.equal(res.status, 201, `${resource} ${JSON.stringify(body)}: ${res.status} ${res.text}`);
}

// What every subscription refers to: a few functions (so that many subscriptions share
// each one) and the event type.
async function createReferences(gw) {
  for (let i = 0; i < kFunctions; i++) {
    await mustCreate(gw, 'functions', { functionId: `fn${i}`, type: 'http', provider: { url: 'http://127.0.0.1:9/' } });
  }
  await mustCreate(gw, 'eventtypes', { name: 'busy.event' });
  await mustCreate(gw, 'eventtypes', { name: 'http.request' });
}

// Subscription `n` of client `c`: async ones, and every tenth a sync route of its own
// (each sync create also moves the routes sentinel).
function subscription(c, n) {
  const functionId = `fn${n % kFunctions}`;
  if (n % 10 === 9) return { type: 'sync', eventType: 'http.request', functionId, method: 'GET', path: `/sync/c${c}/n${n}` };
  return { type: 'async', eventType: 'busy.event', functionId, path: `/c${c}/n${n}` };
}

// Client `c` creates its subscriptions one after another through `gw`; resolves to the
// IDs answered 201 and every other answer.
async function client(gw, c) {
  const created = [];
  const refused = [];
  for (let n = 0; n < kCreatesPerClient; n++) {
    const res = await api(gw.configUrl, 'POST', `/v1/spaces/${kSpace}/subscriptions`, subscription(c, n));
    if (res.status === 201) created.push(res.json.subscriptionId);
    else refused.push(`${res.status} ${res.text}`);
  }
  return { created, refused };
}

// kClients clients at once, client c writing through gws[c % gws.length]; then every
// instance lists exactly the subscriptions created.
async function createConcurrentlyAndCheck(gws) {
  const results = await Promise.all(Array.from({ length: kClients }, (_, c) => client(gws[c % gws.length], c)));
  const refused = results.flatMap((r) => r.refused);
  assert.deepEqual(refused.slice(0, 5), [], `${refused.length} creates not answered 201, the first ones above`);
  const created = results.flatMap((r) => r.created).sort();
  assert.equal(new Set(created).size, kClients * kCreatesPerClient);
  for (const gw of gws) {
    const list = await api(gw.configUrl, 'GET', `/v1/spaces/${kSpace}/subscriptions`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.subscriptions.map((s) => s.subscriptionId).sort(), created);
  }
}

test(`embedded store: ${kClients} clients × ${kCreatesPerClient} distinct subscriptions, every one a 201`,
  { timeout: kCaseTimeoutMs }, async () => {
    const gw = await startGateway();
    gateways.push(gw);
    await createReferences(gw);
    await createConcurrentlyAndCheck([gw]);
  });

const skip = etcdUnavailableReason();

test(`etcd cluster, two gateways: ${kClients} clients × ${kCreatesPerClient} distinct subscriptions, every one a 201`,
  { skip, timeout: kCaseTimeoutMs }, async () => {
    etcd = await startEtcdCluster({ size: 3 });
    // -io-threads 1: two instances and three etcd members share a small machine.
    const args = [`-db-hosts=${etcd.endpoints}`, '-io-threads=1'];
    const pair = await Promise.all([startGateway({ dev: false, args }), startGateway({ dev: false, args })]);
    gateways.push(...pair);
    await createReferences(pair[0]);
    await createConcurrentlyAndCheck(pair);
  });
