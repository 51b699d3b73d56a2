// The curl examples of the Gen 1 README, run as written with the real curl binary.
// Only the host and ports change, and the functions that would live on AWS are http
// functions on a local server (the awslambda registration itself is still checked).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { startGateway } from './lib/harness.mjs';
import { functionServer, closeServers, settle, received, quietPeriod, waitFor } from './lib/events_helpers.mjs';

let gw;
let config;  // "http://localhost:<config port>"
let events;  // "http://localhost:<events port>"
before(async () => {
  gw = await startGateway();
  config = `http://localhost:${gw.configPort}`;
  events = `http://localhost:${gw.eventsPort}`;
});
after(async () => {
  await closeServers();
  await gw?.stop();
});

// Runs curl with the README's arguments; resolves {status, body, json}.
function curl(args) {
  return new Promise((resolve, reject) => {
    execFile('curl', ['--silent', '--show-error', '--max-time', '10', '--write-out', '\n%{http_code}', ...args],
      { timeout: 15000 }, (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`curl ${args.join(' ')} failed: ${err.message} ${stderr}`));
          return;
        }
        const cut = stdout.lastIndexOf('\n');
        const body = stdout.slice(0, cut);
        let json = null;
        try { json = body === '' ? null : JSON.parse(body); } catch { json = null; }
        resolve({ status: Number(stdout.slice(cut + 1)), body, json });
      });
  });
}

test('README: register an AWS Lambda function', async () => {
  const res = await curl([
    '--request', 'POST',
    '--url', `${config}/v1/spaces/default/functions`,
    '--header', 'content-type: application/json',
    '--data', `{
    "functionId": "hello",
    "type": "awslambda",
    "provider":{
      "arn": "arn:aws:lambda:us-east-1:377024778620:function:bluegreen-dev-hello",
      "region": "us-east-1"
    }
}`,
  ]);
  assert.equal(res.status, 201, res.body);
  assert.deepEqual(res.json, {
    space: 'default', functionId: 'hello', type: 'awslambda',
    provider: { arn: 'arn:aws:lambda:us-east-1:377024778620:function:bluegreen-dev-hello', region: 'us-east-1' },
  });
});

test('README: subscribe sendEmail to user.created on /myteam, then emit the event', async () => {
  const sendEmail = await functionServer();
  const reg = await curl([
    '--request', 'POST', '--url', `${config}/v1/spaces/default/functions`,
    '--header', 'content-type: application/json',
    '--data', JSON.stringify({ functionId: 'sendEmail', type: 'http', provider: { url: `${sendEmail.url}/sendEmail` } }),
  ]);
  assert.equal(reg.status, 201, reg.body);

  const sub = await curl([
    '--request', 'POST',
    '--url', `${config}/v1/spaces/default/subscriptions`,
    '--header', 'content-type: application/json',
    '--data', `{
    "functionId": "sendEmail",
    "event": "user.created",
    "path": "/myteam"
  }`,
  ]);
  assert.equal(sub.status, 201, sub.body);
  assert.equal(sub.json.space, 'default');
  assert.equal(sub.json.event, 'user.created');
  assert.equal(sub.json.functionId, 'sendEmail');
  assert.equal(sub.json.path, '/myteam');
  assert.equal(typeof sub.json.subscriptionId, 'string');
  await settle(gw);

  // "sendEmail function will be invoked for every user.created event to <Events API>/myteam"
  const emit = await curl([
    '--request', 'POST',
    '--url', `${events}/myteam`,
    '--header', 'content-type: application/json',
    '--header', 'event: user.created',
    '--data', '{ "name": "Max" }',
  ]);
  assert.equal(emit.status, 202, emit.body);
  await sendEmail.waitForRequests(1);
  const [request] = sendEmail.requests;
  assert.equal(request.method, 'POST');
  assert.equal(request.url, '/sendEmail');
  const event = received(sendEmail)[0];
  assert.equal(event.eventType, 'user.created');
  assert.deepEqual(event.data, { name: 'Max' });

  // The README's emit goes to "/": accepted, but /myteam's subscriber is not on that path.
  const atRoot = await curl([
    '--request', 'POST',
    '--url', `${events}/`,
    '--header', 'content-type: application/json',
    '--header', 'event: user.created',
    '--data', '{ "name": "Max" }',
  ]);
  assert.equal(atRoot.status, 202, atRoot.body);
  await quietPeriod();
  assert.equal(sendEmail.requests.length, 1, 'an event on / must not reach the /myteam subscriber');
});

test('README: function-to-function call with the invoke event', async () => {
  const createUser = await functionServer((req) => {
    const event = JSON.parse(req.body);
    return { headers: { 'content-type': 'application/json' }, body: { created: event.data.name } };
  });
  const reg = await curl([
    '--request', 'POST', '--url', `${config}/v1/spaces/default/functions`,
    '--header', 'content-type: application/json',
    '--data', JSON.stringify({ functionId: 'createUser', type: 'http', provider: { url: createUser.url } }),
  ]);
  assert.equal(reg.status, 201, reg.body);
  const sub = await curl([
    '--request', 'POST', '--url', `${config}/v1/spaces/default/subscriptions`,
    '--header', 'content-type: application/json',
    '--data', JSON.stringify({ functionId: 'createUser', event: 'invoke' }),
  ]);
  assert.equal(sub.status, 201, sub.body);
  assert.equal(sub.json.event, 'invoke');
  await settle(gw);

  const res = await curl([
    '--request', 'POST',
    '--url', `${events}/`,
    '--header', 'content-type: application/json',
    '--header', 'event: invoke',
    '--header', 'function-id: createUser',
    '--data', '{ "name": "Max" }',
  ]);
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(res.json, { created: 'Max' });
  assert.equal(createUser.requests.length, 1);
  const event = received(createUser)[0];
  assert.equal(event.eventType, 'invoke');
  assert.deepEqual(event.data, { name: 'Max' });
});

test('README: subscribe listUsers to the http event GET /users and call it', async () => {
  const listUsers = await functionServer(() => ({
    body: { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ name: 'Max' }]) },
  }));
  const reg = await curl([
    '--request', 'POST', '--url', `${config}/v1/spaces/default/functions`,
    '--header', 'content-type: application/json',
    '--data', JSON.stringify({ functionId: 'listUsers', type: 'http', provider: { url: listUsers.url } }),
  ]);
  assert.equal(reg.status, 201, reg.body);

  const sub = await curl([
    '--request', 'POST',
    '--url', `${config}/v1/spaces/default/subscriptions`,
    '--header', 'content-type: application/json',
    '--data', `{
    "functionId": "listUsers",
    "event": "http",
    "method": "GET",
    "path": "/users"
  }`,
  ]);
  assert.equal(sub.status, 201, sub.body);
  assert.equal(sub.json.event, 'http');
  assert.equal(sub.json.method, 'GET');
  assert.equal(sub.json.path, '/users');

  // "listUsers function will be invoked for every HTTP GET request to <Events API>/users"
  let res;
  await waitFor(async () => {
    res = await curl(['--request', 'GET', '--url', `${events}/users`]);
    return res.status !== 404;
  }, { message: () => `GET /users to be routed (last ${res?.status} ${res?.body})` });
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(res.json, [{ name: 'Max' }]);
  const event = received(listUsers).at(-1);
  assert.equal(event.data.method, 'GET');
  assert.equal(event.data.path, '/users');

  const post = await curl(['--request', 'POST', '--url', `${events}/users`, '--data', 'x=1']);
  assert.equal(post.status, 404, 'only GET /users is subscribed');
});
