// Signs each request read as JSON from stdin with the `aws4` npm package, an
// implementation of Signature Version 4 independent of the gateway's, and prints one
// Authorization header per line. Used by aws_sigv4_crosscheck_test.cc.
//
// Input: [{method, target, headers: [[name, value], ...], body (base64), region,
//          service, accessKeyId, secretAccessKey, sessionToken, amzDate}, ...]
// aws4 is loaded from EG_NODE_MODULES (default: test/e2e/node_modules of this tree).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.EG_NODE_MODULES || path.join(here, '..', 'e2e', 'node_modules');
const require = createRequire(path.join(modules, 'noop.js'));
const aws4 = require('aws4');

const cases = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = [];
for (const c of cases) {
  const headers = {};
  for (const [name, value] of c.headers) headers[name] = value;
  headers['X-Amz-Date'] = c.amzDate;
  const body = c.body === '' ? undefined : Buffer.from(c.body, 'base64');
  const request = {
    host: headers.Host,
    path: c.target,
    method: c.method,
    service: c.service,
    region: c.region,
    headers,
    body,
  };
  const credentials = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
  if (c.sessionToken) credentials.sessionToken = c.sessionToken;
  aws4.sign(request, credentials);
  out.push(request.headers.Authorization);
}
process.stdout.write(out.join('\n') + '\n');
