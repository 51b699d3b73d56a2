// Event type → subscription → function, as SVG: sync subscriptions drawn solid, async
// dashed, filters under the subscription, a weighted function's targets to its right
// with their weights.
import { h, s, showAlert } from './ui.js';
import { listAll, subscriptionKind, subscriptionEventType } from './resources.js';

const kRow = 34;
const kNodeH = 26;
const kCol = [20, 280, 600, 880];
const kWidth = [220, 260, 220, 200];
const kShownMax = 300;

function filterText(filters) {
  const one = (f) => {
    for (const d of ['exact', 'prefix', 'suffix']) {
      if (f[d]) return Object.entries(f[d]).map(([k, v]) => `${k} ${d === 'exact' ? '=' : d} ${v}`).join('');
    }
    if (f.all) return `all(${f.all.map(one).join(', ')})`;
    if (f.any) return `any(${f.any.map(one).join(', ')})`;
    if (f.not) return `not(${one(f.not)})`;
    return JSON.stringify(f);
  };
  return filters.map(one).join(' and ');
}

function node(x, y, w, cls, label, sub, title) {
  const clip = (t, n) => (t.length > n ? `${t.slice(0, n - 1)}…` : t);
  return s('g', { class: `node ${cls}`, transform: `translate(${x},${y})`, tabindex: 0, role: 'img', 'aria-label': title },
    s('title', {}, title),
    s('rect', { width: w, height: kNodeH, rx: 4 }),
    s('text', { x: 6, y: 17 }, clip(label, Math.floor(w / 7.2))),
    sub ? s('text', { x: 6, y: kNodeH + 12, class: 'small' }, clip(sub, Math.floor(w / 6))) : null);
}

function edge(x1, y1, x2, y2, cls, label) {
  const mx = (x1 + x2) / 2;
  const path = s('path', { class: `edge ${cls}`, d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, 'marker-end': 'url(#arrow)' });
  if (!label) return path;
  return s('g', {}, path, s('text', { x: x2 - 34, y: y2 - 4, class: 'small' }, label));
}

export function graphView(el, { space }) {
  const heading = h('h2', {}, 'Graph of space ', h('code', {}, space));
  const filterId = 'graph-filter';
  const filter = h('input', { id: filterId, type: 'search', autocomplete: 'off', placeholder: 'event type or function' });
  const note = h('p', { class: 'muted', 'aria-live': 'polite' });
  const wrap = h('div', { class: 'graph-wrap' });
  el.append(heading,
    h('div', { class: 'toolbar' }, h('label', { for: filterId }, 'Show only'), filter),
    h('div', { class: 'legend' },
      h('span', {}, '—— sync (the caller waits for the answer)'),
      h('span', {}, '- - - async (queued, retried)'),
      h('span', {}, 'purple: weighted split, with weights')),
    note, wrap);
  let data = null;
  filter.addEventListener('input', () => draw());

  function draw() {
    if (!data) return;
    const q = filter.value.trim().toLowerCase();
    const { functions, eventTypes, subscriptions } = data;
    const fnById = new Map(functions.map((f) => [f.functionId, f]));
    let subs = subscriptions.filter((sub) => !q || subscriptionEventType(sub).toLowerCase().includes(q) || sub.functionId.toLowerCase().includes(q));
    const total = subs.length;
    subs = subs.slice(0, kShownMax);
    note.textContent = total > kShownMax
      ? `Showing ${kShownMax} of ${total} subscriptions: narrow with "Show only".`
      : `${total} subscriptions, ${eventTypes.length} event types, ${functions.length} functions.`;
    subs.sort((a, b) => subscriptionEventType(a).localeCompare(subscriptionEventType(b)) || a.functionId.localeCompare(b.functionId));

    // Event types in the order their subscriptions come; those without any last.
    const etNames = [];
    for (const sub of subs) if (!etNames.includes(subscriptionEventType(sub))) etNames.push(subscriptionEventType(sub));
    if (!q) for (const et of eventTypes) if (!etNames.includes(et.name)) etNames.push(et.name);
    const fnIds = [];
    for (const sub of subs) if (!fnIds.includes(sub.functionId)) fnIds.push(sub.functionId);
    if (!q) for (const f of functions) if (!fnIds.includes(f.functionId)) fnIds.push(f.functionId);
    const targets = [];
    for (const id of fnIds) {
      const f = fnById.get(id);
      if (f?.type !== 'weighted') continue;
      for (const t of f.provider?.functions ?? []) targets.push({ from: id, ...t });
    }
    const subRow = kRow + 14;  // room for a filters line
    const height = Math.max(etNames.length * kRow, subs.length * subRow, fnIds.length * kRow, targets.length * kRow) + 40;
    const svg = s('svg', { width: kCol[3] + kWidth[3] + 20, height, role: 'group', 'aria-label': `Graph of space ${space}` },
      s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#55606b' }))),
      s('text', { x: kCol[0], y: 14, class: 'small' }, 'EVENT TYPES'),
      s('text', { x: kCol[1], y: 14, class: 'small' }, 'SUBSCRIPTIONS'),
      s('text', { x: kCol[2], y: 14, class: 'small' }, 'FUNCTIONS'),
      targets.length ? s('text', { x: kCol[3], y: 14, class: 'small' }, 'WEIGHTED TARGETS') : null);
    const y0 = 24;
    const etY = new Map(etNames.map((n, i) => [n, y0 + i * kRow]));
    const fnY = new Map(fnIds.map((n, i) => [n, y0 + i * kRow]));
    const edges = s('g', {});
    const nodes = s('g', {});
    svg.append(edges, nodes);
    for (const name of etNames) {
      const et = eventTypes.find((e) => e.name === name);
      const sub = et?.authorizerId ? `authorizer ${et.authorizerId}` : undefined;
      nodes.append(node(kCol[0], etY.get(name), kWidth[0], 'et', name, sub, `event type ${name}${sub ? `, ${sub}` : ''}`));
    }
    subs.forEach((sub, i) => {
      const y = y0 + i * subRow;
      const kind = subscriptionKind(sub);
      const label = `${kind === 'sync' ? 'SYNC' : kind === 'invoke' ? 'INVOKE' : 'ASYNC'} ${sub.method ?? ''} ${sub.path}`;
      const extra = [sub.filters ? `filters: ${filterText(sub.filters)}` : '',
        sub.deliveryPolicy?.deadLetterFunctionId ? `dead letters → ${sub.deliveryPolicy.deadLetterFunctionId}` : ''].filter(Boolean).join('; ');
      nodes.append(node(kCol[1], y, kWidth[1], 'sub', label, extra || undefined,
        `${kind} subscription of ${subscriptionEventType(sub)} to ${sub.functionId}, ${sub.method ?? ''} ${sub.path}${extra ? `; ${extra}` : ''}`));
      const cls = kind === 'sync' ? 'sync' : 'async';
      edges.append(edge(kCol[0] + kWidth[0], etY.get(subscriptionEventType(sub)) + kNodeH / 2, kCol[1], y + kNodeH / 2, cls));
      if (fnY.has(sub.functionId)) edges.append(edge(kCol[1] + kWidth[1], y + kNodeH / 2, kCol[2], fnY.get(sub.functionId) + kNodeH / 2, cls));
    });
    for (const id of fnIds) {
      const f = fnById.get(id);
      const label = f ? `${id} (${f.type})` : `${id} (missing)`;
      nodes.append(node(kCol[2], fnY.get(id), kWidth[2], 'fn', label, undefined, `function ${label}`));
    }
    targets.forEach((t, i) => {
      const y = y0 + i * kRow;
      nodes.append(node(kCol[3], y, kWidth[3], 'fn', t.functionId, undefined, `target ${t.functionId} of ${t.from}, weight ${t.weight}`));
      edges.append(edge(kCol[2] + kWidth[2], fnY.get(t.from) + kNodeH / 2, kCol[3], y + kNodeH / 2, 'weight', `w ${t.weight}`));
    });
    wrap.replaceChildren(svg);
  }

  (async () => {
    try {
      const [functions, eventTypes, subscriptions] = await Promise.all([
        listAll(space, 'functions'), listAll(space, 'eventtypes'), listAll(space, 'subscriptions')]);
      data = { functions, eventTypes, subscriptions };
      showAlert('');
      draw();
    } catch (e) {
      showAlert(`Could not read the space: ${e.message}`);
    }
  })();
  return () => {};
}
