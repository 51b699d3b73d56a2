// contrib/grafana/event-gateway.json against the real thing: the JSON parses as a
// dashboard Grafana imports (a ${DS_PROMETHEUS} input that every query uses, the space and
// function variables), and every metric its queries name is one that a running gateway's
// /v1/metrics emits, with the labels they select on. The per-function metrics land
// separately, so those two names (and only they) may be missing from the scrape.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { api, startFunctionServer, startGateway, waitFor } from '../e2e/lib/harness.mjs';

const kDashboard = path.join(path.dirname(fileURLToPath(import.meta.url)),
  '../../contrib/grafana/event-gateway.json');
const kLandingSeparately = new Set([
  'eventgateway_function_calls_total',
  'eventgateway_function_duration_seconds_bucket',
]);
// Added by Prometheus to every scraped series, so no exposition carries them.
const kTargetLabels = new Set(['instance', 'job']);
const kGrafanaVariables = new Set(['__rate_interval', '__interval', '__range']);
const kKeywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool',
  'offset', 'and', 'or', 'unless', 'inf', 'nan']);

const withoutStrings = (expr) => expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');

// The metric names a PromQL expression selects: identifiers that are not functions,
// keywords, label names (in {…} or a by/without/on/ignoring list), durations or numbers.
export function metricNames(expr) {
  const s = withoutStrings(expr)
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set();
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const before = s[m.index - 1] ?? ' ';
    if (/[0-9.]/.test(before)) continue;  // 1e3, 5m
    if (/^\s*\(/.test(s.slice(m.index + m[0].length))) continue;  // a function
    if (kKeywords.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

// The label names an expression uses: in matchers and in grouping lists.
function labelNames(expr) {
  const s = withoutStrings(expr);
  const labels = new Set();
  for (const [, inner] of s.matchAll(/\{([^}]*)\}/g)) {
    for (const [, l] of inner.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.add(l);
  }
  for (const [, inner] of s.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const l of inner.split(',').map((x) => x.trim()).filter(Boolean)) labels.add(l);
  }
  return [...labels];
}

// The series names a Prometheus text exposition holds (with the _bucket/_sum/_count of
// each histogram family, even one with no observations yet), and the label names seen
// on each.
function parseExposition(text) {
  const names = new Set();
  const labels = new Map();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      const [, name, kind] = type;
      if (kind === 'histogram') ['_bucket', '_sum', '_count'].forEach((s) => names.add(name + s));
      else if (kind === 'summary') ['', '_sum', '_count'].forEach((s) => names.add(name + s));
      else names.add(name);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s/.exec(line);
    assert.ok(sample, `not an exposition line: ${line}`);
    names.add(sample[1]);
    if (!labels.has(sample[1])) labels.set(sample[1], new Set());
    for (const [, l] of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.get(sample[1]).add(l);
  }
  return { names, labels };
}

function panelsOf(dashboard) {
  return dashboard.panels.flatMap((p) => (p.type === 'row' ? p.panels ?? [] : [p]));
}

// Every PromQL text in the dashboard: panel targets and query variables.
function queries(dashboard) {
  const out = [];
  for (const panel of panelsOf(dashboard)) {
    for (const t of panel.targets ?? []) out.push({ where: `panel "${panel.title}" ${t.refId}`, expr: t.expr });
  }
  for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) {
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const m = /^label_values\((.*),\s*[a-zA-Z_]\w*\s*\)$/s.exec(q) ?? /^query_result\((.*)\)$/s.exec(q);
    assert.ok(m, `variable ${v.name}: a query this test cannot read: ${q}`);
    out.push({ where: `variable ${v.name}`, expr: m[1] });
  }
  return out;
}

const dashboard = JSON.parse(fs.readFileSync(kDashboard, 'utf8'));
let gateway;
let functionServer;
let scrape;

before(async () => {
  functionServer = await startFunctionServer(() => ({ body: { statusCode: 200, body: 'ok' } }));
  gateway = await startGateway();
  // Traffic of each kind the dashboard shows, so that the counter families have series
  // and their labels can be checked: a Config API write, a sync call, an async delivery.
  const c = (method, p, body) => api(gateway.configUrl, method, p, body);
  assert.equal((await c('POST', '/v1/spaces/default/functions',
    { functionId: 'hello', type: 'http', provider: { url: `${functionServer.url}/hello` } })).status, 201);
  assert.equal((await c('POST', '/v1/spaces/default/subscriptions',
    { functionId: 'hello', event: 'http', method: 'GET', path: '/users' })).status, 201);
  assert.equal((await c('POST', '/v1/spaces/default/subscriptions',
    { functionId: 'hello', event: 'user.created', path: '/myteam' })).status, 201);
  await waitFor(async () => (await api(gateway.eventsUrl, 'GET', '/users')).status === 200,
    { timeout: 5000, message: 'the sync subscription to route' });
  const emitted = await api(gateway.eventsUrl, 'POST', '/myteam', { name: 'Max' },
    { event: 'user.created' });
  assert.equal(emitted.status, 202, emitted.text);
  scrape = await waitFor(async () => {
    const r = await api(gateway.configUrl, 'GET', '/v1/metrics');
    return r.status === 200 && /eventgateway_events_custom_processing_seconds_count [1-9]/.test(r.text) && r.text;
  }, { timeout: 10000, message: 'the async delivery in /v1/metrics' });
});

after(async () => {
  if (gateway) assert.equal(await gateway.stop(), 0);
  await functionServer?.close();
});

test('the metric-name reader finds names and only names', { timeout: 5000 }, () => {
  assert.deepEqual(metricNames(
    'histogram_quantile(0.9, sum by (le, job) (rate(a_bucket{space=~"$space",x="y z"}[$__rate_interval]))) ' +
    '/ on (job) group_left (q) b offset 5m > 1e3 or vector(0) unless c:rule'), ['a_bucket', 'b', 'c:rule']);
  assert.deepEqual(labelNames('sum by (space, function) (rate(m{a=~"1", b!="2"}[5m]))').sort(),
    ['a', 'b', 'function', 'space']);
});

test('the dashboard imports: schema, the Prometheus input, ids, layout', { timeout: 5000 }, () => {
  assert.equal(typeof dashboard.schemaVersion, 'number');
  assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 39, `schemaVersion ${dashboard.schemaVersion}`);
  assert.equal(dashboard.uid, 'event-gateway');
  const input = dashboard.__inputs?.find((i) => i.name === 'DS_PROMETHEUS');
  assert.ok(input, 'no DS_PROMETHEUS input');
  assert.equal(input.type, 'datasource');
  assert.equal(input.pluginId, 'prometheus');

  const ids = dashboard.panels.flatMap((p) => [p.id, ...(p.panels ?? []).map((q) => q.id)]);
  assert.equal(new Set(ids).size, ids.length, 'panel ids repeat');
  for (const p of [...dashboard.panels, ...panelsOf(dashboard)]) {
    const g = p.gridPos;
    assert.ok(g && g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `panel "${p.title}": gridPos ${JSON.stringify(g)}`);
  }
  const panels = panelsOf(dashboard);
  assert.ok(panels.length >= 10, `only ${panels.length} panels`);
  for (const p of panels) {
    assert.equal(p.datasource?.uid, '${DS_PROMETHEUS}', `panel "${p.title}" datasource`);
    assert.ok(p.targets?.length > 0, `panel "${p.title}" has no query`);
    for (const t of p.targets) {
      assert.equal(t.datasource?.uid, '${DS_PROMETHEUS}', `panel "${p.title}" ${t.refId} datasource`);
      assert.ok(typeof t.expr === 'string' && t.expr.trim() !== '', `panel "${p.title}" ${t.refId}: no expr`);
    }
  }
});

test('the space and function variables, and only defined variables in queries', { timeout: 5000 }, () => {
  const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
  for (const name of ['space', 'function']) {
    const v = vars.get(name);
    assert.ok(v, `no ${name} variable`);
    assert.equal(v.type, 'query');
    assert.equal(v.datasource?.uid, '${DS_PROMETHEUS}');
    assert.ok(v.includeAll && v.multi, `${name}: "All" and several values`);
  }
  assert.match(vars.get('function').query.query, /eventgateway_function_calls_total/);
  for (const { where, expr } of queries(dashboard)) {
    assert.doesNotMatch(expr, /__name__/, `${where}: a __name__ matcher hides metric names from this test`);
    for (const [, name] of expr.matchAll(/\$\{?(\w+)\}?/g)) {
      assert.ok(vars.has(name) || kGrafanaVariables.has(name), `${where}: $${name} is not defined`);
    }
  }
  // The per-function panels: by function, over the two per-function metrics.
  const exprs = panelsOf(dashboard).flatMap((p) => p.targets.map((t) => t.expr));
  assert.ok(exprs.some((e) => /eventgateway_function_calls_total\{[^}]*function=~"\$function"/.test(e)),
    'no panel of calls per chosen function');
  assert.ok(exprs.some((e) => /histogram_quantile\(.*eventgateway_function_duration_seconds_bucket\{[^}]*function=~"\$function"/.test(e)),
    'no latency quantile per chosen function');
});

test('every metric the queries name is one the gateway emits, with those labels', { timeout: 10000 }, () => {
  const { names, labels } = parseExposition(scrape);
  const problems = [];
  let checked = 0;
  for (const { where, expr } of queries(dashboard)) {
    const used = metricNames(expr);
    if (used.length === 0) problems.push(`${where}: names no metric: ${expr}`);
    for (const name of used) {
      checked++;
      if (!names.has(name) && !kLandingSeparately.has(name)) {
        problems.push(`${where}: ${name} is not in /v1/metrics`);
      }
    }
    // Labels can be checked where every metric the query names has series to read them from.
    const seen = used.map((n) => labels.get(n));
    if (seen.length === 0 || seen.some((s) => s === undefined)) continue;
    for (const label of labelNames(expr)) {
      if (kTargetLabels.has(label) || seen.some((s) => s.has(label))) continue;
      problems.push(`${where}: no series of ${used.join(', ')} has the label ${label}`);
    }
  }
  assert.deepEqual(problems, [], problems.join('\n'));
  assert.ok(checked >= 20, `only ${checked} metric references checked`);
});
