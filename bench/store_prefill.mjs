// Fills the gateway's configuration history: creates and deletes a function until
// REVISIONS store revisions were written, so that a soak starts with the embedded
// store's revision log (kept for watches, 10,000 revisions) and its SQLite page cache
// at the size they keep from then on.
// Usage: node store_prefill.mjs CONFIG_PORT REVISIONS
import http from 'node:http';

const [configPort, revisions] = process.argv.slice(2).map(Number);
if (!configPort || !revisions) {
  console.error('usage: node store_prefill.mjs CONFIG_PORT REVISIONS');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1', port: configPort, method, path: `/v1/spaces/default${path}`, agent,
      headers: data ? { 'content-type': 'application/json' } : {}, timeout: 10000,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}
for (let n = 0; n * 2 < revisions; n += 1) {
  const id = `prefill-${n}`;
  const created = await call('POST', '/functions', { functionId: id, type: 'http', provider: { url: `http://127.0.0.1:9/${id}` } });
  const deleted = await call('DELETE', `/functions/${id}`);
  if (created !== 201 || deleted >= 300) {
    console.error(`prefill: ${id} answered ${created} then ${deleted}`);
    process.exit(1);
  }
}
agent.destroy();
