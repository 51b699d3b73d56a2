// The web console (spec §7) in a real browser: Debian's chromium, headless, driven by
// puppeteer-core, against the real binary on loopback. Forms are checked through the
// Config API, the tail against events emitted to the Events API, and access keys with a
// gateway that asks for them. Screenshots of every view go to EG_ARTIFACTS (the build
// directory's artifacts/console); docs/images/console/ holds a copy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startGateway, api, trackTempDir } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe, emitStructured,
  cloudEvent, errorMessage, waitFor,
} from './lib/events_helpers.mjs';

// Debian's package installs /usr/bin/chromium; EG_CHROMIUM names another binary.
const chromium = [process.env.EG_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']
  .find((p) => p && fs.existsSync(p));
// CTest reports the test as skipped when this line is printed (test/e2e/CMakeLists.txt).
const kSkipMessage = 'chromium is not installed (apt-get install chromium, or scripts/deps.sh): console browser tests skipped';

const artifacts = process.env.EG_ARTIFACTS ?? fs.mkdtempSync(path.join(os.tmpdir(), 'eg-console-'));
fs.mkdirSync(artifacts, { recursive: true });

let puppeteer;
let browser;
let gw;
let fn;
const kViewport = { width: 1280, height: 800 };

before(async () => {
  gw = await startGateway({ args: ['-queue', 'memory'] });
  fn = await functionServer(() => ({ body: { ok: true } }));
  if (!chromium) {
    console.log(kSkipMessage);
    return;
  }
  puppeteer = (await import('puppeteer-core')).default;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'eg-chromium-'));
  trackTempDir(profile);
  browser = await puppeteer.launch({
    executablePath: chromium, headless: true, userDataDir: profile, protocolTimeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
});
after(async () => {
  await browser?.close();
  await closeServers();
  await gw?.stop();
});

const browserTest = (name, body) => test(name, { skip: chromium ? false : kSkipMessage, timeout: 90000 }, body);

async function openPage(baseUrl, hash = '') {
  const page = await browser.newPage();
  await page.setViewport(kViewport);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const failure = r.failure()?.errorText ?? '';
    // A tail stream cut when the page moves on is not a failure of the page.
    if (!/ERR_ABORTED/.test(failure)) problems.push(`request failed: ${r.url()} ${failure}`);
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(baseUrl) && !r.url().startsWith('data:')) problems.push(`request to another origin: ${r.url()}`);
  });
  await page.goto(`${baseUrl}/console/${hash}`, { waitUntil: 'load' });
  page.problems = problems;
  return page;
}

async function shot(page, name) {
  await new Promise((r) => setTimeout(r, 150));  // let the last rows paint
  await page.screenshot({ path: path.join(artifacts, `${name}.png`) });
}

async function goto(page, space, view) {
  await page.evaluate((h) => { location.hash = h; }, `#/${space}/${view}`);
  await page.waitForFunction((v) => document.querySelector(`nav a[data-view="${v}"]`)?.getAttribute('aria-current') === 'page', {}, view);
}

// Fills the open form dialog: text inputs typed, selects chosen, JSON set whole.
async function fill(page, values) {
  for (const [name, value] of Object.entries(values)) {
    const sel = `#form-fields [name="${name}"]`;
    const tag = await page.$eval(sel, (el) => el.tagName);
    if (tag === 'SELECT') await page.select(sel, value);
    else if (tag === 'TEXTAREA') await page.$eval(sel, (el, v) => { el.value = v; }, typeof value === 'string' ? value : JSON.stringify(value));
    else {
      await page.$eval(sel, (el) => { el.value = ''; });
      await page.type(sel, value);
    }
  }
}

const dialogOpen = (page, id) => page.$eval(`#${id}`, (d) => d.open);

test('the assets: redirect, types, ETag and 304, no key needed', async () => {
  const bare = await fetch(`${gw.configUrl}/console`, { redirect: 'manual' });
  assert.equal(bare.status, 301);
  assert.equal(bare.headers.get('location'), '/console/');
  const index = await api(gw.configUrl, 'GET', '/console/');
  assert.equal(index.status, 200);
  assert.match(index.headers['content-type'], /^text\/html/);
  assert.match(index.headers['content-security-policy'], /default-src 'self'/);
  const app = await api(gw.configUrl, 'GET', '/console/app.js');
  assert.equal(app.status, 200);
  assert.match(app.headers['content-type'], /^text\/javascript/);
  assert.match(app.headers.etag, /^"[0-9a-f]+"$/);
  assert.equal(app.headers['cache-control'], 'no-cache');
  const again = await api(gw.configUrl, 'GET', '/console/app.js', undefined, { 'if-none-match': app.headers.etag });
  assert.equal(again.status, 304);
  assert.equal(again.text, '');
  assert.equal((await api(gw.configUrl, 'GET', '/console/nope.js')).status, 404);
});

browserTest('create, see an API error, graph, tail, metrics, delete: all through the page', async () => {
  const page = await openPage(gw.configUrl);
  await page.waitForSelector('#view-title');
  assert.match(await page.$eval('#view-title', (e) => e.textContent), /Functions in space default/);

  // A function through the form, seen through the Config API.
  await page.click('button::-p-text(New function)');
  assert.ok(await dialogOpen(page, 'form-dialog'));
  await fill(page, { functionId: 'hello', type: 'http', provider: { url: fn.url } });
  await shot(page, 'function-form');
  await page.click('#form-submit');
  await page.waitForSelector('tr[data-id="hello"]');
  const made = await api(gw.configUrl, 'GET', '/v1/spaces/default/functions/hello');
  assert.equal(made.status, 200);
  assert.deepEqual(made.json, { space: 'default', functionId: 'hello', type: 'http', provider: { url: fn.url } });

  // An invalid form shows the API's own message, verbatim, and stays open.
  const bad = { functionId: 'bad id!', type: 'http', provider: { url: fn.url } };
  const expected = errorMessage(await api(gw.configUrl, 'POST', '/v1/spaces/default/functions', bad));
  await page.click('button::-p-text(New function)');
  await fill(page, bad);
  await page.click('#form-submit');
  await page.waitForFunction(() => document.getElementById('form-error').textContent !== '');
  assert.equal(await page.$eval('#form-error', (e) => e.textContent), expected);
  assert.ok(await dialogOpen(page, 'form-dialog'));
  await shot(page, 'form-error');
  await page.keyboard.press('Escape');  // closes the dialog
  await page.waitForFunction(() => !document.getElementById('form-dialog').open);
  assert.equal((await api(gw.configUrl, 'GET', '/v1/spaces/default/functions')).json.functions.length, 1);
  // Edit: the ID stays fixed, the rest changes.
  await page.click('tr[data-id="hello"] button::-p-text(Edit)');
  assert.equal(await page.$eval('#form-fields [name="functionId"]', (e) => e.disabled), true);
  await fill(page, { extra: { metadata: { team: 'web' } } });
  await page.click('#form-submit');
  await page.waitForFunction(() => !document.getElementById('form-dialog').open);
  assert.deepEqual((await api(gw.configUrl, 'GET', '/v1/spaces/default/functions/hello')).json.metadata, { team: 'web' });
  await shot(page, 'functions');

  // An event type, submitted with Enter from its field.
  await goto(page, 'default', 'eventtypes');
  await page.click('button::-p-text(New event type)');
  await fill(page, { name: 'user.created' });
  await page.focus('#form-fields [name="name"]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('tr[data-id="user.created"]');
  assert.equal((await api(gw.configUrl, 'GET', '/v1/spaces/default/eventtypes/user.created')).status, 200);

  // A subscription through the form.
  await goto(page, 'default', 'subscriptions');
  await page.click('button::-p-text(New subscription)');
  await fill(page, { type: 'async', eventType: 'user.created', functionId: 'hello', method: 'POST', path: '/users' });
  await page.click('#form-submit');
  await page.waitForFunction(() => !document.getElementById('form-dialog').open);
  await page.waitForSelector('tbody tr[data-id]');
  const subs = (await api(gw.configUrl, 'GET', '/v1/spaces/default/subscriptions')).json.subscriptions;
  assert.equal(subs.length, 1);
  assert.deepEqual({ ...subs[0], subscriptionId: undefined },
    { space: 'default', subscriptionId: undefined, type: 'async', eventType: 'user.created', functionId: 'hello', method: 'POST', path: '/users' });
  // One more, with a filter and a weighted function, for the graph to show.
  await createFunction(gw, 'default', 'hello-v2', fn.url);
  await api(gw.configUrl, 'POST', '/v1/spaces/default/functions', {
    functionId: 'rollout', type: 'weighted', provider: { functions: [{ functionId: 'hello', weight: 90 }, { functionId: 'hello-v2', weight: 10 }] } });
  await subscribe(gw, 'default', { type: 'async', eventType: 'user.created', functionId: 'rollout', path: '/vip', filters: [{ exact: { 'data.tier': 'gold' } }] });
  await createEventType(gw, 'default', 'http.request');
  await subscribe(gw, 'default', { type: 'sync', eventType: 'http.request', functionId: 'hello', method: 'GET', path: '/hello' });
  await page.click('button::-p-text(Reload)');
  await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-id]').length === 3);
  await shot(page, 'subscriptions');

  await goto(page, 'default', 'graph');
  await page.waitForSelector('.graph-wrap svg');
  const graphText = await page.$eval('.graph-wrap svg', (svg) => svg.textContent);
  for (const want of ['user.created', 'ASYNC POST /users', 'SYNC GET /hello', 'hello (http)', 'rollout (weighted)', 'filters: data.tier = gold', 'w 90']) {
    assert.ok(graphText.includes(want), `graph shows ${want}: ${graphText}`);
  }
  assert.ok(await page.$('.graph-wrap path.edge.async'));
  assert.ok(await page.$('.graph-wrap path.edge.sync'));
  await shot(page, 'graph');

  // The tail: events emitted to the Events API appear within a second.
  await goto(page, 'default', 'tail');
  await page.waitForFunction(() => /^open/.test(document.getElementById('tail-state').textContent), { timeout: 5000 });
  const ev = cloudEvent('user.created', { name: 'Max', tier: 'gold' });
  const emitted = Date.now();
  const res = await emitStructured(gw.eventsUrl, ev, { path: '/users' });
  assert.equal(res.status, 202);
  await page.waitForFunction((id) => {
    const rows = [...document.querySelectorAll('#tail-rows tr')].filter((tr) => tr.textContent.includes(id));
    return rows.some((tr) => tr.textContent.includes('received')) && rows.some((tr) => tr.textContent.includes('delivered'));
  }, { timeout: 1000 }, ev.eventID);
  const seenAfter = Date.now() - emitted;
  assert.ok(seenAfter < 1000, `seen in ${seenAfter} ms`);
  // Pause holds rows back; the filter by function asks the gateway for that function only.
  await page.click('#tail-pause');
  const before = await page.$$eval('#tail-rows tr', (rows) => rows.length);
  const second = cloudEvent('user.created', { n: 2 });
  await emitStructured(gw.eventsUrl, second, { path: '/users' });
  await page.waitForFunction(() => /held back/.test(document.getElementById('tail-state').textContent) && !/0 new held/.test(document.getElementById('tail-state').textContent));
  assert.equal(await page.$$eval('#tail-rows tr', (rows) => rows.length), before);
  await page.click('#tail-pause');
  await page.waitForFunction((id) => document.getElementById('tail-rows').textContent.includes(id), {}, second.eventID);
  await subscribe(gw, 'default', { type: 'async', eventType: 'user.created', functionId: 'hello-v2', path: '/v2' });
  await page.$eval('#tail-function', (el) => { el.value = 'hello'; });
  await page.click('button::-p-text(Apply filters)');
  await page.waitForFunction(() => /^open/.test(document.getElementById('tail-state').textContent));
  const elsewhere = cloudEvent('user.created', { n: 3 });
  await emitStructured(gw.eventsUrl, elsewhere, { path: '/v2' });
  const third = cloudEvent('user.created', { n: 4 });
  await emitStructured(gw.eventsUrl, third, { path: '/users' });
  await page.waitForFunction((id) => document.getElementById('tail-rows').textContent.includes(id), { timeout: 3000 }, third.eventID);
  const shown = await page.$eval('#tail-rows', (e) => e.textContent);
  assert.ok(!shown.includes(elsewhere.eventID), 'the tail filtered by function hides what went to another');
  await page.$eval('#tail-function', (el) => { el.value = ''; });
  await page.click('button::-p-text(Apply filters)');
  // The tail starts again with the new filters: what is emitted before it is open is not
  // its to show.
  await page.waitForFunction(() => /^open/.test(document.getElementById('tail-state').textContent));
  for (let i = 0; i < 5; i++) await emitStructured(gw.eventsUrl, cloudEvent('user.created', { n: i, tier: 'gold' }), { path: '/vip' });
  await page.waitForFunction(() => document.querySelectorAll('#tail-rows tr').length >= 6);
  await shot(page, 'tail');

  // Metrics: two scrapes five seconds apart give a rate for the function called.
  await goto(page, 'default', 'metrics');
  await page.waitForSelector('tr[data-function="hello"]', { timeout: 20000 });
  await page.waitForFunction(() => {
    const row = document.querySelector('tr[data-function="hello"]');
    return row && Number(row.lastElementChild.textContent) >= 2;
  }, { timeout: 15000 });
  // A few more intervals, with calls in them, so that the sparklines have a shape.
  for (let i = 0; i < 30; i++) {
    const text = await page.$eval('#metrics-state', (e) => e.textContent);
    if (Number(/^(\d+) interval/.exec(text)?.[1] ?? 0) >= 4) break;
    for (let j = 0; j <= i % 4; j++) await emitStructured(gw.eventsUrl, cloudEvent('user.created', { n: j }), { path: '/users' });
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.ok(await page.$('tr[data-function="hello"] svg.spark polyline[points*=" "]'), 'a sparkline with two points or more');
  await shot(page, 'metrics');
  // A delivery that fails, is retried once and goes to its dead-letter function.
  const broken = await functionServer(() => ({ status: 500, body: { error: 'down' } }));
  await createFunction(gw, 'default', 'flaky', broken.url);
  await createEventType(gw, 'default', 'order.failed');
  await subscribe(gw, 'default', { type: 'async', eventType: 'order.failed', functionId: 'flaky', path: '/orders',
    deliveryPolicy: { retries: 1, backoff: 'constant', backoffDelay: '10ms', deadLetterFunctionId: 'hello' } });
  const doomed = cloudEvent('order.failed', { order: 7 });
  assert.equal((await emitStructured(gw.eventsUrl, doomed, { path: '/orders' })).status, 202);
  await goto(page, 'default', 'queue');
  await page.waitForFunction(() => document.querySelector('.cards .value')?.textContent !== '–');
  await page.waitForFunction((id) => [...document.querySelectorAll('table[aria-label="Dead-lettered and failed deliveries"] tr')]
    .some((tr) => tr.textContent.includes(id) && tr.textContent.includes('deadlettered')), { timeout: 5000 }, doomed.eventID);
  await shot(page, 'queue');

  // Delete through the page, checked through the API.
  await goto(page, 'default', 'subscriptions');
  await page.waitForSelector('tbody tr[data-id]');
  const subId = subs[0].subscriptionId;
  await page.click(`tr[data-id="${subId}"] button::-p-text(Delete)`);
  assert.ok(await dialogOpen(page, 'confirm-dialog'));
  await page.click('#confirm-yes');
  await page.waitForFunction((id) => !document.querySelector(`tr[data-id="${id}"]`), {}, subId);
  assert.equal((await api(gw.configUrl, 'GET', `/v1/spaces/default/subscriptions/${encodeURIComponent(subId)}`)).status, 404);
  // A function still in use: the API's refusal shows in the dialog.
  await goto(page, 'default', 'functions');
  await page.waitForSelector('tr[data-id="hello-v2"]');
  await page.click('tr[data-id="hello-v2"] button::-p-text(Delete)');
  await page.click('#confirm-yes');
  await page.waitForFunction(() => document.getElementById('confirm-error').textContent !== '');
  const refusal = await page.$eval('#confirm-error', (e) => e.textContent);
  const direct = errorMessage(await api(gw.configUrl, 'DELETE', '/v1/spaces/default/functions/hello-v2'));
  assert.equal(refusal, direct);
  await page.keyboard.press('Escape');
  assert.deepEqual(page.problems, []);
  await page.close();
});

browserTest('1,000 subscriptions: the table pages', async () => {
  const space = 'big';
  await createFunction(gw, space, 'many', fn.url);
  await createEventType(gw, space, 'bulk.event');
  const all = Array.from({ length: 1000 }, (_, i) => i);
  for (let i = 0; i < all.length; i += 25) {
    await Promise.all(all.slice(i, i + 25).map((n) =>
      subscribe(gw, space, { type: 'async', eventType: 'bulk.event', functionId: 'many', path: `/p${String(n).padStart(4, '0')}` })));
  }
  const page = await openPage(gw.configUrl, `#/${space}/subscriptions`);
  await page.waitForFunction(() => document.getElementById('row-count')?.textContent === '1000 of 1000', { timeout: 10000 });
  assert.equal(await page.$$eval('tbody tr[data-id]', (rows) => rows.length), 50);
  assert.equal(await page.$eval('#page-label', (e) => e.textContent), 'Page 1 of 20');
  const first = await page.$eval('tbody tr[data-id]', (tr) => tr.dataset.id);
  await page.click('button::-p-text(Next page)');
  assert.equal(await page.$eval('#page-label', (e) => e.textContent), 'Page 2 of 20');
  assert.notEqual(await page.$eval('tbody tr[data-id]', (tr) => tr.dataset.id), first);
  await page.type('#search-subscriptions', '/p0999');
  await page.waitForFunction(() => document.getElementById('row-count').textContent === '1 of 1000');
  await page.$eval('#search-subscriptions', (el) => { el.value = ''; el.dispatchEvent(new Event('input')); });
  await shot(page, 'subscriptions-1000');
  await goto(page, space, 'graph');
  await page.waitForSelector('.graph-wrap svg');
  assert.match(await page.$eval('.graph-wrap', (e) => e.previousElementSibling.textContent), /Showing 300 of 1000/);
  assert.deepEqual(page.problems, []);
  await page.close();
});

browserTest('with access keys: no key, no data; the key form works and is forgotten', async () => {
  const key = crypto.randomBytes(32).toString('base64url');
  const readKey = crypto.randomBytes(32).toString('base64url');
  const digest = (k) => crypto.createHash('sha256').update(k).digest('hex');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eg-console-keys-'));
  trackTempDir(dir);
  const file = path.join(dir, 'keys');
  fs.writeFileSync(file, `${digest(key)} admin\n${digest(readKey)} space:default:read\n`);
  const locked = await startGateway({ args: ['-queue', 'memory', '-access-keys', file] });
  try {
    const auth = { authorization: `Bearer ${key}` };
    assert.equal((await api(locked.configUrl, 'POST', '/v1/spaces/default/functions',
      { functionId: 'secret-fn', type: 'http', provider: { url: fn.url } }, auth)).status, 201);
    const page = await openPage(locked.configUrl);
    await page.waitForFunction(() => document.getElementById('key-dialog').open, { timeout: 5000 });
    await page.waitForFunction(() => document.getElementById('alert').textContent !== '');
    assert.equal(await page.$('tr[data-id]'), null);
    assert.ok(!(await page.content()).includes('secret-fn'));
    await shot(page, 'access-key');
    await page.type('#key-input', key);
    await page.keyboard.press('Enter');
    await page.waitForSelector('tr[data-id="secret-fn"]');
    assert.equal(await page.evaluate(() => Object.values(sessionStorage).length), 1);
    assert.ok(!(await page.evaluate(() => JSON.stringify(localStorage))).includes(key));
    await page.click('#key-forget');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await page.waitForFunction(() => document.getElementById('key-dialog').open);
    assert.equal(await page.$('tr[data-id]'), null);
    // A read-only key reads, and a write shows the API's 403 message in the form.
    await page.type('#key-input', readKey);
    await page.keyboard.press('Enter');
    await page.waitForSelector('tr[data-id="secret-fn"]');
    await page.click('button::-p-text(New function)');
    await fill(page, { functionId: 'nope', provider: { url: fn.url } });
    await page.click('#form-submit');
    await page.waitForFunction(() => document.getElementById('form-error').textContent !== '');
    const refused = await api(locked.configUrl, 'POST', '/v1/spaces/default/functions',
      { functionId: 'nope', type: 'http', provider: { url: fn.url } }, { authorization: `Bearer ${readKey}` });
    assert.equal(refused.status, 403);
    assert.equal(await page.$eval('#form-error', (e) => e.textContent), errorMessage(refused));
    await page.keyboard.press('Escape');
    assert.deepEqual(page.problems, []);
    await page.close();
  } finally {
    await locked.stop();
  }
});
