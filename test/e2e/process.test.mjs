// The binary's flags, logs and signals (spec §1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startGateway, api, freePort } from './lib/harness.mjs';

const binary = process.env.EG_BINARY;
const run = (args) => spawnSync(binary, args, { encoding: 'utf8', timeout: 10000 });

test('-version and --version print the version and exit 0', () => {
  for (const flag of ['-version', '--version']) {
    const r = run([flag]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /\d+\.\d+\.\d+/);
  }
});

test('an unknown flag or a bad value prints usage and exits 2', () => {
  for (const args of [['-no-such-flag'], ['--config-port=notanumber'], ['-events-port', '70000'],
    ['-workers=0'], ['-log-level=loud'], ['stray-positional']]) {
    const r = run(args);
    assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}`);
    assert.match(r.stderr, /-config-port/, `${args.join(' ')} should print usage`);
  }
});

test('Go-style flag forms are all accepted', async () => {
  for (const form of [(p) => [`-config-port=${p}`], (p) => ['--config-port', `${p}`], (p) => [`--config-port=${p}`],
    (p) => ['-config-port', `${p}`, '--dev=true']]) {
    const port = await freePort();
    const gw = await startGateway({ args: form(port) });
    assert.equal(gw.configPort, port);
    assert.equal((await api(gw.configUrl, 'GET', '/v1/status')).status, 200);
    assert.equal(await gw.stop(), 0);
  }
});

test('SIGTERM and SIGINT stop the gateway cleanly with exit 0', async () => {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    const gw = await startGateway();
    assert.equal(await gw.stop(signal), 0, gw.logs());
  }
});

test('-log-format json writes one JSON object per line; -log-level filters', async () => {
  const gw = await startGateway({ args: ['-log-format=json', '-log-level=debug'] });
  await api(gw.configUrl, 'POST', '/v1/spaces/default/functions',
    { functionId: 'logged', type: 'http', provider: { url: 'http://127.0.0.1:9/' } });
  assert.equal(await gw.stop(), 0);
  const lines = gw.logs().split('\n').filter((l) => l.trim().length > 0);
  assert.ok(lines.length > 0);
  for (const line of lines) {
    const entry = JSON.parse(line);
    assert.ok(entry.time && entry.level && typeof entry.msg === 'string', line);
  }

  const quiet = await startGateway({ args: ['-log-level=error'] });
  await api(quiet.configUrl, 'POST', '/v1/spaces/default/functions',
    { functionId: 'quiet', type: 'http', provider: { url: 'http://127.0.0.1:9/' } });
  assert.equal(await quiet.stop(), 0);
  assert.doesNotMatch(quiet.logs(), /info/i);
});
