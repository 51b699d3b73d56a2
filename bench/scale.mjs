// The Config API side of bench/scale.sh (see there and docs/benchmarks.md#scale):
//
//   node scale.mjs setup   per space: the event type http.request and FUNCTIONS http
//                          functions; then the sync routes GET /r/0 .. /r/9
//   node scale.mjs grow    the other sync routes (GET /r/<i>, one path each) and TOTAL
//                          async subscriptions (Gen 1, event type bench.a<i> each, made
//                          in the same write), interleaved, CLIENTS keep-alive clients at
//                          once; one row per STEP subscriptions: creates/s, the clients'
//                          create latency, the gateway's CPU per create, propagation
//                          (eventgateway_config_propagation_seconds) and RSS
//   node scale.mjs etcd    copies the embedded store's keys (STORE_DB, read with the
//                          sqlite3 CLI) into a fresh etcd, starts the gateway on it and
//                          times until GET /r/<LAST_SYNC> routes
//
// Environment (set by scale.sh): CONFIG_PORT, GATEWAY_PID, FUNCTION_URL, TOTAL, STEP,
// CLIENTS, SPACES, FUNCTIONS, CLK_TCK, DEADLINE_MS (epoch ms at which growth stops),
// SUMMARY (file the grow phase writes its summary to, KEY=value lines); for etcd:
// GATEWAY, SUT_CORE, STORE_DB, LAST_SYNC, WORK_DIR, STARTUP_TIMEOUT_S, ETCD_BINARY.
// Only 127.0.0.1. Every request has a timeout and every wait a bound.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';

import { freePorts, sleep } from '../test/e2e/lib/harness.mjs';
import { startEtcdCluster } from '../test/e2e/lib/etcd_cluster.mjs';
import { ServerProcess } from '../test/e2e/lib/server_process.mjs';

const kRequestTimeoutMs = 30000;
const kSettleTimeoutMs = 30000;
const kSettlePollMs = 100;
const kBaselineRoutes = 10;
const kEtcdTxnOps = 128;  // etcd's default --max-txn-ops
const kEtcdWriters = 8;
const kPropagation = 'eventgateway_config_propagation_seconds';
const kPropagationDropped = 'eventgateway_config_propagation_dropped_total';

function die(msg) {
  console.error(`scale: ${msg}`);
  process.exit(1);
}
const log = (msg) => console.error(`scale: ${msg}`);

function intEnv(name, def) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    if (def === undefined) die(`${name} is not set`);
    return def;
  }
  if (!/^\d+$/.test(raw)) die(`${name} must be a non-negative integer, got '${raw}'`);
  return Number(raw);
}

const now = () => performance.now();

// ---- one Config API client ---------------------------------------------------------

// One keep-alive connection; resolves to {status, text}.
function makeClient(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const call = (method, urlPath, body) => new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1', port, method, path: urlPath, agent,
      headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {},
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(kRequestTimeoutMs, () => req.destroy(new Error(`${method} ${urlPath}: no answer in ${kRequestTimeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
  return { call, close: () => agent.destroy() };
}

// Runs `jobs` (an iterator of {path, body}) with `clients` clients at once, each POST
// expected to answer 201. Resolves to the latencies in ms; stops taking jobs once
// `stopAt` (performance.now() ms) passed.
async function createAll(clients, jobs, stopAt = Infinity) {
  const latencies = [];
  const run = async (client) => {
    for (;;) {
      if (now() >= stopAt) return;
      const next = jobs.next();
      if (next.done) return;
      const { path: urlPath, body } = next.value;
      const t0 = now();
      const res = await client.call('POST', urlPath, body);
      latencies.push(now() - t0);
      if (res.status !== 201) throw new Error(`POST ${urlPath} ${JSON.stringify(body)} answered ${res.status}: ${res.text}`);
    }
  };
  await Promise.all(clients.map(run));
  return latencies;
}

// ---- the configuration ---------------------------------------------------------------

const env = () => ({
  port: intEnv('CONFIG_PORT'),
  total: intEnv('TOTAL'),
  step: intEnv('STEP'),
  clients: intEnv('CLIENTS'),
  spaces: intEnv('SPACES'),
  functions: intEnv('FUNCTIONS'),
  functionUrl: process.env.FUNCTION_URL || die('FUNCTION_URL is not set'),
});

const spaceOf = (i, cfg) => `s${i % cfg.spaces}`;
const functionOf = (i, cfg) => `f${i % cfg.functions}`;

function syncJob(i, cfg) {
  return {
    path: `/v1/spaces/${spaceOf(i, cfg)}/subscriptions`,
    body: { type: 'sync', eventType: 'http.request', functionId: functionOf(i, cfg), method: 'GET', path: `/r/${i}` },
  };
}

function asyncJob(i, cfg) {
  return {
    path: `/v1/spaces/${spaceOf(i, cfg)}/subscriptions`,
    body: { functionId: functionOf(i, cfg), event: `bench.a${i}`, path: '/' },
  };
}

async function setup() {
  const cfg = env();
  const clients = Array.from({ length: cfg.clients }, () => makeClient(cfg.port));
  function* spaceJobs() {
    for (let s = 0; s < cfg.spaces; s++) {
      yield { path: `/v1/spaces/s${s}/eventtypes`, body: { name: 'http.request' } };
      for (let f = 0; f < cfg.functions; f++) {
        yield { path: `/v1/spaces/s${s}/functions`, body: { functionId: `f${f}`, type: 'http', provider: { url: cfg.functionUrl } } };
      }
    }
  }
  await createAll(clients, spaceJobs());
  function* routeJobs() {
    for (let i = 0; i < Math.min(kBaselineRoutes, cfg.total); i++) yield syncJob(i, cfg);
  }
  await createAll(clients, routeJobs());
  clients.forEach((c) => c.close());
  log(`set up ${cfg.spaces} space(s) x (1 event type + ${cfg.functions} functions), ` +
      `${Math.min(kBaselineRoutes, cfg.total)} sync routes`);
}

// ---- what the gateway reports about itself -------------------------------------------

// CPU seconds (user + system) the process used so far.
function cpuSeconds(pid, clkTck) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clkTck;  // utime, stime
}

function rssKiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// {buckets: [[le, cumulative count]...] (le as text, "+Inf" last), count, dropped}.
async function propagation(client) {
  const res = await client.call('GET', '/v1/metrics');
  if (res.status !== 200) throw new Error(`GET /v1/metrics answered ${res.status}`);
  const buckets = [];
  let count = 0;
  let dropped = 0;
  for (const line of res.text.split('\n')) {
    if (line.startsWith(`${kPropagation}_bucket{`)) {
      const m = /le="([^"]+)"\}\s+(\S+)/.exec(line);
      if (m) buckets.push([m[1], Number(m[2])]);
    } else if (line.startsWith(`${kPropagation}_count `)) {
      count = Number(line.split(' ')[1]);
    } else if (line.startsWith(`${kPropagationDropped} `)) {
      dropped = Number(line.split(' ')[1]);
    }
  }
  if (buckets.length === 0) throw new Error(`the gateway exports no ${kPropagation}`);
  return { buckets, count, dropped };
}

// The upper bound of the bucket that holds the p-th percentile of what was observed
// between two scrapes, as text ("<=0.5ms", ">10s"), or "-" when nothing was.
function bucketPercentile(before, after, p) {
  const n = after.count - before.count;
  if (n <= 0) return '-';
  const rank = Math.ceil((p / 100) * n);
  for (let i = 0; i < after.buckets.length; i++) {
    const [le, cum] = after.buckets[i];
    if (cum - (before.buckets[i]?.[1] ?? 0) >= rank) {
      if (le === '+Inf') return `>${formatSeconds(Number(after.buckets[i - 1]?.[0] ?? 0))}`;
      return `<=${formatSeconds(Number(le))}`;
    }
  }
  return '?';
}

// The same as a number of seconds (Infinity for +Inf), for the goals.
function bucketPercentileSeconds(before, after, p) {
  const n = after.count - before.count;
  if (n <= 0) return NaN;
  const rank = Math.ceil((p / 100) * n);
  for (let i = 0; i < after.buckets.length; i++) {
    const [le, cum] = after.buckets[i];
    if (cum - (before.buckets[i]?.[1] ?? 0) >= rank) return le === '+Inf' ? Infinity : Number(le);
  }
  return NaN;
}

function formatSeconds(s) {
  if (s < 0.001) return `${+(s * 1e6).toFixed(0)}us`;
  if (s < 1) return `${+(s * 1e3).toFixed(2)}ms`;
  return `${+s.toFixed(2)}s`;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

// ---- growth ------------------------------------------------------------------------------

async function grow() {
  const cfg = env();
  const pid = intEnv('GATEWAY_PID');
  const clkTck = intEnv('CLK_TCK', 100);
  const deadlineMs = intEnv('DEADLINE_MS');
  const summaryFile = process.env.SUMMARY || die('SUMMARY is not set');
  const stopAt = now() + Math.max(0, deadlineMs - Date.now());

  // Sync and async interleaved, so that both tables grow together.
  const baseline = Math.min(kBaselineRoutes, cfg.total);
  let nextSync = baseline;
  let nextAsync = 0;
  let lastSync = baseline - 1;
  function* jobs() {
    while (nextSync < cfg.total || nextAsync < cfg.total) {
      if (nextSync < cfg.total && (nextSync - baseline <= nextAsync || nextAsync >= cfg.total)) {
        lastSync = Math.max(lastSync, nextSync);
        yield syncJob(nextSync++, cfg);
      } else {
        yield asyncJob(nextAsync++, cfg);
      }
    }
  }
  const source = jobs();
  // At most `n` jobs from `source`.
  function* take(n) {
    for (let i = 0; i < n; i++) {
      const next = source.next();
      if (next.done) return;
      yield next.value;
    }
  }

  const clients = Array.from({ length: cfg.clients }, () => makeClient(cfg.port));
  const scraper = makeClient(cfg.port);
  const rows = [];
  const header = ['subs', 'creates/s', 'lat p50 ms', 'lat p99 ms', 'cpu us/create',
    'prop p50', 'prop p99', 'RSS MB', 'MB/1k subs'];
  const widths = [8, 10, 11, 11, 14, 10, 10, 8, 11];
  const line = (cols) => cols.map((c, i) => String(c).padStart(widths[i])).join(' ');
  console.log(line(header));

  let subs = baseline;
  const target = 2 * cfg.total;
  const rssStart = rssKiB(pid);
  let stoppedEarly = false;
  while (subs < target) {
    if (now() >= stopAt) {
      stoppedEarly = true;
      break;
    }
    const want = Math.min(cfg.step - (subs % cfg.step), target - subs);
    const before = await propagation(scraper);
    const cpu0 = cpuSeconds(pid, clkTck);
    const t0 = now();
    const latencies = await createAll(clients, take(want), stopAt);
    const elapsed = (now() - t0) / 1000;
    const made = latencies.length;
    subs += made;
    // Wait (bounded) until every write of the step was published, so that the step's
    // CPU includes the snapshot work it caused and its propagation is all counted.
    const settleUntil = Math.min(now() + kSettleTimeoutMs, stopAt + kSettleTimeoutMs);
    let after = await propagation(scraper);
    while ((after.count - before.count) + (after.dropped - before.dropped) < made && now() < settleUntil) {
      await sleep(kSettlePollMs);
      after = await propagation(scraper);
    }
    const cpu = cpuSeconds(pid, clkTck) - cpu0;
    const rss = rssKiB(pid);
    latencies.sort((a, b) => a - b);
    const row = {
      subs,
      rate: made / elapsed,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      cpuUs: made > 0 ? (cpu * 1e6) / made : NaN,
      prop50: bucketPercentile(before, after, 50),
      prop99: bucketPercentile(before, after, 99),
      prop99s: bucketPercentileSeconds(before, after, 99),
      unsettled: made - ((after.count - before.count) + (after.dropped - before.dropped)),
      rssMiB: rss / 1024,
      perK: rss / 1024 / (subs / 1000),
    };
    rows.push(row);
    console.log(line([row.subs, row.rate.toFixed(0), row.p50.toFixed(2), row.p99.toFixed(2),
      row.cpuUs.toFixed(0), row.prop50, row.prop99 + (row.unsettled > 0 ? '*' : ''),
      row.rssMiB.toFixed(1), row.perK.toFixed(3)]));
    if (made < want) {
      stoppedEarly = true;
      break;
    }
  }
  clients.forEach((c) => c.close());
  scraper.close();
  if (rows.some((r) => r.unsettled > 0)) {
    console.log(`  * some writes of the step were not yet published ${kSettleTimeoutMs / 1000} s after it`);
  }
  if (stoppedEarly) console.log(`  growth stopped by the time budget at ${subs} of ${target} subscriptions`);

  const rates = rows.map((r) => r.rate);
  const last = rows[rows.length - 1];
  const rssEnd = last ? last.rssMiB * 1024 : rssKiB(pid);
  const summary = {
    GROW_SUBS: subs,
    GROW_TARGET: target,
    GROW_LAST_SYNC: lastSync,
    GROW_MIN_RATE: rates.length ? Math.min(...rates).toFixed(0) : 0,
    GROW_FIRST_RATE: rates.length ? rates[0].toFixed(0) : 0,
    GROW_LAST_RATE: rates.length ? rates[rates.length - 1].toFixed(0) : 0,
    GROW_MAX_CPU_US: rows.length ? Math.max(...rows.map((r) => r.cpuUs)).toFixed(0) : 0,
    // Above the last bucket (+Inf) as a number the shell can compare.
    GROW_MAX_PROP99_S: rows.length
      ? Math.min(1e9, Math.max(...rows.map((r) => (Number.isNaN(r.prop99s) ? 0 : r.prop99s)))) : 0,
    GROW_MAX_PROP99: rows.length ? rows.reduce((a, r) => (r.prop99s > a.prop99s ? r : a), rows[0]).prop99 : '-',
    GROW_RSS_MIB: (rssEnd / 1024).toFixed(1),
    GROW_RSS_PER_1K: (rssEnd / 1024 / (subs / 1000)).toFixed(3),
    GROW_RSS_GROWTH_PER_1K: (((rssEnd - rssStart) / 1024) / ((subs - baseline) / 1000 || 1)).toFixed(3),
  };
  // Sourced by scale.sh: every value single-quoted (none holds a quote).
  fs.writeFileSync(summaryFile, Object.entries(summary).map(([k, v]) => `${k}='${v}'\n`).join(''));
}

// ---- start-up on etcd --------------------------------------------------------------------

// Every key and value of the embedded store's database, through the sqlite3 CLI.
async function* storeRows(db) {
  const proc = spawn('sqlite3', ['-readonly', db,
    "SELECT json_object('k', key, 'v', CAST(value AS TEXT)) FROM kv ORDER BY key;"],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (c) => { stderr += c; });
  const exited = new Promise((resolve) => proc.on('close', resolve));
  for await (const text of readline.createInterface({ input: proc.stdout })) {
    if (text) yield JSON.parse(text);
  }
  const code = await exited;
  if (code !== 0) throw new Error(`sqlite3 ${db} exited ${code}: ${stderr}`);
}

async function etcdTxn(clientUrl, rows, prefix) {
  const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
  const res = await fetch(`${clientUrl}/v3/kv/txn`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ success: rows.map((r) => ({ request_put: { key: b64(prefix + r.k), value: b64(r.v) } })) }),
    signal: AbortSignal.timeout(kRequestTimeoutMs),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`etcd txn answered ${res.status}: ${text}`);
}

// Copies the store into etcd under `prefix`, kEtcdTxnOps keys a transaction, kEtcdWriters
// transactions at once. Resolves to the number of keys.
async function prefillEtcd(clientUrl, db, prefix) {
  let keys = 0;
  let batch = [];
  const inFlight = new Set();
  const send = (rows) => {
    const p = etcdTxn(clientUrl, rows, prefix).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  for await (const row of storeRows(db)) {
    batch.push(row);
    keys++;
    if (batch.length === kEtcdTxnOps) {
      send(batch);
      batch = [];
      if (inFlight.size >= kEtcdWriters) await Promise.race(inFlight);
    }
  }
  if (batch.length) send(batch);
  await Promise.all(inFlight);
  return keys;
}

// GET `urlPath` once, without keep-alive: its status, or 0 when nothing answered.
function probe(port, urlPath) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(0));
    });
    req.setTimeout(1000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
  });
}

async function etcdStartup() {
  const gateway = path.resolve(process.env.GATEWAY || die('GATEWAY is not set'));
  const core = intEnv('SUT_CORE');
  const db = process.env.STORE_DB || die('STORE_DB is not set');
  const lastSync = intEnv('LAST_SYNC');
  const workDir = process.env.WORK_DIR || die('WORK_DIR is not set');
  const timeoutMs = intEnv('STARTUP_TIMEOUT_S') * 1000;
  const prefix = '/eventgateway/';

  log('starting etcd');
  const etcd = await startEtcdCluster({ size: 1 });
  try {
    const t0 = now();
    const keys = await prefillEtcd(etcd.clientUrls[0], db, prefix);
    console.log(`etcd prefill: ${keys} keys copied from the embedded store in ${((now() - t0) / 1000).toFixed(1)} s`);

    const [eventsPort, configPort] = await freePorts(2);
    const gw = new ServerProcess('gateway on etcd');
    const started = now();
    gw.spawnProcess('taskset', ['-c', String(core), gateway,
      `-db-hosts=${etcd.members[0].endpoint}`, `-db-prefix=${prefix.slice(0, -1)}`,
      `-embed-data-dir=${path.join(workDir, 'etcd-gateway')}`,
      `-events-port=${eventsPort}`, `-config-port=${configPort}`, '-io-threads=1', '-log-level=error']);
    let listening = NaN;
    let routed = NaN;
    while (now() - started < timeoutMs) {
      if (!gw.running()) throw new Error(`the gateway on etcd exited\n${gw.logs()}`);
      const status = await probe(eventsPort, `/r/${lastSync}`);
      if (status !== 0 && Number.isNaN(listening)) listening = now() - started;
      if (status === 200) {
        routed = now() - started;
        break;
      }
      await sleep(10);
    }
    await gw.stop('SIGTERM');
    const s = (ms) => (Number.isNaN(ms) ? `not within ${timeoutMs / 1000} s` : `${(ms / 1000).toFixed(2)} s`);
    console.log(`start-up on etcd: listening after ${s(listening)}, GET /r/${lastSync} routed after ${s(routed)}`);
    fs.writeFileSync(path.join(workDir, 'etcd-startup'), Number.isNaN(routed) ? 'timeout' : (routed / 1000).toFixed(2));
  } finally {
    await etcd.destroy();
  }
}

const commands = { setup, grow, etcd: etcdStartup };
const command = commands[process.argv[2]];
if (!command) die(`usage: node scale.mjs ${Object.keys(commands).join('|')}`);
command().then(
  () => process.exit(0),
  (err) => die(err.stack ?? String(err)),
);
