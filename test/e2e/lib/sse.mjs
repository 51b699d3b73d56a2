// A client of the event tail (GET /v1/spaces/<space>/events/tail): reads its
// Server-Sent Events as they come, and can stop reading (pause) to play a slow client.

import http from 'node:http';

import { waitFor } from './harness.mjs';

// Opens the tail of `space` on `gw` ({query, headers}); resolves once the answer's head
// arrived. The result: {status, headers, events, comments, pause(), resume(),
// close(), waitForEvents(predicate, opts)}, where `events` holds {id, event, data}
// (data parsed as JSON) in arrival order, and `ended` turns true when the stream ends.
export function openTail(gw, space, { query = '', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const url = new URL(`/v1/spaces/${space}/events/tail${query}`, gw.configUrl);
    const req = http.get(url, { headers, agent: false }, (res) => {
      const tail = {
        status: res.statusCode,
        headers: res.headers,
        events: [],
        comments: [],
        ended: false,
        bytes: 0,
        body: '',
        pause() {
          res.pause();
        },
        resume() {
          res.resume();
        },
        close() {
          req.destroy();
        },
        // Resolves to the events once `predicate(events)` holds.
        waitForEvents(predicate, opts = {}) {
          return waitFor(() => predicate(tail.events) && tail.events, {
            message: () => `tail events (have ${tail.events.length}: ${JSON.stringify(tail.events.slice(-5))})`,
            ...opts,
          });
        },
      };
      res.setEncoding('utf8');
      let buffered = '';
      res.on('data', (chunk) => {
        tail.bytes += chunk.length;
        if (res.statusCode !== 200) {
          tail.body += chunk;
          return;
        }
        buffered += chunk;
        for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const event = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              tail.comments.push(line.slice(1).trim());
              continue;
            }
            const colon = line.indexOf(':');
            const field = line.slice(0, colon);
            const value = line.slice(colon + 1).replace(/^ /, '');
            if (field === 'data') event.data = JSON.parse(value);
            else if (field === 'id') event.id = Number(value);
            else if (field === 'event') event.event = value;
          }
          if (event.event !== undefined) tail.events.push(event);
        }
      });
      res.on('end', () => {
        tail.ended = true;
      });
      res.on('error', () => {
        tail.ended = true;
      });
      res.on('close', () => {
        tail.ended = true;
      });
      resolve(tail);
    });
    req.on('error', reject);
  });
}
