// A real etcd cluster on loopback ports for end-to-end tests and benchmarks: N members
// of Debian's etcd (ETCD_BINARY, default /usr/bin/etcd), data in temporary directories,
// fast elections. Members can be stopped (SIGTERM or SIGKILL) and started again on
// their data directories. Every wait is bounded.
//
// Every etcd process started here is killed when the node process exits, however it
// ends; the data directories are removed then too.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  freePorts, sleep, trackTempDir,
} from './harness.mjs';
import { ServerGroup, ServerProcess } from './server_process.mjs';

const kDefaultBinary = '/usr/bin/etcd';
const kHealthyTimeoutMs = 20000;
const kRequestTimeoutMs = 2000;
const kPollIntervalMs = 50;
const kStartAttempts = 3;

async function postJson(url, body, timeout = kRequestTimeoutMs) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
    signal: AbortSignal.timeout(timeout),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${url}: ${res.status} ${text}`);
  return JSON.parse(text);
}



class EtcdMember extends ServerProcess {
  constructor({ binary, name, clientPort, peerPort, dataDir, initialCluster, token, extraArgs }) {
    super(`etcd member ${name}`);
    this.binary = binary;
    this.name = name;
    this.clientPort = clientPort;
    this.peerPort = peerPort;
    this.clientUrl = `http://127.0.0.1:${clientPort}`;
    this.peerUrl = `http://127.0.0.1:${peerPort}`;
    // "host:port", the form -db-hosts takes.
    this.endpoint = `127.0.0.1:${clientPort}`;
    this.dataDir = dataDir;
    this.initialCluster = initialCluster;
    this.token = token;
    this.extraArgs = extraArgs;
    // Filled from the member's status once it answered.
    this.memberId = undefined;
  }

  argv(state) {
    return [
      `--name=${this.name}`,
      `--data-dir=${this.dataDir}`,
      `--listen-client-urls=${this.clientUrl}`,
      `--advertise-client-urls=${this.clientUrl}`,
      `--listen-peer-urls=${this.peerUrl}`,
      `--initial-advertise-peer-urls=${this.peerUrl}`,
      `--initial-cluster=${this.initialCluster}`,
      `--initial-cluster-token=${this.token}`,
      `--initial-cluster-state=${state}`,
      '--heartbeat-interval=50',
      '--election-timeout=500',
      '--logger=zap',
      '--log-outputs=stderr',
      '--log-level=warn',
      ...this.extraArgs,
    ];
  }

  // Spawns the member; `state` is "new" the first time, "existing" on a restart (etcd
  // ignores it once the data directory holds a member, but says what is meant).
  spawn(state) {
    this.spawnProcess(this.binary, this.argv(state), `start (${state})`);
  }

  async start({ timeout = kHealthyTimeoutMs } = {}) {
    this.spawn('existing');
    await this.waitHealthy({ timeout });
  }

  // {health: bool, ...} from GET /health; throws when the member does not answer.
  async health(timeout = kRequestTimeoutMs) {
    const res = await fetch(`${this.clientUrl}/health`, { signal: AbortSignal.timeout(timeout) });
    const text = await res.text();
    const json = JSON.parse(text);
    return { ...json, healthy: res.status === 200 && String(json.health) === 'true' };
  }

  // POST /v3/maintenance/status: {header: {member_id, ...}, leader, raftTerm, ...}.
  async status(timeout = kRequestTimeoutMs) {
    const status = await postJson(`${this.clientUrl}/v3/maintenance/status`, {}, timeout);
    this.memberId = status.header?.member_id;
    return status;
  }

  async waitHealthy({ timeout = kHealthyTimeoutMs } = {}) {
    await this.waitUntil(async (t) => {
      const h = await this.health(t);
      if (!h.healthy) return { ok: false, detail: JSON.stringify(h) };
      await this.status();
      return { ok: true };
    }, { timeout });
  }
}

class EtcdCluster extends ServerGroup {
  // "host:port,host:port,..." for -db-hosts.
  get endpoints() {
    return this.members.map((m) => m.endpoint).join(',');
  }

  get clientUrls() {
    return this.members.map((m) => m.clientUrl);
  }

  // The running member that every running member names as leader; waits (bounded)
  // until they agree on one.
  async leader({ timeout = kHealthyTimeoutMs } = {}) {
    const deadline = Date.now() + timeout;
    let last = 'no answer yet';
    for (;;) {
      try {
        const up = this.running();
        const statuses = await Promise.all(up.map((m) => m.status()));
        const leaders = new Set(statuses.map((s) => s.leader));
        const leaderId = statuses[0]?.leader;
        const leader = up.find((m) => m.memberId === leaderId);
        if (leaders.size === 1 && leaderId && leaderId !== '0' && leader) return leader;
        last = `leaders named: ${[...leaders].join(', ')}`;
      } catch (err) {
        last = err.message;
      }
      if (Date.now() >= deadline) {
        throw new Error(`etcd cluster has no agreed leader within ${timeout} ms (${last})`);
      }
      await sleep(kPollIntervalMs);
    }
  }

  async followers() {
    const leader = await this.leader();
    return this.running().filter((m) => m !== leader);
  }

  // Starts every stopped member at once (a lone member of a larger cluster cannot get
  // healthy without quorum, so they start together) and waits until all are healthy.
  async startAll({ timeout = kHealthyTimeoutMs } = {}) {
    const stopped = this.members.filter((m) => !m.running());
    for (const m of stopped) m.spawn('existing');
    await this.waitHealthy({ timeout });
  }

}

async function startOnce({ size, binary, extraArgs }) {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eg-etcd-'));
  trackTempDir(baseDir);
  const ports = await freePorts(2 * size);
  const token = `eg-e2e-${process.pid}-${path.basename(baseDir)}`;
  const specs = Array.from({ length: size }, (_, i) => ({
    name: `m${i}`,
    clientPort: ports[2 * i],
    peerPort: ports[2 * i + 1],
    dataDir: path.join(baseDir, `m${i}`),
  }));
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peerPort}`).join(',');
  const members = specs.map((s) => new EtcdMember({ ...s, binary, initialCluster, token, extraArgs }));
  const cluster = new EtcdCluster(members, baseDir);
  for (const m of members) m.spawn('new');
  try {
    await cluster.waitHealthy();
    await cluster.leader();
    return cluster;
  } catch (err) {
    await cluster.destroy();
    err.logs = cluster.logs();
    throw err;
  }
}

// Starts a `size`-member etcd cluster on free loopback ports and resolves once every
// member is healthy and they agree on a leader. `extraArgs` go to every member.
export async function startEtcdCluster({ size = 3, binary, extraArgs = [] } = {}) {
  const bin = binary ?? process.env.ETCD_BINARY ?? kDefaultBinary;
  if (!fs.existsSync(bin)) throw new Error(`etcd binary ${bin} not found (apt-get install etcd-server)`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce({ size, binary: bin, extraArgs });
    } catch (err) {
      // Another process may have taken a port between choosing it and etcd's bind.
      const portTaken = /address already in use/i.test(err.logs ?? '');
      if (!portTaken || attempt >= kStartAttempts) throw err;
    }
  }
}

// Whether etcd can be run here; tests skip with this reason otherwise.
export function etcdUnavailableReason(binary) {
  const bin = binary ?? process.env.ETCD_BINARY ?? kDefaultBinary;
  return fs.existsSync(bin) ? undefined : `${bin} not found (apt-get install etcd-server)`;
}

// Raw v3 HTTP/JSON helpers on one client URL (keys and values as UTF-8 strings).
const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s) => Buffer.from(s ?? '', 'base64').toString('utf8');

// The key just past every key starting with `prefix` (etcd's range_end for a prefix).
function prefixEnd(prefix) {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] += 1;
      return end.toString('base64');
    }
  }
  return b64('\0');
}

export async function etcdRangePrefix(clientUrl, prefix) {
  const res = await postJson(`${clientUrl}/v3/kv/range`, { key: b64(prefix), range_end: prefixEnd(prefix) });
  return (res.kvs ?? []).map((kv) => ({ key: unb64(kv.key), value: unb64(kv.value) }));
}

export async function etcdDeletePrefix(clientUrl, prefix) {
  const res = await postJson(`${clientUrl}/v3/kv/deleterange`, { key: b64(prefix), range_end: prefixEnd(prefix) });
  return Number(res.deleted ?? 0);
}
