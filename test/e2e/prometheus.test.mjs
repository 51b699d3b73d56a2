// A real Prometheus (Debian's `prometheus`) scrapes the real gateway's /v1/metrics every
// second: the per-function series reach it with the right values, and every scrape
// succeeds (up == 1, no scrape error), which proves the text format in the real parser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startGateway, freePort, trackTempDir } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe, settle,
  emitStructured, cloudEvent, send, waitFor,
} from './lib/events_helpers.mjs';
import { ServerProcess } from './lib/server_process.mjs';

const kReadyTimeoutMs = 30000;
const kSeriesTimeoutMs = 30000;

function prometheusBinary() {
  for (const candidate of [process.env.EG_PROMETHEUS, '/usr/bin/prometheus']) {
    if (candidate && fs.existsSync(candidate)) return candidate;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('prometheus is not installed (scripts/deps.sh installs Debian\'s package)');
  }
}

let gw;
let prometheus;
let promUrl;
before(async () => {
  gw = await startGateway({ args: ['-queue', 'memory'] });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eg-prometheus-'));
  trackTempDir(dir);
  const config = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(config, [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: eventgateway',
    '    metrics_path: /v1/metrics',
    '    static_configs:',
    `      - targets: ['127.0.0.1:${gw.configPort}']`,
    '',
  ].join('\n'));
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prometheus = new ServerProcess('prometheus');
  prometheus.spawnProcess(prometheusBinary(), [
    `--config.file=${config}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  await prometheus.waitUntil(async (timeout) => {
    const res = await fetch(`${promUrl}/-/ready`, { signal: AbortSignal.timeout(timeout) });
    await res.arrayBuffer();
    return { ok: res.status === 200, detail: `ready answered ${res.status}` };
  }, { timeout: kReadyTimeoutMs, what: 'ready' });
});
after(async () => {
  await prometheus?.stop();
  await closeServers();
  await gw?.stop();
});

// The value of each series `expr` selects, by the label `by`.
async function query(expr, by) {
  const url = `${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const body = await res.json();
  if (body.status !== 'success') throw new Error(`${expr}: ${JSON.stringify(body)}`);
  const out = {};
  for (const r of body.data.result) out[r.metric[by] ?? ''] = Number(r.value[1]);
  return out;
}

test('Prometheus scrapes the per-function series with the right values, without errors', async () => {
  const ok = await functionServer(() => ({ body: { statusCode: 200, body: 'fine' } }));
  const down = await functionServer(() => ({ status: 503, body: { error: 'down' } }));
  const space = 'prom';
  await createEventType(gw, space, 'http.request');
  await createEventType(gw, space, 'job.run');
  await createFunction(gw, space, 'ok', ok.url);
  await createFunction(gw, space, 'down', down.url);
  await subscribe(gw, space, { type: 'sync', eventType: 'http.request', functionId: 'ok', method: 'GET', path: '/prom/ok' });
  await subscribe(gw, space, { type: 'sync', eventType: 'http.request', functionId: 'down', method: 'GET', path: '/prom/down' });
  await subscribe(gw, space, {
    type: 'async', eventType: 'job.run', functionId: 'ok', path: '/prom',
  });
  await settle(gw);

  for (let i = 0; i < 4; i++) assert.equal((await send(gw.eventsUrl, { method: 'GET', path: '/prom/ok' })).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await send(gw.eventsUrl, { method: 'GET', path: '/prom/down' })).status, 500);
  for (let i = 0; i < 3; i++) {
    assert.equal((await emitStructured(gw.eventsUrl, cloudEvent('job.run'), { path: '/prom' })).status, 202);
  }
  await ok.waitForRequests(7, { timeout: 10000 });

  let last;
  await waitFor(async () => {
    const delivered = await query(`eventgateway_function_calls_total{space="${space}",outcome="delivered"}`, 'function');
    const failed = await query(`eventgateway_function_calls_total{space="${space}",outcome="failed"}`, 'function');
    const counts = await query(`eventgateway_function_duration_seconds_count{space="${space}"}`, 'function');
    const inf = await query(`eventgateway_function_duration_seconds_bucket{space="${space}",le="+Inf"}`, 'function');
    last = { delivered, failed, counts, inf };
    return delivered.ok === 7 && delivered.down === 0 && failed.down === 2 && failed.ok === 0 &&
      counts.ok === 7 && counts.down === 2 && inf.ok === 7;
  }, { timeout: kSeriesTimeoutMs, interval: 250, message: () => `the series in Prometheus (last: ${JSON.stringify(last)})` });

  // Every scrape so far succeeded, and the target reports no error.
  const up = await query('min_over_time(up{job="eventgateway"}[1h])', 'job');
  assert.equal(up.eventgateway, 1);
  const targets = await (await fetch(`${promUrl}/api/v1/targets`)).json();
  const [target] = targets.data.activeTargets.filter((t) => t.labels.job === 'eventgateway');
  assert.equal(target.health, 'up');
  assert.equal(target.lastError, '');
  // The histogram is one to Prometheus: its quantiles can be computed.
  const p99 = await query(`histogram_quantile(0.99, sum by (le, function) (eventgateway_function_duration_seconds_bucket{space="${space}"}))`, 'function');
  assert.ok(p99.ok > 0 && p99.ok <= 30, `p99 of ok: ${p99.ok}`);
});
