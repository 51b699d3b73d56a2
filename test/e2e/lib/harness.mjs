// End-to-end harness: starts the real gateway binary on free loopback ports, real
// function servers, and bounded polls. Node 18+ built-ins only.
//
// Every child process started here is killed when the test process exits, however
// the tests end; temporary data directories created here are removed then too.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const kStartTimeoutMs = 10000;
const kPollIntervalMs = 25;
const kStopTimeoutMs = 15000;
const kRequestTimeoutMs = 10000;

const liveProcesses = new Set();
const tempDirs = new Set();
let cleanupRegistered = false;

function registerCleanup() {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  process.on('exit', () => {
    for (const proc of liveProcesses) {
      try {
        proc.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of tempDirs) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort: the OS cleans its temp directory eventually
      }
    }
  });
  // A signal would end the process without 'exit' handlers; turn it into an exit.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => process.exit(128 + os.constants.signals[signal]));
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Processes and temporary directories that must not outlive the test process: killed
// and removed on exit, whichever helper (gateway, etcd member) started or made them.
export function trackProcess(proc) {
  registerCleanup();
  liveProcesses.add(proc);
  proc.on('exit', () => liveProcesses.delete(proc));
}
export function trackTempDir(dir) {
  registerCleanup();
  tempDirs.add(dir);
}
export function untrackTempDir(dir) {
  tempDirs.delete(dir);
}

// A TCP port on 127.0.0.1 that was free a moment ago. Another process may take it
// before it is used; startGateway retries when that happens.
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// `count` distinct free ports: every listener stays open until all are chosen, so the
// kernel cannot hand out the same port twice.
export async function freePorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      server.unref();
      await new Promise((resolve, reject) => {
        server.on('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      servers.push(server);
    }
    return servers.map((server) => server.address().port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(() => resolve()))));
  }
}

// Polls `predicate` (sync or async) until it returns a truthy value, which is returned.
// A predicate that throws counts as "not yet"; its last error is in the timeout message.
// `message` (a string, or a function called at timeout) says what was awaited.
export async function waitFor(predicate, { timeout = 5000, interval = 20, message } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
  const what =
    (typeof message === 'function' ? message() : message) ??
    `condition ${String(predicate).slice(0, 200)}`;
  const reason = lastError ? `; last error: ${lastError.stack ?? lastError}` : '';
  throw new Error(`waitFor timed out after ${timeout} ms waiting for ${what}${reason}`);
}

// One HTTP call. `body` may be a string (sent as is) or a value (sent as JSON);
// undefined sends no body. Answers {status, headers, json, text}: json is the parsed
// body, or null when it is not JSON.
export async function api(baseUrl, method, urlPath, body, headers = {}) {
  const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(kRequestTimeoutMs) };
  if (body !== undefined) {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      const hasType = Object.keys(init.headers).some((k) => k.toLowerCase() === 'content-type');
      if (!hasType) init.headers['content-type'] = 'application/json';
    }
  }
  const res = await fetch(new URL(urlPath, baseUrl), init);
  const text = await res.text();
  let json = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, headers: Object.fromEntries(res.headers), json, text };
}

// The value of a flag in `args` ("-name=v", "--name=v", "-name v"), or undefined.
function flagValue(args, name) {
  let value;
  for (let i = 0; i < args.length; i++) {
    const m = /^--?([^=]+)(?:=(.*))?$/s.exec(args[i]);
    if (!m || m[1] !== name) continue;
    value = m[2] !== undefined ? m[2] : args[i + 1];
  }
  return value;
}

function exitResult(proc) {
  return proc.exitCode !== null ? proc.exitCode : proc.signalCode;
}

// Resolves to true once the process exited and its output pipes closed (so logs()
// holds everything), or false after `timeoutMs`. `proc.egClosed` must have been set
// false at spawn and true on 'close'.
export function waitForExit(proc, timeoutMs) {
  if (proc.egClosed) return Promise.resolve(true);
  return new Promise((resolve) => {
    // The timer also keeps the event loop alive while the child (unref'd) exits.
    const timer = setTimeout(() => resolve(false), timeoutMs);
    proc.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function startOnce({ binary, args, dataDir, env, dev }) {
  // Two fresh ports, so that one chosen here never equals a port given in `args`.
  const given = [flagValue(args, 'config-port'), flagValue(args, 'events-port')].map((p) => (p === undefined ? undefined : Number(p)));
  const fresh = (await freePorts(3)).filter((p) => !given.includes(p));
  const configPort = given[0] ?? fresh[0];
  const eventsPort = given[1] ?? fresh[1];
  const argv = [
    ...(dev ? ['-dev'] : []),
    `--embed-data-dir=${dataDir}`,
    `--config-port=${configPort}`,
    `--events-port=${eventsPort}`,
    ...args,
  ];

  let output = '';
  const proc = spawn(binary, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveProcesses.add(proc);
  // Children must not hold the test process open; the 'exit' cleanup kills them.
  proc.unref();
  for (const stream of [proc.stdout, proc.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      output += chunk;
    });
    stream.unref?.();
  }
  let spawnError;
  proc.on('error', (err) => {
    spawnError = err;
  });
  proc.egClosed = false;
  proc.on('exit', () => liveProcesses.delete(proc));
  proc.on('close', () => {
    proc.egClosed = true;
  });

  const configUrl = `http://127.0.0.1:${configPort}`;
  const eventsUrl = `http://127.0.0.1:${eventsPort}`;
  const gateway = {
    configUrl,
    eventsUrl,
    configPort,
    eventsPort,
    proc,
    dataDir,
    logs: () => output,
    // Sends `signal` and resolves to the exit code (or the signal name when the process
    // died of a signal). A process still running after the bound is killed, and this throws.
    async stop(signal = 'SIGTERM', { timeout = kStopTimeoutMs } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      if (!(await waitForExit(proc, timeout))) {
        proc.kill('SIGKILL');
        await waitForExit(proc, kStopTimeoutMs);
        throw new Error(`gateway did not exit within ${timeout} ms of ${signal}\n--- logs ---\n${output}`);
      }
      return exitResult(proc);
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await waitForExit(proc, kStopTimeoutMs);
      return exitResult(proc);
    },
  };

  const deadline = Date.now() + kStartTimeoutMs;
  for (;;) {
    if (spawnError) {
      throw new Error(`cannot start ${binary}: ${spawnError.message}`);
    }
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await waitForExit(proc, 2000);  // let the last output arrive
      const err = new Error(
        `gateway exited (${exitResult(proc)}) before it was ready: ${binary} ${argv.join(' ')}` +
          `\n--- logs ---\n${output}`,
      );
      err.logs = output;
      throw err;
    }
    try {
      const res = await fetch(`${configUrl}/v1/status`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return gateway;
    } catch {
      // not listening yet
    }
    if (Date.now() >= deadline) {
      await gateway.kill9();
      throw new Error(
        `gateway not ready within ${kStartTimeoutMs} ms (GET ${configUrl}/v1/status)` +
          `\n--- logs ---\n${output}`,
      );
    }
    await sleep(kPollIntervalMs);
  }
}

// Starts process.env.EG_BINARY (or `binary`) with -dev, a data directory (a new
// temporary one unless given) and free Config and Events ports, then `args` (a port
// given in `args` is used instead). Resolves once GET /v1/status answers 200; rejects
// with the process output when it exits first or is not ready within 10 s.
export async function startGateway({ args = [], dataDir, env = {}, dev = true, binary } = {}) {
  registerCleanup();
  const bin = binary ?? process.env.EG_BINARY;
  if (!bin) throw new Error('EG_BINARY is not set: it names the event-gateway binary to test');
  let dir = dataDir;
  if (dir === undefined) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eg-e2e-'));
    tempDirs.add(dir);
  }
  const portsChosenHere =
    flagValue(args, 'config-port') === undefined || flagValue(args, 'events-port') === undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce({ binary: bin, args, dataDir: dir, env, dev });
    } catch (err) {
      // Another process may have taken a port between freePort() and bind.
      const portTaken = /address already in use|EADDRINUSE/i.test(err.logs ?? '');
      if (!portsChosenHere || !portTaken || attempt >= 3) throw err;
    }
  }
}

// A function server on 127.0.0.1 that records every request and answers with `handler`.
// The handler gets the recorded request {method, url, headers, body} and returns (or
// resolves to) {status = 200, headers = {}, body}, where a body that is not a string or
// Buffer is sent as JSON; {destroy: true} drops the connection without an answer.
// Returning nothing answers the default 200 {"ok":true}.
export async function startFunctionServer(handler) {
  registerCleanup();
  let current = handler;
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const request = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      let reply;
      try {
        reply = current ? await current(request) : undefined;
      } catch (err) {
        reply = { status: 500, body: { error: String(err?.message ?? err) } };
      }
      if (reply?.destroy) {
        req.socket.destroy();
        return;
      }
      const { status = 200, headers = {}, body = { ok: true } } = reply ?? {};
      const outHeaders = { ...headers };
      let payload = body;
      if (typeof body !== 'string' && !Buffer.isBuffer(body)) {
        payload = JSON.stringify(body);
        const hasType = Object.keys(outHeaders).some((k) => k.toLowerCase() === 'content-type');
        if (!hasType) outHeaders['content-type'] = 'application/json';
      }
      res.writeHead(status, outHeaders);
      res.end(payload);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setHandler(fn) {
      current = fn;
    },
    // Resolves once `n` requests arrived; returns the requests array.
    waitForRequests(n, opts) {
      return waitFor(() => requests.length >= n && requests, {
        message: () => `${n} request(s) at function server :${port} (have ${requests.length})`,
        ...opts,
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
}
