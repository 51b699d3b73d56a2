// Helpers for the Events API end-to-end tests: configuration shortcuts, raw HTTP
// requests with exactly the headers given, a probe that waits until configuration
// changes reach routing, and Prometheus text parsing. Built on harness.mjs.

import http from 'node:http';
import net from 'node:net';
import { api, waitFor, startFunctionServer } from './harness.mjs';

const kRequestTimeoutMs = 10000;

// Function servers started through functionServer(); closeServers() closes them all so
// that the test process can end.
const servers = new Set();

export async function functionServer(handler) {
  const server = await startFunctionServer(handler);
  servers.add(server);
  return server;
}

export async function closeServers() {
  const all = [...servers];
  servers.clear();
  await Promise.all(all.map((s) => s.close()));
}

// POSTs a Config API resource and returns its JSON; throws unless the answer is 201.
export async function create(gw, space, resource, body) {
  const res = await api(gw.configUrl, 'POST', `/v1/spaces/${space}/${resource}`, body);
  if (res.status !== 201) {
    throw new Error(`POST /v1/spaces/${space}/${resource} ${JSON.stringify(body)}: ${res.status} ${res.text}`);
  }
  return res.json;
}

// An `http` function calling `url`; `provider` adds provider fields (timeout, ...).
export function createFunction(gw, space, functionId, url, provider = {}) {
  return create(gw, space, 'functions', { functionId, type: 'http', provider: { url, ...provider } });
}

export function createEventType(gw, space, name, extra = {}) {
  return create(gw, space, 'eventtypes', { name, ...extra });
}

export function subscribe(gw, space, body) {
  return create(gw, space, 'subscriptions', body);
}

// One HTTP request sent with exactly `headers` (plus Host and, with a body,
// Content-Length): no Content-Type is added. Resolves {status, headers, text, json}.
export function send(baseUrl, { method = 'POST', path = '/', headers = {}, body, timeout = kRequestTimeoutMs, agent } = {}) {
  return new Promise((resolve, reject) => {
    const url = new URL(path, baseUrl);
    const payload = body === undefined ? undefined
      : Buffer.isBuffer(body) ? body
        : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const outHeaders = { ...headers };
    if (payload !== undefined) outHeaders['Content-Length'] = String(payload.length);
    const req = http.request({
      host: url.hostname, port: url.port, method, path: url.pathname + url.search,
      headers: outHeaders, agent,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = text === '' ? null : JSON.parse(text); } catch { json = null; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeout} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

// Sends a structured CloudEvent (Content-Type application/cloudevents+json).
export function emitStructured(baseUrl, event, { path = '/', headers = {} } = {}) {
  return send(baseUrl, {
    method: 'POST', path, body: JSON.stringify(event),
    headers: { 'Content-Type': 'application/cloudevents+json', ...headers },
  });
}

// A raw connection to 127.0.0.1:`port`, for what node's client hides: the request
// target exactly as written, and one connection kept across requests. exchange(text)
// sends `text` and resolves the next answer {status, headers (lower-case names), text,
// json}; `closed` turns true once the connection is closed.
export async function rawConnection(port) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const conn = { socket, closed: false };
  let buffered = '';
  let waiter = null;
  const deliver = () => {
    if (!waiter) return;
    const end = buffered.indexOf('\r\n\r\n');
    if (end >= 0) {
      const lines = buffered.slice(0, end).split('\r\n');
      const headers = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (buffered.length >= end + 4 + length) {
        const text = buffered.slice(end + 4, end + 4 + length);
        buffered = buffered.slice(end + 4 + length);
        let json = null;
        try { json = text === '' ? null : JSON.parse(text); } catch { json = null; }
        waiter.resolve({ status: Number(lines[0].split(' ')[1]), headers, text, json });
        return;
      }
    }
    if (conn.closed) waiter.reject(new Error(`closed before a whole answer: ${JSON.stringify(buffered)}`));
  };
  socket.on('data', (chunk) => { buffered += chunk.toString('latin1'); deliver(); });
  socket.on('error', () => {});
  socket.on('close', () => { conn.closed = true; deliver(); });
  conn.exchange = (text, timeout = kRequestTimeoutMs) => new Promise((resolve, reject) => {
    const finish = (fn, value) => { clearTimeout(timer); waiter = null; fn(value); };
    const timer = setTimeout(() => finish(reject, new Error(`no answer within ${timeout} ms`)), timeout);
    waiter = { resolve: (v) => finish(resolve, v), reject: (e) => finish(reject, e) };
    socket.write(text);
  });
  return conn;
}

let eventCounter = 0;
// A valid CloudEvents 0.1 event of `eventType`.
export function cloudEvent(eventType, data = { n: 1 }, extra = {}) {
  eventCounter += 1;
  return {
    eventType, cloudEventsVersion: '0.1', source: '/e2e/tests',
    eventID: `e2e-${process.pid}-${eventCounter}`, contentType: 'application/json', data, ...extra,
  };
}

// The `errors[0].message` of an error answer; fails the test when the body is not one.
export function errorMessage(res) {
  if (!res.json || !Array.isArray(res.json.errors) || res.json.errors.length === 0 ||
      typeof res.json.errors[0].message !== 'string') {
    throw new Error(`expected {"errors":[{"message":…}]}, got ${res.status} ${res.text}`);
  }
  return res.json.errors[0].message;
}

// The CloudEvents a function server received (each request body parsed).
export function received(server) {
  return server.requests.map((r) => JSON.parse(r.body));
}

// Resolves after `ms`: only to let something that must NOT happen have its chance.
export function quietPeriod(ms = 300) {
  return new Promise((resolve) => setTimeout(resolve, Math.min(ms, 300)));
}

// Waits until every configuration change made so far is used by routing. The
// configuration reaches routing through the store's watch, in order: a new sync
// subscription of a probe function answering 200 shows that all earlier changes did too.
const probes = new WeakMap();
export async function settle(gw, { timeout = 5000 } = {}) {
  let probe = probes.get(gw);
  if (!probe) {
    const server = await functionServer(() => ({ body: { statusCode: 200, body: 'probe' } }));
    await createEventType(gw, 'e2eprobe', 'http.request');
    await createFunction(gw, 'e2eprobe', 'probe', server.url);
    probe = { server, n: 0 };
    probes.set(gw, probe);
  }
  probe.n += 1;
  const path = `/e2e-probe/${probe.n}`;
  await subscribe(gw, 'e2eprobe', { type: 'sync', eventType: 'http.request', functionId: 'probe', method: 'GET', path });
  let last;
  await waitFor(async () => {
    last = await send(gw.eventsUrl, { method: 'GET', path });
    return last.status === 200;
  }, { timeout, message: () => `configuration to reach routing (GET ${path} last answered ${last?.status} ${last?.text})` });
}

// Sum of the samples of metric `name` whose labels include all of `labels`, from
// Prometheus text format. 0 when there is none.
export function metricValue(text, name, labels = {}) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[lm[1]] = lm[2];
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export async function metrics(gw) {
  const res = await api(gw.configUrl, 'GET', '/v1/metrics');
  if (res.status !== 200) throw new Error(`GET /v1/metrics: ${res.status}`);
  return res.text;
}

// Resolves to the exit code (or signal name) once `proc` exited; rejects after `timeout`.
export function waitExit(proc, timeout = 15000) {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve(proc.exitCode ?? proc.signalCode);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process did not exit within ${timeout} ms`)), timeout);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal);
    });
  });
}

// A header of a node response, case-insensitively; undefined when absent.
export function header(res, name) {
  const key = Object.keys(res.headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : res.headers[key];
}

export { waitFor };
