// Real NATS servers with JetStream on loopback ports for end-to-end tests of the NATS
// delivery queue: one server, or a cluster of N (Debian's nats-server, NATS_SERVER_BINARY
// to override), data in temporary directories. Members can be stopped (SIGTERM, or
// SIGKILL as a crash) and started again on their ports and data. Every wait is bounded.
//
// Readiness is read from each server's monitoring port: GET /healthz answers 200 once
// JetStream is up and (in a cluster) knows its meta leader.
//
// Every nats-server started here is killed when the node process exits, however it ends;
// the data directories are removed then too.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  freePorts, sleep, trackTempDir,
} from './harness.mjs';
import { ServerGroup, ServerProcess } from './server_process.mjs';

const kDefaultBinaries = ['/usr/sbin/nats-server', '/usr/bin/nats-server'];
const kHealthyTimeoutMs = 20000;
const kRequestTimeoutMs = 2000;
const kPollIntervalMs = 50;
const kStartAttempts = 3;

function defaultBinary() {
  return process.env.NATS_SERVER_BINARY || kDefaultBinaries.find((b) => fs.existsSync(b)) || kDefaultBinaries[0];
}



async function getJson(url, timeout = kRequestTimeoutMs) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeout) });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: reported through text
  }
  return { status: res.status, json, text };
}

class NatsMember extends ServerProcess {
  constructor({ binary, name, port, clusterPort, httpPort, dataDir, configFile, routes, clusterName }) {
    super(`nats-server ${name}`);
    this.binary = binary;
    this.name = name;
    this.port = port;
    this.clusterPort = clusterPort;
    this.httpPort = httpPort;
    // "host:port" (a part of the gateway's -queue nats://... flag) and the full URL.
    this.endpoint = `127.0.0.1:${port}`;
    this.url = `nats://127.0.0.1:${port}`;
    this.monitorUrl = `http://127.0.0.1:${httpPort}`;
    this.dataDir = dataDir;
    this.configFile = configFile;
    this.routes = routes;
    this.clusterName = clusterName;
  }

  config() {
    const lines = [
      `server_name: "${this.name}"`,
      `listen: "127.0.0.1:${this.port}"`,
      `http: "127.0.0.1:${this.httpPort}"`,
      'jetstream {',
      `  store_dir: "${this.dataDir}"`,
      '  max_memory_store: 256MB',
      '  max_file_store: 8GB',
      '}',
      // Events up to the gateway's -max-body-size (6 MiB by default) must fit a message.
      'max_payload: 8MB',
    ];
    if (this.routes.length > 0) {
      lines.push(
        'cluster {',
        `  name: "${this.clusterName}"`,
        `  listen: "127.0.0.1:${this.clusterPort}"`,
        `  routes: [${this.routes.map((r) => `"${r}"`).join(', ')}]`,
        '}',
      );
    }
    return `${lines.join('\n')}\n`;
  }

  spawn() {
    fs.writeFileSync(this.configFile, this.config());
    this.spawnProcess(this.binary, ['-c', this.configFile]);
  }

  // Starts it again on its ports and data, and waits until it is healthy.
  async start({ timeout = kHealthyTimeoutMs } = {}) {
    this.spawn();
    await this.waitHealthy({ timeout });
  }

  // {status, json, text} of GET /healthz; throws when the server does not answer.
  async health(timeout = kRequestTimeoutMs) {
    return getJson(`${this.monitorUrl}/healthz`, timeout);
  }

  // GET /jsz with `query` (e.g. "streams=true&accounts=true").
  async jsz(query = '', timeout = kRequestTimeoutMs) {
    const { status, json, text } = await getJson(`${this.monitorUrl}/jsz${query ? `?${query}` : ''}`, timeout);
    if (status !== 200 || !json) throw new Error(`GET /jsz of ${this.name}: ${status} ${text}`);
    return json;
  }

  async waitHealthy({ timeout = kHealthyTimeoutMs } = {}) {
    await this.waitUntil(async (t) => {
      const h = await this.health(t);
      return { ok: h.status === 200, detail: h.text };
    }, { timeout });
  }
}

class NatsCluster extends ServerGroup {
  // The gateway's flag value: -queue nats://127.0.0.1:p1,127.0.0.1:p2,...
  get servers() {
    return `nats://${this.members.map((m) => m.endpoint).join(',')}`;
  }

  get urls() {
    return this.members.map((m) => m.url);
  }

  // The member leading `stream` (in the global account), as the running members report
  // it; waits (bounded) until one does. Useful to kill exactly the leader.
  async streamLeader(stream, { timeout = kHealthyTimeoutMs } = {}) {
    const deadline = Date.now() + timeout;
    let last = 'no answer yet';
    for (;;) {
      for (const m of this.running()) {
        try {
          const jsz = await m.jsz('accounts=true&streams=true');
          for (const account of jsz.account_details ?? []) {
            for (const s of account.stream_detail ?? []) {
              const leaderName = s.cluster?.leader;
              const leader = this.members.find((x) => x.name === leaderName && x.running());
              if (s.name === stream && leader) return leader;
            }
          }
          last = `${m.name} names no leader of ${stream}`;
        } catch (err) {
          last = err.message;
        }
      }
      if (Date.now() >= deadline) {
        throw new Error(`no leader of stream ${stream} within ${timeout} ms (${last})`);
      }
      await sleep(kPollIntervalMs);
    }
  }

  // Starts every stopped member at once (a lone member cannot find a meta leader) and
  // waits until all are healthy.
  async startAll({ timeout = kHealthyTimeoutMs } = {}) {
    for (const m of this.members.filter((x) => !x.running())) m.spawn();
    await this.waitHealthy({ timeout });
  }

  // Stops every member and removes the data directories.
  async stop() {
    await this.destroy();
  }
}

async function startOnce({ size, binary }) {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eg-nats-'));
  trackTempDir(baseDir);
  const ports = await freePorts(3 * size);
  const specs = Array.from({ length: size }, (_, i) => ({
    name: `n${i}`,
    port: ports[3 * i],
    clusterPort: ports[3 * i + 1],
    httpPort: ports[3 * i + 2],
    dataDir: path.join(baseDir, `n${i}`),
    configFile: path.join(baseDir, `n${i}.conf`),
  }));
  const clusterName = `eg-e2e-${process.pid}-${path.basename(baseDir)}`;
  const members = specs.map((s) => new NatsMember({
    ...s,
    binary,
    clusterName,
    routes: size > 1
      ? specs.filter((o) => o !== s).map((o) => `nats://127.0.0.1:${o.clusterPort}`)
      : [],
  }));
  const cluster = new NatsCluster(members, baseDir);
  for (const m of members) m.spawn();
  try {
    await cluster.waitHealthy();
    return cluster;
  } catch (err) {
    const logs = cluster.logs();
    await cluster.stop();
    err.logs = logs;
    throw err;
  }
}

// Starts `size` NATS servers with JetStream (size > 1: one cluster, each a route to the
// others) on free loopback ports, and resolves once every one is healthy.
export async function startNatsCluster({ size = 3, binary } = {}) {
  const bin = binary ?? defaultBinary();
  if (!fs.existsSync(bin)) throw new Error(`nats-server binary ${bin} not found (apt-get install nats-server)`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce({ size, binary: bin });
    } catch (err) {
      // Another process may have taken a port between choosing it and the server's bind.
      const portTaken = /address already in use/i.test(err.logs ?? '');
      if (!portTaken || attempt >= kStartAttempts) throw err;
    }
  }
}

// Whether nats-server can be run here; tests skip with this reason otherwise.
export function natsUnavailableReason(binary) {
  const bin = binary ?? defaultBinary();
  return fs.existsSync(bin) ? undefined : `${bin} not found (apt-get install nats-server)`;
}
