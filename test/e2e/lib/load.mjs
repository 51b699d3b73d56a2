// Load for the delivery tests: keep-alive senders of CloudEvents that record which event
// IDs the gateway answered 202, and a counter of the event IDs a function received.

import http from 'node:http';

import { cloudEvent } from './events_helpers.mjs';

// Records the event IDs a function received, with how often each came.
export function idCounter() {
  const counts = new Map();
  return {
    counts,
    add(body) {
      const id = JSON.parse(body).eventID;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    },
    missing(ids) { return ids.filter((id) => !counts.has(id)); },
    duplicates() { return [...counts.values()].filter((n) => n > 1).reduce((a, n) => a + n - 1, 0); },
  };
}

// Sends events of `type` to `eventsUrl` + `urlPath` from `concurrency` keep-alive
// connections until stop() (or `limit` events); resolves to the IDs answered 202 and the
// other answers. Network errors (the gateway killed under it) end a sender.
// `onAnswer(res, event)`, when given, sees every answer as it arrives; a sender waits
// `pauseAfterRefusal` ms after an answer other than 202 (a client backing off).
export function load(eventsUrl, urlPath, type, {
  concurrency = 16, limit = Infinity, size = 0, onAnswer, pauseAfterRefusal = 0,
} = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const accepted = [];
  const refused = [];
  let sent = 0;
  let stopped = false;
  const url = new URL(urlPath, eventsUrl);
  const one = (event) => new Promise((resolve) => {
    const body = JSON.stringify(event);
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent,
      headers: { 'Content-Type': 'application/cloudevents+json', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      res.on('error', () => resolve(null));
    });
    req.setTimeout(10000, () => req.destroy());
    req.on('error', () => resolve(null));
    req.end(body);
  });
  const sender = async () => {
    while (!stopped && sent < limit) {
      sent += 1;
      const event = cloudEvent(type, size ? { pad: 'x'.repeat(size) } : { n: sent });
      const res = await one(event);
      if (res === null) return;
      onAnswer?.(res, event);
      if (res.status === 202) {
        accepted.push(event.eventID);
      } else {
        refused.push(res);
        if (pauseAfterRefusal > 0) await new Promise((resolve) => setTimeout(resolve, pauseAfterRefusal));
      }
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, sender)).then(() => {
    agent.destroy();
    return { accepted, refused };
  });
  return { stop() { stopped = true; return done; }, done, accepted, refused };
}
