// Checks the e2e harness itself, without the gateway binary: the gateway side runs
// against a small stand-in process that serves /v1/status.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { api, freePort, startFunctionServer, startGateway, waitFor } from './lib/harness.mjs';

describe('freePort', () => {
  test('returns a loopback port that can be bound', async () => {
    const port = await freePort();
    assert.ok(Number.isInteger(port) && port > 0 && port < 65536, `port ${port}`);
    const server = net.createServer();
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('startFunctionServer', () => {
  test('records requests and answers 200 {"ok":true} by default', async () => {
    const fn = await startFunctionServer();
    try {
      assert.equal(fn.url, `http://127.0.0.1:${fn.port}`);
      const res = await api(fn.url, 'POST', '/hook?x=1', { hello: 'world' }, { 'x-custom': 'v' });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { ok: true });
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(fn.requests.length, 1);
      const [req] = fn.requests;
      assert.equal(req.method, 'POST');
      assert.equal(req.url, '/hook?x=1');
      assert.equal(req.headers['x-custom'], 'v');
      assert.equal(req.headers['content-type'], 'application/json');
      assert.equal(req.body, '{"hello":"world"}');
    } finally {
      await fn.close();
    }
  });

  test('answers with the handler, which setHandler replaces', async () => {
    const fn = await startFunctionServer(async (req) => ({
      status: 201,
      headers: { 'content-type': 'text/plain', 'x-echo': req.method },
      body: `got ${req.body}`,
    }));
    try {
      let res = await api(fn.url, 'PUT', '/', 'raw text');
      assert.equal(res.status, 201);
      assert.equal(res.text, 'got raw text');
      assert.equal(res.json, null);
      assert.equal(res.headers['x-echo'], 'PUT');

      fn.setHandler(() => ({ status: 503, body: { down: true } }));
      res = await api(fn.url, 'GET', '/');
      assert.equal(res.status, 503);
      assert.deepEqual(res.json, { down: true });

      fn.setHandler(() => undefined);
      res = await api(fn.url, 'GET', '/');
      assert.deepEqual(res.json, { ok: true });

      fn.setHandler(() => {
        throw new Error('handler broke');
      });
      res = await api(fn.url, 'GET', '/');
      assert.equal(res.status, 500);
      assert.deepEqual(res.json, { error: 'handler broke' });

      fn.setHandler(() => ({ destroy: true }));
      await assert.rejects(api(fn.url, 'GET', '/'));
      assert.equal(fn.requests.length, 5);
    } finally {
      await fn.close();
    }
  });

  test('waitForRequests resolves once enough requests arrived', async () => {
    const fn = await startFunctionServer();
    try {
      setTimeout(() => api(fn.url, 'POST', '/late', 'x'), 50);
      const requests = await fn.waitForRequests(1, { timeout: 3000 });
      assert.equal(requests[0].url, '/late');
      await assert.rejects(fn.waitForRequests(2, { timeout: 100 }), /2 request\(s\).*have 1/);
    } finally {
      await fn.close();
    }
  });

  test('close also ends a request the handler never answers', async () => {
    const fn = await startFunctionServer(() => new Promise(() => {}));
    const pending = api(fn.url, 'GET', '/hang').catch((err) => err);
    await fn.waitForRequests(1);
    await fn.close();
    assert.ok((await pending) instanceof Error);
  });
});

describe('waitFor', () => {
  test('returns the first truthy value', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : false), { interval: 5 });
    assert.deepEqual(value, { calls: 3 });
  });

  test('awaits async predicates and retries ones that throw', async () => {
    let calls = 0;
    const value = await waitFor(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error('not yet');
        return 'done';
      },
      { interval: 5 },
    );
    assert.equal(value, 'done');
  });

  test('throws a clear error on timeout, bounded in time', async () => {
    const started = Date.now();
    await assert.rejects(
      waitFor(() => false, { timeout: 100, interval: 10, message: 'the moon' }),
      /waitFor timed out after 100 ms waiting for the moon/,
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 95 && elapsed < 2000, `elapsed ${elapsed} ms`);
    await assert.rejects(
      waitFor(
        () => {
          throw new Error('still broken');
        },
        { timeout: 50 },
      ),
      /last error: Error: still broken/,
    );
  });
});

// A stand-in for the gateway: it takes the harness's flags, serves /v1/status on the
// Config port, writes to both output streams and exits 0 on SIGTERM.
const kFakeGateway = `
import http from 'node:http';
const flag = (name) => {
  const arg = process.argv.find((a) => a.startsWith('--' + name + '='));
  return arg && arg.slice(name.length + 3);
};
if (process.env.FAKE_FAIL) {
  console.error('fatal: ' + process.env.FAKE_FAIL);
  process.exit(3);
}
console.log('args ' + JSON.stringify(process.argv.slice(2)));
const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/v1/status' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ port: server.address().port }));
});
server.listen(Number(flag('config-port')), '127.0.0.1', () => console.error('ready'));
process.on('SIGTERM', () => {
  console.log('draining');
  server.close(() => process.exit(0));
});
`;

describe('startGateway', () => {
  let dir;
  let binary;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eg-harness-'));
    fs.writeFileSync(path.join(dir, 'fake.mjs'), kFakeGateway);
    binary = path.join(dir, 'fake-gateway');
    fs.writeFileSync(
      binary,
      `#!/bin/sh\nexec '${process.execPath}' '${path.join(dir, 'fake.mjs')}' "$@"\n`,
      { mode: 0o755 },
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('passes dev, data dir and ports, waits for /v1/status, stops with SIGTERM', async () => {
    const gw = await startGateway({ binary, args: ['-workers=3'] });
    try {
      assert.equal(gw.configUrl, `http://127.0.0.1:${gw.configPort}`);
      assert.equal(gw.eventsUrl, `http://127.0.0.1:${gw.eventsPort}`);
      assert.notEqual(gw.configPort, gw.eventsPort);
      assert.ok(fs.statSync(gw.dataDir).isDirectory());
      const res = await api(gw.configUrl, 'GET', '/v1/status');
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { port: gw.configPort });
      await waitFor(() => gw.logs().includes('ready'));
      assert.match(
        gw.logs(),
        new RegExp(
          `args \\["-dev","--embed-data-dir=${gw.dataDir}","--config-port=${gw.configPort}",` +
            `"--events-port=${gw.eventsPort}","-workers=3"\\]`,
        ),
      );
    } finally {
      assert.equal(await gw.stop(), 0);
    }
    assert.match(gw.logs(), /draining/);
    assert.equal(await gw.stop(), 0, 'stopping twice answers the same exit code');
  });

  test('uses ports and data dir given by the caller, without -dev when asked', async () => {
    const port = await freePort();
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir);
    const gw = await startGateway({ binary, dev: false, dataDir, args: [`--config-port=${port}`] });
    try {
      assert.equal(gw.configPort, port);
      assert.equal(gw.dataDir, dataDir);
      assert.doesNotMatch(gw.logs(), /"-dev"/);
    } finally {
      assert.equal(await gw.kill9(), 'SIGKILL');
    }
  });

  test('reports the output of a process that exits before it is ready', async () => {
    await assert.rejects(
      startGateway({ binary, env: { FAKE_FAIL: 'no store' } }),
      (err) => /exited \(3\) before it was ready/.test(err.message) && /fatal: no store/.test(err.message),
    );
  });

  test('fails clearly when the binary cannot be started', async () => {
    await assert.rejects(
      startGateway({ binary: path.join(dir, 'missing') }),
      /cannot start .*missing: .*ENOENT|exited/,
    );
  });
});
