// Per-function call rate, errors and latency, and the queue, computed in the page from
// GET /v1/metrics (Prometheus text) polled every kIntervalMs: the difference between
// two scrapes of eventgateway_function_calls_total{space,function,outcome} and of
// eventgateway_function_duration_seconds{space,function} gives each interval's rate,
// errors, mean and 95th percentile latency. The last kPoints intervals are kept.
import { text } from './api.js';
import { h, sparkline, formatNumber, showAlert } from './ui.js';
import { tail, tailRow, kTailColumns } from './tail.js';

export const kIntervalMs = 5000;
const kPoints = 120;  // ten minutes

// Prometheus text → [{name, labels, value}] (HELP, TYPE and comments skipped).
export function parsePrometheus(body) {
  const out = [];
  const re = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = re.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[2]) for (const l of m[2].matchAll(labelRe)) labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

const kErrorOutcomes = new Set(['failed', 'retrying', 'deadlettered']);

// What one scrape says, reduced to what the views draw.
function summarize(samples) {
  const fns = new Map();  // "space\0function" → {calls: {outcome: n}, sum, count, buckets: Map(le → n)}
  const queue = {};
  const perSpace = new Map();  // "name\0space" → total over types
  const fn = (l) => {
    const key = `${l.space}\0${l.function}`;
    if (!fns.has(key)) fns.set(key, { space: l.space, function: l.function, calls: {}, sum: 0, count: 0, buckets: new Map() });
    return fns.get(key);
  };
  for (const { name, labels, value } of samples) {
    if (name === 'eventgateway_function_calls_total') fn(labels).calls[labels.outcome] = value;
    else if (name === 'eventgateway_function_duration_seconds_sum') fn(labels).sum = value;
    else if (name === 'eventgateway_function_duration_seconds_count') fn(labels).count = value;
    else if (name === 'eventgateway_function_duration_seconds_bucket') fn(labels).buckets.set(labels.le, value);
    else if (['eventgateway_queue_deliveries', 'eventgateway_queue_oldest_seconds', 'eventgateway_queue_bytes', 'eventgateway_events_backlog', 'eventgateway_tails'].includes(name)) queue[name] = value;
    else if (/^eventgateway_(deliveries_(retried|deadlettered|failed)|events_(received|processed|dropped|filtered))_total$/.test(name)) {
      const key = `${name}\0${labels.space ?? ''}`;
      perSpace.set(key, (perSpace.get(key) ?? 0) + value);
    }
  }
  return { fns, queue, perSpace };
}

// The latency below which 95% of an interval's calls fell, from bucket differences.
function p95(now, before) {
  const les = [...now.buckets.keys()].sort((a, b) => (a === '+Inf' ? 1 : b === '+Inf' ? -1 : Number(a) - Number(b)));
  const total = now.count - (before?.count ?? 0);
  if (total <= 0) return null;
  for (const le of les) {
    const d = now.buckets.get(le) - (before?.buckets.get(le) ?? 0);
    if (d >= 0.95 * total) return le === '+Inf' ? Infinity : Number(le);
  }
  return null;
}

class Poller {
  constructor() {
    this.points = [];  // {t, summary}
    this.error = '';
    this.timer = null;
    this.listeners = new Set();
  }
  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  start() {
    if (this.timer) return;
    const tick = async () => {
      try {
        const body = await text('/v1/metrics');
        this.points.push({ t: Date.now(), summary: summarize(parsePrometheus(body)) });
        if (this.points.length > kPoints + 1) this.points.shift();
        this.error = '';
      } catch (e) {
        this.error = e.status === 403
          ? `${e.message} (the metrics cover every space, so they need an admin key or -metrics-open)`
          : e.message;
      }
      for (const fn of this.listeners) fn();
    };
    tick();
    this.timer = setInterval(tick, kIntervalMs);
  }
  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  // Per interval, for one function: [{rate, errors, mean, p95}], oldest first.
  series(space, fnId) {
    const key = `${space}\0${fnId}`;
    const out = [];
    for (let i = 1; i < this.points.length; i++) {
      const a = this.points[i - 1];
      const b = this.points[i];
      const dt = (b.t - a.t) / 1000;
      const now = b.summary.fns.get(key);
      const before = a.summary.fns.get(key);
      if (!now) { out.push({ rate: 0, errors: 0, mean: null, p95: null }); continue; }
      const calls = (o) => Object.values(o.calls).reduce((n, v) => n + v, 0);
      const d = (f) => Math.max(0, f(now) - (before ? f(before) : 0));
      const all = d(calls);
      const errors = d((o) => Object.entries(o.calls).filter(([k]) => kErrorOutcomes.has(k)).reduce((n, [, v]) => n + v, 0));
      const count = d((o) => o.count);
      const sum = d((o) => o.sum);
      out.push({ rate: all / dt, errors: errors / dt, mean: count > 0 ? (sum / count) * 1000 : null, p95: (() => { const v = p95(now, before); return v === null ? null : v * 1000; })() });
    }
    return out;
  }

  functionsOf(space) {
    const last = this.points.at(-1);
    if (!last) return [];
    return [...last.summary.fns.values()].filter((f) => f.space === space).map((f) => f.function).sort();
  }
}

export const poller = new Poller();

export function metricsView(el, { space }) {
  const note = h('p', { class: 'muted' }, `From GET /v1/metrics every ${kIntervalMs / 1000} s since this page opened: calls a second, errors a second (failed, retrying, dead-lettered), mean and 95th percentile latency per interval (the percentile is the bucket's upper bound).`);
  const table = h('table', { 'aria-labelledby': 'metrics-title' });
  const stateEl = h('p', { class: 'muted', id: 'metrics-state' });
  el.append(h('h2', { id: 'metrics-title' }, 'Functions of space ', h('code', {}, space)), note, stateEl, table);
  const render = () => {
    if (poller.error) showAlert(`Metrics: ${poller.error}`);
    const fns = poller.functionsOf(space);
    stateEl.textContent = poller.points.length < 2 ? 'Waiting for two scrapes…' : `${poller.points.length - 1} interval${poller.points.length === 2 ? '' : 's'} of ${kIntervalMs / 1000} s; ${fns.length} function${fns.length === 1 ? '' : 's'} called.`;
    table.replaceChildren(
      h('thead', {}, h('tr', {}, ['Function', 'Calls/s', 'Trend', 'Errors/s', 'Trend', 'Mean ms', 'p95 ms', 'Trend (mean)', 'Total calls'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, fns.length === 0 ? h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No function of this space was called yet.')) :
        fns.map((id) => {
          const series = poller.series(space, id);
          const last = series.at(-1) ?? {};
          const totals = poller.points.at(-1).summary.fns.get(`${space}\0${id}`);
          const total = Object.values(totals.calls).reduce((a, b) => a + b, 0);
          return h('tr', { 'data-function': id },
            h('td', {}, h('code', {}, id)),
            h('td', {}, formatNumber(last.rate)),
            h('td', {}, sparkline(series.map((p) => p.rate), { label: `calls a second of ${id}` })),
            h('td', {}, formatNumber(last.errors)),
            h('td', {}, sparkline(series.map((p) => p.errors), { label: `errors a second of ${id}`, error: true })),
            h('td', {}, formatNumber(last.mean)),
            h('td', {}, last.p95 === Infinity ? '> 30000' : formatNumber(last.p95)),
            h('td', {}, sparkline(series.map((p) => p.mean), { label: `mean latency of ${id}` })),
            h('td', {}, String(total)));
        })));
  };
  const off = poller.onChange(render);
  render();
  return off;
}

export function queueView(el, { space }) {
  const cards = h('div', { class: 'cards' });
  const perSpace = h('table', { 'aria-label': 'Deliveries of this space' });
  const dlBody = h('tbody', {});
  el.append(h('h2', {}, 'Queue and dead letters'),
    h('p', { class: 'muted' }, 'The Config API has no endpoint that lists queued deliveries or dead letters: this view shows what /v1/metrics says about the queue (for the whole instance) and the deliveries of this space, and the dead-lettered and failed deliveries the tail has seen since it started.'),
    cards, h('h3', {}, 'Deliveries of space ', h('code', {}, space)), perSpace,
    h('h3', {}, 'Dead-lettered and failed, from the tail'),
    h('table', { 'aria-label': 'Dead-lettered and failed deliveries' }, h('thead', {}, h('tr', {}, kTailColumns.map((c) => h('th', { scope: 'col' }, c)))), dlBody));
  const gauge = (name, label, unit) => {
    const values = poller.points.map((p) => p.summary.queue[name] ?? null);
    const v = values.at(-1);
    return h('div', { class: 'card' }, h('div', { class: 'muted' }, label),
      h('div', { class: 'value' }, v === null || v === undefined ? '–' : `${formatNumber(v, 0)}${unit}`),
      sparkline(values, { label: `${label} over the last minutes` }));
  };
  const render = () => {
    if (poller.error) showAlert(`Metrics: ${poller.error}`);
    cards.replaceChildren(
      gauge('eventgateway_queue_deliveries', 'Deliveries queued', ''),
      gauge('eventgateway_queue_oldest_seconds', 'Oldest queued', ' s'),
      gauge('eventgateway_queue_bytes', 'Queue size', ' B'),
      gauge('eventgateway_events_backlog', 'Backlog', ''));
    const last = poller.points.at(-1)?.summary.perSpace ?? new Map();
    const rows = [['eventgateway_events_received_total', 'Events received'], ['eventgateway_events_filtered_total', 'Filtered out'],
      ['eventgateway_events_dropped_total', 'Dropped'], ['eventgateway_deliveries_retried_total', 'Retried'],
      ['eventgateway_deliveries_deadlettered_total', 'Dead-lettered'], ['eventgateway_deliveries_failed_total', 'Failed (given up)']];
    perSpace.replaceChildren(h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Counter'), h('th', { scope: 'col' }, 'Total'))),
      h('tbody', {}, rows.map(([name, label]) => h('tr', {}, h('td', {}, label), h('td', {}, String(last.get(`${name}\0${space}`) ?? 0))))));
    const dls = tail.space === space ? tail.deadLetters : [];
    dlBody.replaceChildren(...(dls.length ? dls.map(tailRow) : [h('tr', {}, h('td', { colspan: kTailColumns.length, class: 'muted' }, tail.space === space ? 'None seen yet.' : 'The tail of this space is not running: open the Tail view to start it.'))]));
  };
  const off = poller.onChange(render);
  const offTail = tail.onChange(render);
  render();
  return () => { off(); offTail(); };
}
