// Propagation time of a configuration change between gateway instances (spec §4).
//
// An etcd cluster (ETCD_MEMBERS members) and two gateway instances A and B on loopback.
// COUNT times: create a sync http.request subscription on a fresh path through A's
// Config API, then send GET <path> to B's Events API back to back until B answers 200
// (the function, a local HTTP server, answers the §3.3 object). The time from A's 201
// to B's first 200 is one sample; the poll's own round trip bounds its resolution.
// Prints p50, p90, p99 and max, also measured from the moment the POST was sent.
//
// Environment: GATEWAY (binary, default build/event-gateway), COUNT (200),
// ETCD_MEMBERS (1), CHANGE_TIMEOUT_MS (5000 per change), BUDGET_S (120 for the whole
// run: stops early and reports what it measured), ETCD_BINARY (/usr/bin/etcd),
// JSON=1 (also print the samples as JSON).

import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway, api } from '../test/e2e/lib/harness.mjs';
import { startEtcdCluster } from '../test/e2e/lib/etcd_cluster.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function intEnv(name, def) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw) || Number(raw) <= 0) {
    console.error(`propagation: ${name} must be a positive integer, got '${raw}'`);
    process.exit(2);
  }
  return Number(raw);
}

const gatewayBinary = path.resolve(root, process.env.GATEWAY || 'build/event-gateway');
const count = intEnv('COUNT', 200);
const members = intEnv('ETCD_MEMBERS', 1);
const changeTimeoutMs = intEnv('CHANGE_TIMEOUT_MS', 5000);
const budgetMs = intEnv('BUDGET_S', 120) * 1000;

const log = (msg) => console.error(`propagation: ${msg}`);
const now = () => performance.now();

// One GET over a kept-alive connection; resolves to the status code.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function get(port, urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: 'GET', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.setTimeout(changeTimeoutMs, () => req.destroy(new Error(`GET ${urlPath}: no answer`)));
    req.on('error', reject);
    req.end();
  });
}

// Nearest-rank percentile of sorted samples.
function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function summary(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const f = (v) => `${v.toFixed(2)} ms`;
  return `p50 ${f(percentile(s, 50))}  p90 ${f(percentile(s, 90))}  p99 ${f(percentile(s, 99))}  max ${f(s[s.length - 1])}`;
}

async function main() {
  const started = now();
  const fnServer = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"statusCode":200,"headers":{"content-type":"text/plain"},"body":"ok"}');
    });
  });
  await new Promise((resolve) => fnServer.listen(0, '127.0.0.1', resolve));
  const fnUrl = `http://127.0.0.1:${fnServer.address().port}`;

  log(`starting ${members}-member etcd cluster`);
  const etcd = await startEtcdCluster({ size: members });
  const args = [`-db-hosts=${etcd.endpoints}`, '-log-level=warn'];
  log(`starting gateways A and B (${gatewayBinary})`);
  const [a, b] = await Promise.all([
    startGateway({ dev: false, binary: gatewayBinary, args }),
    startGateway({ dev: false, binary: gatewayBinary, args }),
  ]);

  const space = 'bench';
  for (const [resource, body] of [
    ['functions', { functionId: 'fn', type: 'http', provider: { url: fnUrl } }],
    ['eventtypes', { name: 'http.request' }],
  ]) {
    const res = await api(a.configUrl, 'POST', `/v1/spaces/${space}/${resource}`, body);
    if (res.status !== 201) throw new Error(`setup ${resource}: ${res.status} ${res.text}`);
  }

  // Warm the keep-alive connection to B and measure one unrouted round trip.
  const rtts = [];
  for (let i = 0; i < 50; i++) {
    const t0 = now();
    await get(b.eventsPort, '/warmup');
    rtts.push(now() - t0);
  }

  const fromCreated = [];
  const fromSent = [];
  let polls = 0;
  let firstPoll = 0;
  let timeouts = 0;
  const deadline = started + budgetMs;
  for (let i = 0; i < count && now() < deadline; i++) {
    const urlPath = `/prop/${process.pid}/${i}`;
    const sent = now();
    const res = await api(a.configUrl, 'POST', `/v1/spaces/${space}/subscriptions`,
      { type: 'sync', eventType: 'http.request', functionId: 'fn', method: 'GET', path: urlPath });
    const created = now();
    if (res.status !== 201) throw new Error(`create ${urlPath}: ${res.status} ${res.text}`);
    let routed = false;
    const pollsBefore = polls;
    while (now() - created < changeTimeoutMs) {
      polls++;
      const status = await get(b.eventsPort, urlPath);
      if (status === 200) {
        const t = now();
        fromCreated.push(t - created);
        fromSent.push(t - sent);
        routed = true;
        if (polls - pollsBefore === 1) firstPoll++;
        break;
      }
      if (status !== 404) throw new Error(`GET ${urlPath} on B: ${status}`);
    }
    if (!routed) timeouts++;
  }

  console.log(`propagation A -> B: etcd members ${members}, changes ${fromCreated.length}/${count}` +
    `${timeouts ? `, ${timeouts} not routed within ${changeTimeoutMs} ms` : ''}, polls ${polls}` +
    `, routed at the first poll ${firstPoll}`);
  console.log(`  poll round trip (unrouted GET on B): ${summary(rtts)}`);
  if (fromCreated.length > 0) {
    console.log(`  from A's 201 to B's first 200:       ${summary(fromCreated)}`);
    console.log(`  from A's POST sent to B's first 200: ${summary(fromSent)}`);
  }
  if (process.env.JSON === '1') {
    console.log(JSON.stringify({ members, fromCreated, fromSent, pollRtt: rtts, timeouts }));
  }

  agent.destroy();
  await Promise.all([a.stop(), b.stop()]);
  await etcd.destroy();
  await new Promise((resolve) => fnServer.close(() => resolve()));
  return timeouts === 0 && fromCreated.length > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`propagation: ${err.stack ?? err}`);
    process.exit(1);
  },
);
