// The soak's awkward clients (bench/soak.sh), for SECONDS seconds against one gateway:
//   churn      creates a function and a sync route every 500 ms, and deletes the ones
//              made 10 s before: every answer must be a 2xx;
//   malformed  20 broken requests a second, each on a fresh connection: every one must
//              get a 4xx (a 5xx, or a connection closed without an answer, is an error);
//   slow       16 connections that send a request a byte every 200 ms (the gateway's
//              read timeout closes them; each is opened again).
// Prints one JSON line of counts (since the start) every EVERY seconds (60), and a last
// one when it stops.
// Usage: node soak_clients.mjs EVENTS_PORT CONFIG_PORT SECONDS [EVERY]
import net from 'node:net';
import http from 'node:http';

const [eventsPort, configPort, seconds, every = 60] = process.argv.slice(2).map(Number);
if (!eventsPort || !configPort || !seconds) {
  console.error('usage: node soak_clients.mjs EVENTS_PORT CONFIG_PORT SECONDS [EVERY]');
  process.exit(2);
}
const counts = {
  churnOk: 0, churnErrors: 0, malformed4xx: 0, malformedErrors: 0, slowClosed: 0,
};
const errors = [];
function fail(kind, what) {
  counts[kind] += 1;
  if (errors.length < 20) errors.push(what);
}
const deadline = Date.now() + seconds * 1000;
const running = () => Date.now() < deadline;
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function config(method, path, body) {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1', port: configPort, method, path: `/v1/spaces/default${path}`, agent,
      headers: data ? { 'content-type': 'application/json' } : {}, timeout: 10000,
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, text: e.message }));
    req.end(data);
  });
}

async function churn() {
  const made = [];
  for (let n = 0; running(); n += 1) {
    const id = `churn-${n}`;
    const steps = [
      ['POST', '/functions', { functionId: id, type: 'http', provider: { url: `http://127.0.0.1:9/${id}` } }],
      ['POST', '/subscriptions', { type: 'sync', eventType: 'http.request', functionId: id, path: `/churn/${n}`, method: 'GET' }],
    ];
    let subscriptionId;
    for (const [method, path, body] of steps) {
      const r = await config(method, path, body);
      if (r.status === 201) {
        counts.churnOk += 1;
        if (path === '/subscriptions') subscriptionId = JSON.parse(r.text).subscriptionId;
      } else {
        fail('churnErrors', `${method} ${path}: ${r.status} ${r.text}`);
      }
    }
    made.push({ id, subscriptionId });
    if (made.length > 20) {
      const old = made.shift();
      for (const path of [`/subscriptions/${encodeURIComponent(old.subscriptionId)}`, `/functions/${old.id}`]) {
        const r = await config('DELETE', path);
        if (r.status >= 200 && r.status < 300) counts.churnOk += 1;
        else fail('churnErrors', `DELETE ${path}: ${r.status} ${r.text}`);
      }
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

const big = 'x'.repeat(70 * 1024);
const malformed = [
  'GARBAGE\r\n\r\n',
  'GET ?a==b HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
  `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\n\r\n`,
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\nContent-Length: 9\r\n\r\n{"broken"',
  'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\nContent-Length: 2\r\n\r\n{}',
  'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
];

function sendMalformed(text) {
  return new Promise((resolve) => {
    const socket = net.connect(eventsPort, '127.0.0.1');
    let answer = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      const status = Number((/^HTTP\/1\.[01] (\d{3})/.exec(answer) || [])[1] || 0);
      if (status >= 400 && status < 500) counts.malformed4xx += 1;
      else fail('malformedErrors', `${JSON.stringify(text.slice(0, 60))}: ${status || 'no answer'}`);
      resolve();
    };
    socket.setTimeout(10000, finish);
    socket.on('data', (d) => { answer += d; if (answer.includes('\r\n\r\n')) finish(); });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.write(text);
  });
}

async function malformedLoop() {
  for (let i = 0; running(); i += 1) {
    await sendMalformed(malformed[i % malformed.length]);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function slowClient() {
  const text = 'GET /sync HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'y'.repeat(200) + '\r\n\r\n';
  const socket = net.connect(eventsPort, '127.0.0.1');
  let i = 0;
  const timer = setInterval(() => {
    if (!running() || i >= text.length) return;
    socket.write(text[i]);
    i += 1;
  }, 200);
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.on('close', () => {
    clearInterval(timer);
    counts.slowClosed += 1;
    if (running()) setTimeout(slowClient, 100);
  });
  setTimeout(() => socket.destroy(), Math.max(0, deadline - Date.now()));
}

const report = () => console.log(JSON.stringify({ ...counts, errors: errors.splice(0) }));
const minute = setInterval(report, every * 1000);
for (let i = 0; i < 16; i += 1) slowClient();
await Promise.all([churn(), malformedLoop()]);
clearInterval(minute);
report();
agent.destroy();
process.exit(0);
