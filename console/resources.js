// Tables of a space's functions, event types, subscriptions and CORS configurations,
// paged so that thousands of rows stay usable, with create, edit and delete forms
// that show the API's own error messages as they are.
import { call, spacePath } from './api.js';
import { h, showAlert, announce } from './ui.js';

export const kPageSize = 50;

const json = (v) => (v === undefined ? '' : JSON.stringify(v, null, 2));
const list = (v) => (Array.isArray(v) ? v.join(', ') : '');
const splitList = (v) => v.split(',').map((x) => x.trim()).filter(Boolean);

// Gen 1 subscriptions carry `event` instead of `type` and `eventType`.
export function subscriptionKind(sub) {
  if (sub.type) return sub.type;
  if (sub.event === 'http') return 'sync';
  if (sub.event === 'invoke') return 'invoke';
  return 'async';
}
export const subscriptionEventType = (sub) => sub.eventType ?? sub.event;

// Per collection: its list key, the ID field, the columns, and the form's fields.
// A field: {name, label, kind: text|select|json|list|check, options, required, fixed
// (not editable once created), hint}. `extra` is a JSON object merged into the body,
// for what the fields do not cover (metadata, filters, deliveryPolicy, limits).
export const kCollections = {
  functions: {
    title: 'Functions', singular: 'function', listKey: 'functions', id: (r) => r.functionId,
    columns: [
      ['Function ID', (r) => h('code', {}, r.functionId)],
      ['Type', (r) => r.type],
      ['Provider', (r) => h('code', {}, providerSummary(r))],
    ],
    search: (r) => `${r.functionId} ${r.type} ${providerSummary(r)}`,
    fields: [
      { name: 'functionId', label: 'Function ID', kind: 'text', required: true, fixed: true },
      { name: 'type', label: 'Type', kind: 'select', options: ['http', 'awslambda', 'awskinesis', 'awsfirehose', 'awssqs', 'weighted'] },
      { name: 'provider', label: 'Provider (JSON)', kind: 'json', initial: { url: 'http://' },
        hint: 'http: {"url": …}; weighted: {"functions": [{"functionId": …, "weight": 1}]}; AWS: arn/streamName/…, region' },
    ],
    extraKeys: ['metadata', 'limits'],
  },
  eventtypes: {
    title: 'Event types', singular: 'event type', listKey: 'eventTypes', id: (r) => r.name,
    columns: [
      ['Name', (r) => h('code', {}, r.name)],
      ['Authorizer', (r) => (r.authorizerId ? h('code', {}, r.authorizerId) : '')],
    ],
    search: (r) => `${r.name} ${r.authorizerId ?? ''}`,
    fields: [
      { name: 'name', label: 'Name', kind: 'text', required: true, fixed: true },
      { name: 'authorizerId', label: 'Authorizer function ID (optional)', kind: 'text' },
    ],
    extraKeys: ['metadata', 'authorizerCache'],
  },
  subscriptions: {
    title: 'Subscriptions', singular: 'subscription', listKey: 'subscriptions', id: (r) => r.subscriptionId,
    columns: [
      ['Kind', (r) => h('span', { class: `badge ${subscriptionKind(r)}` }, subscriptionKind(r))],
      ['Event type', (r) => h('code', {}, subscriptionEventType(r))],
      ['Function', (r) => h('code', {}, r.functionId)],
      ['Method', (r) => r.method ?? ''],
      ['Path', (r) => h('code', {}, r.path)],
      ['Filters', (r) => (r.filters ? h('code', {}, JSON.stringify(r.filters)) : '')],
    ],
    search: (r) => `${subscriptionKind(r)} ${subscriptionEventType(r)} ${r.functionId} ${r.method} ${r.path}`,
    sortKey: (r) => `${subscriptionEventType(r)} ${r.path} ${r.method} ${r.functionId}`,
    fields: [
      { name: 'type', label: 'Kind', kind: 'select', options: ['async', 'sync'], fixed: true },
      { name: 'eventType', label: 'Event type', kind: 'text', required: true, fixed: true },
      { name: 'functionId', label: 'Function ID', kind: 'text', required: true, fixed: true },
      { name: 'method', label: 'Method', kind: 'select', options: ['POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'], fixed: true },
      { name: 'path', label: 'Path', kind: 'text', initial: '/', fixed: true },
    ],
    extraKeys: ['filters', 'deliveryPolicy', 'metadata'],
  },
  cors: {
    title: 'CORS', singular: 'CORS configuration', listKey: 'cors', id: (r) => r.corsId,
    columns: [
      ['Method', (r) => r.method],
      ['Path', (r) => h('code', {}, r.path)],
      ['Origins', (r) => list(r.allowedOrigins)],
      ['Methods', (r) => list(r.allowedMethods)],
      ['Headers', (r) => list(r.allowedHeaders)],
      ['Credentials', (r) => (r.allowCredentials ? 'yes' : 'no')],
    ],
    search: (r) => `${r.method} ${r.path} ${list(r.allowedOrigins)}`,
    fields: [
      { name: 'method', label: 'Method', kind: 'select', options: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'], fixed: true },
      { name: 'path', label: 'Path', kind: 'text', initial: '/', fixed: true },
      { name: 'allowedOrigins', label: 'Allowed origins (comma-separated)', kind: 'list', initial: ['*'] },
      { name: 'allowedMethods', label: 'Allowed methods (comma-separated)', kind: 'list', initial: ['HEAD', 'GET', 'POST'] },
      { name: 'allowedHeaders', label: 'Allowed headers (comma-separated)', kind: 'list', initial: ['Origin', 'Accept', 'Content-Type'] },
      { name: 'allowCredentials', label: 'Allow credentials', kind: 'check' },
    ],
    extraKeys: ['metadata'],
  },
};

function providerSummary(fn) {
  const p = fn.provider ?? {};
  if (fn.type === 'weighted') {
    return (p.functions ?? []).map((t) => `${t.functionId}×${t.weight}`).join(', ');
  }
  return p.url ?? p.arn ?? p.streamName ?? p.deliveryStreamName ?? p.queueUrl ?? '';
}

// Every resource of a collection in a space.
export async function listAll(space, collection) {
  const body = await call('GET', spacePath(space, collection));
  return body?.[kCollections[collection].listKey] ?? [];
}

let formCounter = 0;

// Opens the form dialog for `existing` (edit) or a new resource; resolves true once
// the API accepted it, false when cancelled. API errors stay in the dialog, verbatim.
function openForm(space, collection, existing) {
  const info = kCollections[collection];
  const dialog = document.getElementById('form-dialog');
  const form = document.getElementById('resource-form');
  const fieldsEl = document.getElementById('form-fields');
  const errorEl = document.getElementById('form-error');
  const editing = existing !== undefined;
  document.getElementById('form-title').textContent =
    `${editing ? 'Edit' : 'New'} ${info.singular}${editing ? ` ${info.id(existing)}` : ''}`;
  errorEl.textContent = '';
  fieldsEl.replaceChildren();
  const n = ++formCounter;
  const inputs = {};
  for (const f of info.fields) {
    const id = `f${n}-${f.name}`;
    const value = editing ? existing[f.name] ?? (f.name === 'type' ? subscriptionKind(existing) : f.name === 'eventType' ? subscriptionEventType(existing) : undefined) : f.initial;
    let input;
    if (f.kind === 'select') {
      input = h('select', { id, name: f.name }, f.options.map((o) => h('option', { value: o, selected: value === o }, o)));
    } else if (f.kind === 'json') {
      input = h('textarea', { id, name: f.name, rows: 4, spellcheck: 'false' });
      input.value = json(value);
    } else if (f.kind === 'check') {
      input = h('input', { id, name: f.name, type: 'checkbox', checked: Boolean(value) });
    } else {
      input = h('input', { id, name: f.name, type: 'text', required: f.required, autocomplete: 'off', spellcheck: 'false' });
      input.value = f.kind === 'list' ? list(value) : value ?? '';
    }
    if (editing && f.fixed) input.disabled = true;
    inputs[f.name] = input;
    const hintId = f.hint ? `${id}-hint` : undefined;
    if (hintId) input.setAttribute('aria-describedby', hintId);
    fieldsEl.append(h('div', { class: `field${f.kind === 'check' ? ' check' : ''}` },
      h('label', { for: id }, f.label), input, f.hint ? h('span', { class: 'hint', id: hintId }, f.hint) : null));
  }
  const extraId = `f${n}-extra`;
  const extra = h('textarea', { id: extraId, name: 'extra', rows: 4, spellcheck: 'false', 'aria-describedby': `${extraId}-hint` });
  const extraValue = {};
  for (const k of info.extraKeys) if (editing && existing[k] !== undefined) extraValue[k] = existing[k];
  extra.value = Object.keys(extraValue).length ? json(extraValue) : '';
  fieldsEl.append(h('div', { class: 'field' }, h('label', { for: extraId }, 'Other fields (JSON object, optional)'), extra,
    h('span', { class: 'hint', id: `${extraId}-hint` }, `Merged into the body: ${info.extraKeys.join(', ')}.`)));

  const body = () => {
    const out = {};
    if (collection === 'cors' && editing) out.method = existing.method;
    for (const f of info.fields) {
      const input = inputs[f.name];
      if (editing && f.fixed && collection !== 'subscriptions') {
        if (existing[f.name] !== undefined) out[f.name] = existing[f.name];
        continue;
      }
      if (editing && f.fixed) continue;  // a subscription's PUT takes only what may change
      if (f.kind === 'check') out[f.name] = input.checked;
      else if (f.kind === 'list') out[f.name] = splitList(input.value);
      else if (f.kind === 'json') {
        if (input.value.trim() === '') continue;
        try {
          out[f.name] = JSON.parse(input.value);
        } catch (e) {
          throw new Error(`${f.label}: not JSON (${e.message}).`);
        }
      } else if (input.value.trim() !== '') out[f.name] = input.value.trim();
    }
    if (extra.value.trim() !== '') {
      let more;
      try {
        more = JSON.parse(extra.value);
      } catch (e) {
        throw new Error(`Other fields: not JSON (${e.message}).`);
      }
      if (typeof more !== 'object' || more === null || Array.isArray(more)) throw new Error('Other fields: want a JSON object.');
      Object.assign(out, more);
    }
    return out;
  };

  return new Promise((resolve) => {
    const submit = document.getElementById('form-submit');
    const onSubmit = async (ev) => {
      ev.preventDefault();
      errorEl.textContent = '';
      let payload;
      try {
        payload = body();
      } catch (e) {
        errorEl.textContent = e.message;
        return;
      }
      submit.disabled = true;
      try {
        if (editing) await call('PUT', spacePath(space, collection, info.id(existing)), payload);
        else await call('POST', spacePath(space, collection), payload);
        finish(true);
      } catch (e) {
        errorEl.textContent = e.message;  // the API's own message
      } finally {
        submit.disabled = false;
      }
    };
    const onCancel = () => finish(false);
    const onClose = () => finish(false);
    let done = false;
    function finish(ok) {
      if (done) return;
      done = true;
      form.removeEventListener('submit', onSubmit);
      document.getElementById('form-cancel').removeEventListener('click', onCancel);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      resolve(ok);
    }
    form.addEventListener('submit', onSubmit);
    document.getElementById('form-cancel').addEventListener('click', onCancel);
    dialog.addEventListener('close', onClose);  // Escape
    dialog.showModal();
    const first = fieldsEl.querySelector('input:not([disabled]), select:not([disabled]), textarea');
    first?.focus();
  });
}

function confirmDelete(space, collection, resource) {
  const info = kCollections[collection];
  const dialog = document.getElementById('confirm-dialog');
  const errorEl = document.getElementById('confirm-error');
  document.getElementById('confirm-title').textContent = `Delete ${info.singular}`;
  document.getElementById('confirm-text').textContent = `Delete ${info.singular} "${info.id(resource)}" from space "${space}"?`;
  errorEl.textContent = '';
  const yes = document.getElementById('confirm-yes');
  const no = document.getElementById('confirm-cancel');
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      yes.removeEventListener('click', onYes);
      no.removeEventListener('click', onNo);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      resolve(ok);
    };
    const onYes = async (ev) => {
      ev.preventDefault();
      yes.disabled = true;
      try {
        await call('DELETE', spacePath(space, collection, info.id(resource)));
        finish(true);
      } catch (e) {
        errorEl.textContent = e.message;
      } finally {
        yes.disabled = false;
      }
    };
    const onNo = () => finish(false);
    const onClose = () => finish(false);
    yes.addEventListener('click', onYes);
    no.addEventListener('click', onNo);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    no.focus();
  });
}

// The view of one collection in `el`; returns a function that ends it.
export function resourceView(el, { space, collection }) {
  const info = kCollections[collection];
  let rows = [];
  let page = 0;
  let query = '';
  const heading = h('h2', { id: 'view-title' }, `${info.title} in space `, h('code', {}, space));
  const count = h('span', { class: 'muted', id: 'row-count' });
  const searchId = `search-${collection}`;
  const search = h('input', { id: searchId, type: 'search', autocomplete: 'off', oninput: () => { query = search.value.toLowerCase(); page = 0; render(); } });
  const newButton = h('button', { type: 'button', class: 'primary', onclick: async () => {
    if (await openForm(space, collection)) { announce(`${info.singular} created`); await load(); }
    newButton.focus();
  } }, `New ${info.singular}`);
  const reload = h('button', { type: 'button', onclick: () => load() }, 'Reload');
  const table = h('table', { 'aria-labelledby': 'view-title' });
  const pager = h('div', { class: 'pager' });
  el.append(heading, h('div', { class: 'toolbar' }, newButton, reload, h('label', { for: searchId }, 'Search'), search, count), table, pager);

  function filtered() {
    return query ? rows.filter((r) => info.search(r).toLowerCase().includes(query)) : rows;
  }

  function render() {
    const shown = filtered();
    const pages = Math.max(1, Math.ceil(shown.length / kPageSize));
    page = Math.min(page, pages - 1);
    const slice = shown.slice(page * kPageSize, (page + 1) * kPageSize);
    count.textContent = `${shown.length} of ${rows.length}`;
    table.replaceChildren(
      h('thead', {}, h('tr', {}, info.columns.map(([name]) => h('th', { scope: 'col' }, name)), h('th', { scope: 'col' }, 'Actions'))),
      h('tbody', {}, slice.length === 0
        ? h('tr', {}, h('td', { colspan: info.columns.length + 1, class: 'muted' }, rows.length ? 'Nothing matches.' : `No ${info.title.toLowerCase()} yet.`))
        : slice.map((r) => h('tr', { 'data-id': info.id(r) },
          info.columns.map(([, cell]) => h('td', {}, cell(r))),
          h('td', { class: 'actions' },
            h('button', { type: 'button', 'aria-label': `Edit ${info.id(r)}`, onclick: async (ev) => {
              const button = ev.currentTarget;
              if (await openForm(space, collection, r)) { announce(`${info.singular} saved`); await load(); }
              // The table was drawn again: focus the same row's button.
              const again = table.querySelector(`tr[data-id="${CSS.escape(info.id(r))}"] button`);
              (again ?? (button.isConnected ? button : search)).focus();
            } }, 'Edit'), ' ',
            h('button', { type: 'button', 'aria-label': `Delete ${info.id(r)}`, onclick: async (ev) => {
              const button = ev.currentTarget;
              if (await confirmDelete(space, collection, r)) { announce(`${info.singular} deleted`); await load(); search.focus(); }
              else button.focus();
            } }, 'Delete'))))));
    pager.replaceChildren(
      h('button', { type: 'button', disabled: page === 0, onclick: () => { page -= 1; render(); } }, 'Previous page'),
      h('span', { 'aria-live': 'polite', id: 'page-label' }, `Page ${page + 1} of ${pages}`),
      h('button', { type: 'button', disabled: page >= pages - 1, onclick: () => { page += 1; render(); } }, 'Next page'));
  }

  async function load() {
    try {
      rows = await listAll(space, collection);
      const key = info.sortKey ?? ((r) => String(info.id(r)));
      rows.sort((a, b) => key(a).localeCompare(key(b)));
      showAlert('');
    } catch (e) {
      rows = [];
      showAlert(`Could not list ${info.title.toLowerCase()}: ${e.message}`);
    }
    render();
  }
  load();
  return () => {};
}
