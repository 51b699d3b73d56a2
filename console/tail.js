// The live tail of a space: GET /v1/spaces/<space>/events/tail, Server-Sent Events
// read through fetch() so that the access key can go in a header. One stream at a
// time, kept while other views are shown; pausing keeps reading but holds the rows
// back (at most kKeep), so that nothing is lost to the pause within that bound.
import { stream, spacePath } from './api.js';
import { h, announce } from './ui.js';

const kKeep = 500;

class Tail {
  constructor() {
    this.space = null;
    this.filters = { type: '', function: '' };
    this.rows = [];         // newest first, at most kKeep
    this.held = 0;          // rows that arrived while paused
    this.paused = false;
    this.skipped = 0;
    this.state = 'stopped'; // stopped | connecting | open | error
    this.error = '';
    this.deadLetters = [];  // deadlettered and failed outcomes seen, newest first
    this.listeners = new Set();
    this.abort = null;
  }

  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  notify(kind) {
    for (const fn of this.listeners) fn(kind);
  }

  start(space, filters = this.filters) {
    this.stop();
    this.space = space;
    this.filters = { ...filters };
    this.rows = [];
    this.held = 0;
    this.skipped = 0;
    this.error = '';
    this.state = 'connecting';
    const abort = new AbortController();
    this.abort = abort;
    this.notify('state');
    this.run(abort).catch((e) => {
      if (abort.signal.aborted) return;
      this.state = 'error';
      this.error = e.message;
      this.notify('state');
    });
  }

  stop() {
    if (this.abort) this.abort.abort();
    this.abort = null;
    if (this.state !== 'error') this.state = 'stopped';
    this.notify('state');
  }

  setPaused(paused) {
    this.paused = paused;
    if (!paused) this.held = 0;
    this.notify('rows');
  }

  async run(abort) {
    const query = new URLSearchParams();
    if (this.filters.type) query.set('type', this.filters.type);
    if (this.filters.function) query.set('function', this.filters.function);
    const qs = query.toString();
    const reader = await stream(`${spacePath(this.space, 'events', 'tail')}${qs ? `?${qs}` : ''}`, { signal: abort.signal });
    this.state = 'open';
    this.notify('state');
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        this.dispatch(block);
      }
    }
    if (!abort.signal.aborted) {
      this.state = 'error';
      this.error = 'The gateway ended the stream.';
      this.notify('state');
    }
  }

  dispatch(block) {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) return;
    let body;
    try {
      body = JSON.parse(data.join('\n'));
    } catch {
      return;
    }
    if (event === 'skipped') {
      this.skipped += body.skipped ?? 0;
      this.notify('rows');
      return;
    }
    const row = { outcome: event, ...body };
    this.rows.unshift(row);
    if (this.rows.length > kKeep) this.rows.length = kKeep;
    if (row.outcome === 'deadlettered' || row.outcome === 'failed') {
      this.deadLetters.unshift(row);
      if (this.deadLetters.length > 100) this.deadLetters.length = 100;
    }
    if (this.paused) this.held += 1;
    this.notify('rows');
  }
}

export const tail = new Tail();

function status(row) {
  return row.status === undefined ? '' : String(row.status);
}

export function tailRow(row) {
  return h('tr', {},
    h('td', { class: 'mono' }, (row.time ?? '').replace(/^.*T/, '').replace('Z', '')),
    h('td', { class: `o-${row.outcome}` }, row.outcome),
    h('td', {}, h('code', {}, row.eventType ?? '')),
    h('td', {}, h('code', {}, row.functionId ?? (row.functions ?? []).join(', '))),
    h('td', {}, status(row)),
    h('td', {}, row.attempt ?? ''),
    h('td', {}, row.latencyMs === undefined ? '' : row.latencyMs.toFixed(1)),
    h('td', { class: 'mono' }, row.eventId ?? ''),
    h('td', {}, row.error ?? ''));
}

export const kTailColumns = ['Time (UTC)', 'Outcome', 'Event type', 'Function', 'Status', 'Attempt', 'Latency ms', 'Event ID', 'Error'];

export function tailView(el, { space }) {
  const typeInput = h('input', { id: 'tail-type', type: 'text', autocomplete: 'off', value: tail.space === space ? tail.filters.type : '' });
  const fnInput = h('input', { id: 'tail-function', type: 'text', autocomplete: 'off', value: tail.space === space ? tail.filters.function : '' });
  const state = h('span', { id: 'tail-state', class: 'muted' });
  const startStop = h('button', { type: 'button', id: 'tail-start' });
  const pause = h('button', { type: 'button', id: 'tail-pause', 'aria-pressed': 'false' });
  const clear = h('button', { type: 'button', onclick: () => { tail.rows = []; tail.notify('rows'); } }, 'Clear');
  const table = h('table', { 'aria-label': 'Tail of events and deliveries' });
  const body = h('tbody', { id: 'tail-rows' });
  table.append(h('thead', {}, h('tr', {}, kTailColumns.map((c) => h('th', { scope: 'col' }, c)))), body);
  const form = h('form', { class: 'toolbar', onsubmit: (ev) => { ev.preventDefault(); tail.start(space, { type: typeInput.value.trim(), function: fnInput.value.trim() }); } },
    h('label', { for: 'tail-type' }, 'Event type'), typeInput,
    h('label', { for: 'tail-function' }, 'Function'), fnInput,
    h('button', { type: 'submit', class: 'primary' }, 'Apply filters'),
    startStop, pause, clear, state);
  el.append(h('h2', {}, 'Live tail of space ', h('code', {}, space)),
    h('p', { class: 'muted' }, 'Every event received in the space and every call of a function (delivered, failed, retrying, dead-lettered), as the gateway observes them. Above 100 a second the gateway samples and says how many it skipped.'),
    form, table);

  startStop.addEventListener('click', () => {
    if (tail.state === 'open' || tail.state === 'connecting') tail.stop();
    else tail.start(space, { type: typeInput.value.trim(), function: fnInput.value.trim() });
  });
  pause.addEventListener('click', () => tail.setPaused(!tail.paused));

  let lastCount = 0;
  const renderState = () => {
    const running = tail.state === 'open' || tail.state === 'connecting';
    startStop.textContent = running ? 'Stop' : 'Start';
    pause.textContent = tail.paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(tail.paused));
    const parts = [tail.state === 'error' ? `Stopped: ${tail.error}` : tail.state];
    if (tail.paused) parts.push(`paused, ${tail.held} new held back`);
    if (tail.skipped) parts.push(`${tail.skipped} skipped by the gateway`);
    state.textContent = parts.join(' · ');
  };
  const renderRows = () => {
    renderState();
    if (tail.paused) return;
    body.replaceChildren(...tail.rows.slice(0, 200).map(tailRow));
    const fresh = tail.rows.length - lastCount;
    lastCount = tail.rows.length;
    if (fresh > 0 && tail.rows[0]) {
      const r = tail.rows[0];
      announce(`${fresh} new in the tail; latest ${r.outcome} ${r.eventType ?? ''}${r.functionId ? ` to ${r.functionId}` : ''}`, { throttle: true });
    }
  };
  let frame = 0;
  const off = tail.onChange((kind) => {
    if (kind === 'state') { renderState(); if (tail.state === 'error') announce(`Tail stopped: ${tail.error}`); return; }
    if (!frame) frame = setTimeout(() => { frame = 0; renderRows(); }, 50);
  });
  if (tail.space !== space || tail.state === 'stopped' || tail.state === 'error') tail.start(space, { type: typeInput.value.trim(), function: fnInput.value.trim() });
  lastCount = tail.rows.length;
  renderRows();
  return () => { off(); if (frame) clearTimeout(frame); };
}
