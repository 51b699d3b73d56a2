// The console: a space, a view of it, and the access key. State lives in the URL's
// hash (#/<space>/<view>), so that a view can be bookmarked and Back works.
import { accessKey, whenUnauthorized, call } from './api.js';
import { showAlert, announce } from './ui.js';
import { resourceView, kCollections } from './resources.js';
import { graphView } from './graph.js';
import { tailView, tail } from './tail.js';
import { metricsView, queueView, poller } from './metrics.js';

const kViews = {
  functions: resourceView, eventtypes: resourceView, subscriptions: resourceView, cors: resourceView,
  graph: graphView, tail: tailView, metrics: metricsView, queue: queueView,
};
const kSpacePattern = /^[a-zA-Z0-9.\-_]+$/;
const kRecentItem = 'eventgateway.console.spaces';

let current = { space: 'default', view: 'functions' };
let endView = () => {};

function parseHash() {
  const [, space, view] = location.hash.split('/');
  return {
    space: space && kSpacePattern.test(decodeURIComponent(space)) ? decodeURIComponent(space) : 'default',
    view: kViews[view] ? view : 'functions',
  };
}

function rememberSpace(space) {
  const recent = JSON.parse(localStorage.getItem(kRecentItem) ?? '[]').filter((s) => s !== space);
  recent.unshift(space);
  localStorage.setItem(kRecentItem, JSON.stringify(recent.slice(0, 10)));
  document.getElementById('space-list').replaceChildren(...recent.map((s) => Object.assign(document.createElement('option'), { value: s })));
}

function show() {
  const next = parseHash();
  const main = document.getElementById('main');
  const moved = next.view !== current.view || next.space !== current.space;
  current = next;
  endView();
  showAlert('');
  main.replaceChildren();
  document.getElementById('space-input').value = current.space;
  for (const a of document.querySelectorAll('nav.tabs a')) {
    a.href = `#/${encodeURIComponent(current.space)}/${a.dataset.view}`;
    if (a.dataset.view === current.view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (tail.space && tail.space !== current.space) tail.stop();
  const title = kCollections[current.view]?.title ?? document.querySelector(`nav a[data-view="${current.view}"]`).textContent;
  document.title = `${title} · ${current.space} · Event Gateway console`;
  endView = kViews[current.view](main, { space: current.space, collection: current.view }) ?? (() => {});
  if (moved) main.focus();
  rememberSpace(current.space);
}

function renderKeyState() {
  const has = Boolean(accessKey.get());
  document.getElementById('key-state').textContent = has ? 'Access key in use (this tab only)' : 'No access key';
  document.getElementById('key-forget').hidden = !has;
}

const keyDialog = document.getElementById('key-dialog');
let declined = false;  // the key form was cancelled: polls do not bring it back
function askForKey(reason) {
  if (keyDialog.open) return;
  declined = false;
  document.getElementById('key-reason').textContent = reason;
  document.getElementById('key-input').value = '';
  keyDialog.showModal();
  document.getElementById('key-input').focus();
}

document.getElementById('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const key = document.getElementById('key-input').value.trim();
  if (!key) return;
  accessKey.set(key);
  keyDialog.close();
  renderKeyState();
  announce('Access key set');
  poller.stop();
  poller.start();
  show();
});
keyDialog.addEventListener('cancel', () => { declined = true; });  // Escape
document.getElementById('key-cancel').addEventListener('click', () => { declined = true; keyDialog.close(); });
document.getElementById('key-enter').addEventListener('click', () => askForKey('Enter an access key for this gateway.'));
document.getElementById('key-forget').addEventListener('click', () => {
  accessKey.forget();
  tail.stop();
  declined = false;
  renderKeyState();
  announce('Access key forgotten');
  document.getElementById('key-enter').focus();
  show();
});
whenUnauthorized((err) => {
  if (declined) return;
  askForKey(accessKey.get() ? `The gateway refused this key: ${err.message}` : `The gateway asks for an access key: ${err.message}`);
});

document.getElementById('space-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = document.getElementById('space-input');
  const space = input.value.trim();
  if (!kSpacePattern.test(space)) {
    showAlert(`"${space}" is not a space name: letters, digits, ".", "-" and "_" only.`);
    input.focus();
    return;
  }
  location.hash = `#/${encodeURIComponent(space)}/${current.view}`;
});

window.addEventListener('hashchange', show);
renderKeyState();
if (!location.hash) history.replaceState(null, '', `#/default/functions`);
current = { space: null, view: null };
show();
poller.start();
// The gateway's status needs no key: a quick check that it answers at all.
call('GET', '/v1/status').catch((e) => showAlert(`The gateway does not answer: ${e.message}`));
