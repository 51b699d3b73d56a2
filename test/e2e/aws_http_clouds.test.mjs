// Google Cloud Functions, Azure Functions and OpenWhisk actions are `http` functions
// with the headers (and URL) each platform's authentication needs, as docs/providers.md
// shows. A local stand-in for each platform accepts a call only with its credential.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './lib/harness.mjs';
import {
  functionServer, closeServers, create, createEventType, subscribe, settle, send,
} from './lib/events_helpers.mjs';

const kOpenWhiskKey = '23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP';
const kAzureKey = 'azure-function-key-0123456789abcdef==';
const kGoogleToken = 'eyJhbGciOiJSUzI1NiJ9.e2e-identity-token.signature';

let gw;
let platform;

before(async () => {
  // One server stands in for the three platforms, told apart by path.
  platform = await functionServer((req) => {
    const url = new URL(req.url, 'http://localhost');
    const event = JSON.parse(req.body);
    const answer = (who) => ({ body: { statusCode: 200, body: JSON.stringify({ who, eventType: event.eventType }) } });
    if (url.pathname === '/api/v1/namespaces/guest/actions/hello') {
      const expected = `Basic ${Buffer.from(kOpenWhiskKey).toString('base64')}`;
      if (req.headers.authorization !== expected) return { status: 401, body: { error: 'The supplied authentication is invalid' } };
      if (url.searchParams.get('blocking') !== 'true' || url.searchParams.get('result') !== 'true') {
        return { status: 202, body: { activationId: 'a1' } };
      }
      return answer('openwhisk');
    }
    if (url.pathname === '/api/HttpTrigger') {
      if (req.headers['x-functions-key'] !== kAzureKey && url.searchParams.get('code') !== kAzureKey) return { status: 401, body: '' };
      return answer('azure');
    }
    if (url.pathname === '/hello-gcf') {
      if (req.headers.authorization !== `Bearer ${kGoogleToken}`) return { status: 403, body: 'Forbidden' };
      return answer('google');
    }
    return { status: 404, body: 'no such function' };
  });
  gw = await startGateway();
  await createEventType(gw, 'clouds', 'http.request');
  const fns = {
    openwhisk: { url: `${platform.url}/api/v1/namespaces/guest/actions/hello?blocking=true&result=true`, headers: { Authorization: `Basic ${Buffer.from(kOpenWhiskKey).toString('base64')}` } },
    azure: { url: `${platform.url}/api/HttpTrigger`, headers: { 'x-functions-key': kAzureKey } },
    azurecode: { url: `${platform.url}/api/HttpTrigger?code=${encodeURIComponent(kAzureKey)}` },
    google: { url: `${platform.url}/hello-gcf`, headers: { Authorization: `Bearer ${kGoogleToken}` } },
    googlenotoken: { url: `${platform.url}/hello-gcf` },
  };
  for (const [id, provider] of Object.entries(fns)) {
    await create(gw, 'clouds', 'functions', { functionId: id, type: 'http', provider });
    await subscribe(gw, 'clouds', { type: 'sync', eventType: 'http.request', functionId: id, method: 'GET', path: `/${id}` });
  }
  await settle(gw);
});

after(async () => {
  await closeServers();
  await gw?.stop();
});

for (const [id, who] of [['openwhisk', 'openwhisk'], ['azure', 'azure'], ['azurecode', 'azure'], ['google', 'google']]) {
  test(`${id}: the platform's credential arrives and the answer comes back`, async () => {
    const res = await send(gw.eventsUrl, { method: 'GET', path: `/${id}` });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(JSON.parse(res.text), { who, eventType: 'http.request' });
  });
}

test('without its credential the platform refuses: its 403 is no response object, so 500', async () => {
  const res = await send(gw.eventsUrl, { method: 'GET', path: '/googlenotoken' });
  // A 4xx is the function's answer, not a failed call; it is not a response object.
  assert.equal(res.status, 500, res.text);
  const last = platform.requests.at(-1);
  assert.equal(last.headers.authorization, undefined);
});

test('the credentials never reach the gateway logs', async () => {
  for (const secret of [kOpenWhiskKey, kAzureKey, kGoogleToken, Buffer.from(kOpenWhiskKey).toString('base64')]) {
    assert.ok(!gw.logs().includes(secret), 'a credential in the gateway logs');
  }
});
