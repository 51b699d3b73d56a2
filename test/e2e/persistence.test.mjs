// The embedded store: configuration survives a restart and a kill -9 right after a 201.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, api } from './lib/harness.mjs';

test('configuration survives a clean restart on the same data dir', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'eg-restart-'));
  try {
    let gw = await startGateway({ dataDir });
    assert.equal((await api(gw.configUrl, 'POST', '/v1/spaces/default/functions',
      { functionId: 'keep', type: 'http', provider: { url: 'http://127.0.0.1:9/' } })).status, 201);
    assert.equal((await api(gw.configUrl, 'POST', '/v1/spaces/default/subscriptions',
      { functionId: 'keep', event: 'user.created', path: '/p' })).status, 201);
    assert.equal(await gw.stop(), 0);

    gw = await startGateway({ dataDir });
    const fns = await api(gw.configUrl, 'GET', '/v1/spaces/default/functions');
    assert.deepEqual(fns.json.functions.map((f) => f.functionId), ['keep']);
    const subs = await api(gw.configUrl, 'GET', '/v1/spaces/default/subscriptions');
    assert.equal(subs.json.subscriptions.length, 1);
    assert.equal(await gw.stop(), 0);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('an acknowledged write survives kill -9', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'eg-kill-'));
  try {
    let gw = await startGateway({ dataDir });
    const ids = [];
    for (let i = 0; i < 20; i++) {
      const res = await api(gw.configUrl, 'POST', '/v1/spaces/default/functions',
        { functionId: `fn${i}`, type: 'http', provider: { url: 'http://127.0.0.1:9/' } });
      assert.equal(res.status, 201);
      ids.push(`fn${i}`);
    }
    gw.kill9();
    gw = await startGateway({ dataDir });
    const fns = await api(gw.configUrl, 'GET', '/v1/spaces/default/functions');
    assert.deepEqual(fns.json.functions.map((f) => f.functionId).sort(), ids.sort());
    await gw.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
