// Clustering over etcd (spec §4): a real 3-member etcd cluster on loopback ports and
// three gateway instances without -dev. Changes made through any instance route on
// every instance; concurrent creates are decided once, by the store; losing etcd members,
// or all of them, keeps routing on the last snapshot while the Config API answers 503;
// after recovery every instance converges without a restart.
//
// The tests run in order on one cluster: later tests stop and start etcd members and
// gateway instances, and each one leaves the cluster whole again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startGateway, startFunctionServer, api, waitFor } from './lib/harness.mjs';
import {
  startEtcdCluster, etcdUnavailableReason, etcdRangePrefix,
} from './lib/etcd_cluster.mjs';

const kSpace = 'cluster';
const kPropagationTimeoutMs = 5000;
const kStoreLossAnswerMs = 5000;
const kRecoveryTimeoutMs = 20000;

const skip = etcdUnavailableReason();

let etcd;
let fnServer;
let fnUrl;
// A and B talk to etcd directly; C through proxies that a test can cut.
let gwA;
let gwB;
let gwC;
let proxies = [];
const otherGateways = [];

// A TCP proxy from a loopback port to `target`; cut() drops every connection and
// refuses new ones until restore().
async function startProxy(targetPort) {
  const sockets = new Set();
  let open = true;
  const server = net.createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  server.unref();
  return {
    endpoint: `127.0.0.1:${server.address().port}`,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      open = true;
    },
    close() {
      open = false;
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function gatewayArgs(hosts, extra = []) {
  // -io-threads 1: three instances and etcd share a small machine.
  return [`-db-hosts=${hosts}`, '-io-threads=1', ...extra];
}

function startA() {
  return startGateway({ dev: false, args: gatewayArgs(etcd.endpoints) });
}

function startB() {
  // Endpoints in another order, one as an http URL: both forms are accepted.
  const [first, ...rest] = etcd.members.map((m) => m.endpoint).reverse();
  return startGateway({ dev: false, args: gatewayArgs([`http://${first}`, ...rest].join(',')) });
}

function startC() {
  return startGateway({ dev: false, args: gatewayArgs(proxies.map((p) => p.endpoint).join(',')) });
}

function all() {
  return [gwA, gwB, gwC];
}

function label(gw) {
  return gw === gwA ? 'A' : gw === gwB ? 'B' : gw === gwC ? 'C' : gw.configUrl;
}

async function createFunction(gw, functionId) {
  return api(gw.configUrl, 'POST', `/v1/spaces/${kSpace}/functions`,
    { functionId, type: 'http', provider: { url: fnUrl } });
}

function syncSubscription(functionId, path, method = 'GET') {
  return { type: 'sync', eventType: 'http.request', functionId, method, path };
}

async function subscribe(gw, body) {
  return api(gw.configUrl, 'POST', `/v1/spaces/${kSpace}/subscriptions`, body);
}

async function mustCreate(res, what) {
  const r = await res;
  assert.equal(r.status, 201, `${what}: ${r.status} ${r.text}`);
  return r.json;
}

// A sync route is served: GET `path` on the Events API answers the function's result.
async function routes(gw, path) {
  const res = await api(gw.eventsUrl, 'GET', path);
  return res.status === 200 && res.text === `routed ${path}`;
}

async function routeStatus(gw, path) {
  return (await api(gw.eventsUrl, 'GET', path)).status;
}

async function waitRoutes(gws, path, timeout = kPropagationTimeoutMs) {
  await Promise.all(gws.map((gw) => waitFor(() => routes(gw, path), {
    timeout,
    message: `route GET ${path} on instance ${label(gw)}`,
  })));
}

async function waitUnrouted(gws, path, timeout = kPropagationTimeoutMs) {
  await Promise.all(gws.map((gw) => waitFor(async () => (await routeStatus(gw, path)) === 404, {
    timeout,
    message: `route GET ${path} gone (404) on instance ${label(gw)}`,
  })));
}

// eventgateway_config_relists_total: how often the instance's watch fell behind
// compaction and it read the whole configuration again.
async function relists(gw) {
  const res = await api(gw.configUrl, 'GET', '/v1/metrics');
  const line = res.text.split('\n').find((l) => l.startsWith('eventgateway_config_relists_total '));
  assert.ok(line, `no eventgateway_config_relists_total on ${label(gw)}`);
  return Number(line.split(' ')[1]);
}

async function statusCode(gw) {
  return (await api(gw.configUrl, 'GET', '/v1/status')).status;
}

async function waitStatus(gws, code, timeout = kRecoveryTimeoutMs) {
  await Promise.all(gws.map((gw) => waitFor(async () => (await statusCode(gw)) === code, {
    timeout,
    message: `GET /v1/status ${code} on instance ${label(gw)}`,
  })));
}

// Repeats a Config API write until it answers 201, allowing 5xx while the store is
// recovering. A 409 after a failed attempt means an earlier attempt landed after all.
async function writeUntilCreated(write, timeout = kRecoveryTimeoutMs) {
  const seen = [];
  const res = await waitFor(async () => {
    const r = await write();
    seen.push(r.status);
    if (r.status === 201 || (r.status === 409 && seen.slice(0, -1).some((s) => s >= 500))) {
      r.attempts = seen;
      return r;
    }
    if (r.status < 500) throw new Error(`unexpected ${r.status} ${r.text}`);
    return false;
  }, { timeout, interval: 100, message: () => `a 201 (statuses so far: ${seen.join(',')})` });
  return res;
}

function assertErrorBody(res) {
  assert.equal(typeof res.json?.errors?.[0]?.message, 'string',
    `a JSON error {"errors":[{"message":…}]}, got ${res.status} ${res.text}`);
  assert.ok(res.json.errors[0].message.length > 0);
}

before(async () => {
  if (skip) return;
  fnServer = await startFunctionServer((req) => {
    const event = JSON.parse(req.body);
    return { body: { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: `routed ${event.data.path}` } };
  });
  fnUrl = fnServer.url;
  etcd = await startEtcdCluster({ size: 3 });
  proxies = await Promise.all(etcd.members.map((m) => startProxy(m.clientPort)));
  [gwA, gwB, gwC] = await Promise.all([startA(), startB(), startC()]);
  await mustCreate(createFunction(gwA, 'fn'), 'function fn');
  await mustCreate(api(gwA.configUrl, 'POST', `/v1/spaces/${kSpace}/eventtypes`, { name: 'http.request' }),
    'event type http.request');
});

after(async () => {
  if (skip) return;
  await Promise.all([gwA, gwB, gwC, ...otherGateways].filter(Boolean).map((gw) => gw.kill9()));
  await Promise.all(proxies.map((p) => p.close()));
  await fnServer?.close();
  await etcd?.destroy();
});

test('a function and subscription created on A route on B and C; a delete on B stops them everywhere',
  { skip }, async () => {
    await mustCreate(createFunction(gwA, 'fn1'), 'function fn1');
    const sub = await mustCreate(subscribe(gwA, syncSubscription('fn1', '/t1')), 'subscription /t1');
    await waitRoutes([gwB, gwC, gwA], '/t1');

    // Every instance's Config API reads the same configuration.
    for (const gw of all()) {
      const res = await api(gw.configUrl, 'GET', `/v1/spaces/${kSpace}/subscriptions/${sub.subscriptionId}`);
      assert.equal(res.status, 200, `GET subscription on ${label(gw)}: ${res.status} ${res.text}`);
      assert.deepEqual(res.json, sub);
    }

    const del = await api(gwB.configUrl, 'DELETE', `/v1/spaces/${kSpace}/subscriptions/${sub.subscriptionId}`);
    assert.equal(del.status, 204, del.text);
    await waitUnrouted(all(), '/t1');
  });

test('the same subscription (and function) created on A and B at once: exactly one 201, one 409',
  { skip }, async () => {
    for (let i = 0; i < 5; i++) {
      const fns = await Promise.all([createFunction(gwA, `race${i}`), createFunction(gwB, `race${i}`)]);
      assert.deepEqual(fns.map((r) => r.status).sort(), [201, 409], `function race${i}: ${fns.map((r) => r.text)}`);

      const body = syncSubscription(`race${i}`, `/race/${i}`);
      const subs = await Promise.all([subscribe(gwA, body), subscribe(gwB, body)]);
      assert.deepEqual(subs.map((r) => r.status).sort(), [201, 409], `subscription /race/${i}: ${subs.map((r) => r.text)}`);
      assertErrorBody(subs.find((r) => r.status === 409));
    }
    await waitRoutes(all(), '/race/4');
  });

test('the same sync route with conflicting parameters on A and B at once: one 201, one 400',
  { skip }, async () => {
    for (let i = 0; i < 5; i++) {
      const res = await Promise.all([
        subscribe(gwA, syncSubscription('fn', `/conflict${i}/:id`)),
        subscribe(gwB, syncSubscription('fn', `/conflict${i}/:name`)),
      ]);
      assert.deepEqual(res.map((r) => r.status).sort(), [201, 400], `round ${i}: ${res.map((r) => `${r.status} ${r.text}`)}`);
      assertErrorBody(res.find((r) => r.status === 400));
      // The loser left nothing behind: exactly one subscription on that route, everywhere.
      for (const gw of all()) {
        const list = await api(gw.configUrl, 'GET', `/v1/spaces/${kSpace}/subscriptions`);
        const onRoute = list.json.subscriptions.filter((s) => s.path.startsWith(`/conflict${i}/`));
        assert.equal(onRoute.length, 1, `${label(gw)} lists ${JSON.stringify(onRoute)}`);
      }
    }
    await waitRoutes(all(), '/conflict4/42');
  });

test('another -db-prefix is another configuration on the same etcd', { skip }, async () => {
  const gwD = await startGateway({ dev: false, args: gatewayArgs(etcd.endpoints, ['-db-prefix=/eg-other']) });
  otherGateways.push(gwD);
  try {
    const fns = await api(gwD.configUrl, 'GET', `/v1/spaces/${kSpace}/functions`);
    assert.equal(fns.status, 200, fns.text);
    assert.deepEqual(fns.json.functions, []);
    assert.equal(await routeStatus(gwD, '/race/4'), 404);

    // The same IDs are free under the other prefix, and stay invisible to the first cluster.
    assert.equal((await createFunction(gwD, 'fn')).status, 201);
    assert.equal((await createFunction(gwD, 'only-d')).status, 201);
    await mustCreate(api(gwD.configUrl, 'POST', `/v1/spaces/${kSpace}/eventtypes`, { name: 'http.request' }), 'event type on D');
    await mustCreate(subscribe(gwD, syncSubscription('only-d', '/only-d')), 'subscription on D');
    assert.ok(await waitFor(() => routes(gwD, '/only-d'), { timeout: kPropagationTimeoutMs }));

    assert.equal((await api(gwA.configUrl, 'GET', `/v1/spaces/${kSpace}/functions/only-d`)).status, 404);
    assert.equal(await routeStatus(gwA, '/only-d'), 404);

    // In etcd, each configuration lives under its own prefix.
    const otherKeys = await etcdRangePrefix(etcd.members[0].clientUrl, '/eg-other');
    assert.ok(otherKeys.some((kv) => (kv.key + kv.value).includes('only-d')), 'keys under /eg-other');
    const mainKeys = await etcdRangePrefix(etcd.members[0].clientUrl, '/eventgateway');
    assert.ok(mainKeys.some((kv) => (kv.key + kv.value).includes('race4')), 'keys under /eventgateway');
    assert.ok(!mainKeys.some((kv) => (kv.key + kv.value).includes('only-d')), 'nothing of D under /eventgateway');
  } finally {
    await gwD.stop();
  }
});

test('a restarted instance routes from the store on its first request', { skip }, async () => {
  await mustCreate(subscribe(gwA, syncSubscription('fn', '/restart')), 'subscription /restart');
  await waitRoutes(all(), '/restart');
  assert.equal(await gwB.stop(), 0);
  gwB = await startB();
  // No poll: ready means the snapshot is loaded.
  assert.ok(await routes(gwB, '/restart'), 'first request after ready');
  assert.ok(await routes(gwB, '/race/0'));
  assert.ok(await routes(gwB, '/conflict0/1'));
});

test('killing the etcd leader: routing goes on, writes resume once a new leader is elected',
  { skip }, async (t) => {
    const leader = await etcd.leader();
    await leader.stop('SIGKILL');

    // Routing never reads the store: requests are answered during the election.
    for (let i = 0; i < 5; i++) {
      for (const gw of all()) {
        assert.ok(await routes(gw, '/restart'), `routing on ${label(gw)} without the etcd leader`);
      }
    }

    // Writes may fail while there is no leader; they succeed within a bounded wait.
    const started = Date.now();
    const first = await writeUntilCreated(() => createFunction(gwB, 'after-leader'));
    await writeUntilCreated(() => subscribe(gwC, syncSubscription('after-leader', '/after-leader')));
    const writeResumedMs = Date.now() - started;
    await waitRoutes(all(), '/after-leader');
    assert.ok((await etcd.leader()) !== leader);

    await leader.start();
    await etcd.waitHealthy();
    // A write through A still works with the old leader back as a follower.
    await writeUntilCreated(() => subscribe(gwA, syncSubscription('fn', '/leader-back')));
    await waitRoutes(all(), '/leader-back');
    t.diagnostic(`writes resumed ${writeResumedMs} ms after the leader was killed (statuses ${first.attempts.join(',')})`);
  });

test('one instance cut off from etcd: it keeps routing and answers 503, then catches up on what it missed',
  { skip }, async () => {
    for (const p of proxies) p.cut();
    await waitStatus([gwC], 503, kStoreLossAnswerMs + 5000);
    assert.ok(await routes(gwC, '/restart'), 'C routes on its last snapshot');
    const t0 = Date.now();
    const write = await createFunction(gwC, 'during-cut');
    assert.equal(write.status, 503, write.text);
    assert.ok(Date.now() - t0 < kStoreLossAnswerMs, `503 took ${Date.now() - t0} ms`);
    assertErrorBody(write);

    // Changes C does not see: a new route, a removed route.
    await mustCreate(subscribe(gwA, syncSubscription('fn', '/while-cut')), 'subscription /while-cut');
    const list = await api(gwA.configUrl, 'GET', `/v1/spaces/${kSpace}/subscriptions`);
    const restart = list.json.subscriptions.find((s) => s.path === '/restart');
    assert.equal((await api(gwA.configUrl, 'DELETE', `/v1/spaces/${kSpace}/subscriptions/${restart.subscriptionId}`)).status, 204);
    await waitRoutes([gwA, gwB], '/while-cut');
    assert.equal(await routeStatus(gwC, '/while-cut'), 404);
    assert.ok(await routes(gwC, '/restart'), 'C still routes what it last saw');

    // Compact etcd's history past those changes: C cannot resume its watch from the
    // revision it last saw and must list the configuration again.
    const status = await etcd.members[0].status();
    const compact = await fetch(`${etcd.members[0].clientUrl}/v3/kv/compaction`, {
      method: 'POST', body: JSON.stringify({ revision: status.header.revision, physical: true }),
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(compact.status, 200, await compact.text());

    for (const p of proxies) p.restore();
    await waitStatus([gwC], 200);
    await waitRoutes([gwC], '/while-cut', kRecoveryTimeoutMs);
    await waitUnrouted([gwC], '/restart', kRecoveryTimeoutMs);
    // And it follows changes again.
    await mustCreate(subscribe(gwA, syncSubscription('fn', '/after-cut')), 'subscription /after-cut');
    await waitRoutes(all(), '/after-cut');
    // C read everything again once; A and B, whose watches were current, did not.
    assert.equal(await relists(gwC), 1, 'relists on C');
    assert.equal(await relists(gwA), 0, 'relists on A');
    assert.equal(await relists(gwB), 0, 'relists on B');
  });

test('all etcd members down: routing goes on, Config API and /v1/status answer 503; on recovery instances converge',
  { skip }, async () => {
    await etcd.stopAll('SIGKILL');

    for (const gw of all()) {
      assert.ok(await routes(gw, '/after-cut'), `routing on ${label(gw)} with etcd down`);
    }

    // Writes and reads answer 503 with a JSON error within a few seconds, never hanging.
    await Promise.all(all().map(async (gw) => {
      let t0 = Date.now();
      const write = await createFunction(gw, `down-${label(gw)}`);
      const writeMs = Date.now() - t0;
      assert.equal(write.status, 503, `write on ${label(gw)}: ${write.status} ${write.text}`);
      assertErrorBody(write);
      assert.ok(writeMs < kStoreLossAnswerMs, `write 503 on ${label(gw)} took ${writeMs} ms`);

      t0 = Date.now();
      const read = await api(gw.configUrl, 'GET', `/v1/spaces/${kSpace}/functions`);
      const readMs = Date.now() - t0;
      assert.equal(read.status, 503, `read on ${label(gw)}: ${read.status} ${read.text}`);
      assertErrorBody(read);
      assert.ok(readMs < kStoreLossAnswerMs, `read 503 on ${label(gw)} took ${readMs} ms`);
    }));
    await waitStatus(all(), 503, kStoreLossAnswerMs + 5000);

    // Still routing after the store calls failed.
    for (const gw of all()) assert.ok(await routes(gw, '/after-leader'), `routing on ${label(gw)}`);

    // An instance started now waits for the store before it serves anything.
    const lateStart = startGateway({ dev: false, args: gatewayArgs(etcd.endpoints) });
    lateStart.catch(() => {});

    await etcd.startAll();
    await waitStatus(all(), 200);
    const gwE = await lateStart;
    otherGateways.push(gwE);
    assert.ok(await routes(gwE, '/after-leader'), 'an instance started during the outage routes once ready');

    // A change after recovery reaches every instance, through the resumed watches.
    await writeUntilCreated(() => subscribe(gwB, syncSubscription('fn', '/recovered')));
    await waitRoutes([...all(), gwE], '/recovered');
    const list = await api(gwC.configUrl, 'GET', `/v1/spaces/${kSpace}/subscriptions`);
    assert.equal(list.status, 200, list.text);
    const afterCut = list.json.subscriptions.find((s) => s.path === '/after-cut');
    assert.equal((await api(gwC.configUrl, 'DELETE', `/v1/spaces/${kSpace}/subscriptions/${afterCut.subscriptionId}`)).status, 204);
    await waitUnrouted([...all(), gwE], '/after-cut');

    // Every instance reads the same configuration.
    const lists = await Promise.all(all().map((gw) => api(gw.configUrl, 'GET', `/v1/spaces/${kSpace}/subscriptions`)));
    const ids = lists.map((l) => l.json.subscriptions.map((s) => s.subscriptionId).sort());
    assert.deepEqual(ids[1], ids[0]);
    assert.deepEqual(ids[2], ids[0]);
  });
