// One server process (an etcd member, a nats-server) that tests start, crash and start
// again: its output kept (the tail), bounded stops, and a bounded wait for health.
// Killed when the test process exits, however it ends (harness.mjs's trackProcess).

import { spawn } from 'node:child_process';
import fs from 'node:fs';

import { sleep, trackProcess, untrackTempDir, waitForExit as waitForClose } from './harness.mjs';

const kStopTimeoutMs = 10000;
const kPollIntervalMs = 50;
const kRequestTimeoutMs = 2000;
const kKeptOutput = 200000;
const kHealthyTimeoutMs = 20000;

export class ServerProcess {
  // `what` names it in errors: "etcd member n1", "nats-server n0".
  constructor(what) {
    this.what = what;
    this.proc = undefined;
    this.output = '';
  }

  running() {
    const proc = this.proc;
    return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
  }

  logs() {
    return this.output;
  }

  spawnProcess(binary, args, note = 'start') {
    if (this.running()) throw new Error(`${this.what} is already running`);
    this.output += `--- ${note} ---\n`;
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackProcess(proc);
    proc.unref();
    for (const stream of [proc.stdout, proc.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        // Keep the tail only: a long run must not grow this without bound.
        this.output = (this.output + chunk).slice(-kKeptOutput);
      });
      stream.unref?.();
    }
    proc.egClosed = false;
    proc.on('error', (err) => {
      this.output += `spawn error: ${err.message}\n`;
    });
    proc.on('close', () => {
      proc.egClosed = true;
    });
    this.proc = proc;
  }

  // Stops it with `signal` and waits until it is gone (SIGKILL after the bound).
  async stop(signal = 'SIGTERM', { timeout = kStopTimeoutMs } = {}) {
    const proc = this.proc;
    if (!proc) return;
    if (this.running()) proc.kill(signal);
    if (!(await waitForClose(proc, timeout))) {
      proc.kill('SIGKILL');
      await waitForClose(proc, kStopTimeoutMs);
    }
  }

  // A crash: no goodbye, no flush.
  async kill9() {
    await this.stop('SIGKILL');
  }

  // Polls `probe(timeoutMs)` until it answers {ok: true}; throws with the logs when the
  // process exits first or `timeout` passes. `probe` answers {ok, detail} or throws.
  async waitUntil(probe, { timeout, what = 'healthy' }) {
    const deadline = Date.now() + timeout;
    let last = 'no answer yet';
    for (;;) {
      if (!this.running()) {
        await waitForClose(this.proc, 2000);
        const err = new Error(`${this.what} exited (${this.proc.exitCode ?? this.proc.signalCode})` +
          `\n--- logs ---\n${this.output}`);
        err.logs = this.output;
        throw err;
      }
      try {
        const answer = await probe(Math.min(kRequestTimeoutMs, Math.max(100, deadline - Date.now())));
        if (answer.ok) return;
        last = answer.detail;
      } catch (err) {
        last = err.message;
      }
      if (Date.now() >= deadline) {
        const err = new Error(`${this.what} not ${what} within ${timeout} ms (${last})` +
          `\n--- logs ---\n${this.output}`);
        err.logs = this.output;
        throw err;
      }
      await sleep(kPollIntervalMs);
    }
  }
}

// The members of one cluster, with their data under `baseDir`.
export class ServerGroup {
  constructor(members, baseDir) {
    this.members = members;
    this.baseDir = baseDir;
  }

  running() {
    return this.members.filter((m) => m.running());
  }

  logs() {
    return this.members.map((m) => `=== ${m.name} ===\n${m.logs()}`).join('\n');
  }

  async waitHealthy({ timeout = kHealthyTimeoutMs } = {}) {
    await Promise.all(this.running().map((m) => m.waitHealthy({ timeout })));
  }

  // Stops every running member at once (SIGKILL by default: a leader asked to stop
  // gracefully may try to hand over first, slow when its followers stop too).
  async stopAll(signal = 'SIGKILL') {
    await Promise.all(this.members.map((m) => m.stop(signal)));
  }

  // Stops every member and removes the data directories.
  async destroy() {
    await this.stopAll('SIGKILL');
    fs.rmSync(this.baseDir, { recursive: true, force: true });
    untrackTempDir(this.baseDir);
  }
}
