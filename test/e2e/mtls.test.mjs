// Mutual TLS on the Events API (spec §6): certificates made by openssl here; a client
// without a certificate, or with one another CA signed, is refused; the right one is
// served. TLS 1.2 or later only. SIGHUP reloads the files without dropping connections.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { startGateway, waitFor } from './lib/harness.mjs';
import {
  functionServer, closeServers, createFunction, createEventType, subscribe,
} from './lib/events_helpers.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eg-mtls-'));
const file = (name) => path.join(dir, name);
const openssl = (...args) => execFileSync('openssl', args, { stdio: 'pipe' });

// A CA, and a certificate it signs for `cn` (server certificates name 127.0.0.1).
function makeCa(name) {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
    '-keyout', file(`${name}.key`), '-out', file(`${name}.pem`));
}
function makeCert(name, ca, { server = false } = {}) {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`,
    '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
  const ext = file(`${name}.ext`);
  fs.writeFileSync(ext, server ? 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'
    : 'extendedKeyUsage=clientAuth\n');
  openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file(`${ca}.pem`), '-CAkey', file(`${ca}.key`),
    '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', file(`${name}.pem`));
}

let gw;
let fn;
before(async () => {
  makeCa('ca');
  makeCa('otherca');
  makeCert('server', 'ca', { server: true });
  makeCert('server2', 'ca', { server: true });
  makeCert('client', 'ca');
  makeCert('stranger', 'otherca');
  fs.copyFileSync(file('server.pem'), file('live.pem'));
  fs.copyFileSync(file('server.key'), file('live.key'));
  gw = await startGateway({
    args: ['-events-tls-cert', file('live.pem'), '-events-tls-key', file('live.key'),
      '-events-tls-client-ca', file('ca.pem')],
  });
  fn = await functionServer(() => ({ body: { statusCode: 200, body: 'hello' } }));
  await createEventType(gw, 'mtls', 'http.request');
  await createFunction(gw, 'mtls', 'hello', fn.url);
  await subscribe(gw, 'mtls', { type: 'sync', eventType: 'http.request', functionId: 'hello', method: 'GET', path: '/hello' });
});
after(async () => {
  await closeServers();
  await gw?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

// GET /hello over TLS with `options` (cert, key, ...); resolves {status, body, peer} or
// rejects with the TLS error.
function get(options = {}, agent = undefined) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: gw.eventsPort, path: '/hello', method: 'GET',
      ca: fs.readFileSync(file('ca.pem')), agent: agent ?? false, timeout: 5000, ...options,
    }, (res) => {
      // Read now: a kept-alive socket goes back to its agent when the body ends.
      const serial = res.socket.getPeerCertificate().serialNumber;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), serial }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}
const client = { cert: fs.readFileSync(file('client.pem')), key: fs.readFileSync(file('client.key')) };

test('a client certificate the CA signed is served; none, or another CA\'s, is refused', async () => {
  const served = await waitFor(async () => {
    const r = await get(client).catch(() => null);
    return r?.status === 200 ? r : null;
  }, { timeout: 5000, message: 'the subscription to be routed over mTLS' });
  assert.equal(served.body, 'hello');
  await assert.rejects(get(), /certificate|alert|socket hang up|ECONNRESET/i);
  await assert.rejects(get({
    cert: fs.readFileSync(file('stranger.pem')), key: fs.readFileSync(file('stranger.key')),
  }), /certificate|alert|socket hang up|ECONNRESET/i);
});

test('TLS 1.1 is refused, TLS 1.2 accepted', async () => {
  await assert.rejects(get({ ...client, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }), /version|alert|protocol|ECONNRESET|socket hang up/i);
  const r = await get({ ...client, maxVersion: 'TLSv1.2' });
  assert.equal(r.status, 200);
});

test('SIGHUP loads a new certificate; an open connection keeps working', async () => {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const first = await get(client, agent);
  assert.equal(first.status, 200);
  const before = first.serial;
  fs.copyFileSync(file('server2.pem'), file('live.pem'));
  fs.copyFileSync(file('server2.key'), file('live.key'));
  gw.proc.kill('SIGHUP');
  await waitFor(() => gw.logs().includes('Received SIGHUP'), { timeout: 5000 });
  // The kept-alive connection was not dropped: the same socket, the old certificate.
  const reused = await get(client, agent);
  assert.equal(reused.status, 200);
  assert.equal(reused.serial, before);
  agent.destroy();
  const fresh = await get(client);
  assert.equal(fresh.status, 200);
  assert.notEqual(fresh.serial, before, 'a new connection gets the reloaded certificate');

  // A file that does not load keeps the current certificate in use.
  fs.writeFileSync(file('live.key'), 'not a key');
  gw.proc.kill('SIGHUP');
  await waitFor(() => gw.logs().includes('TLS reload failed'), { timeout: 5000 });
  assert.equal((await get(client)).status, 200);
  assert.equal(gw.proc.exitCode, null);
});
