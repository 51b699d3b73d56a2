// Config API (spec §2) against the real binary on loopback ports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, api, waitFor } from './lib/harness.mjs';

let gw;
before(async () => { gw = await startGateway(); });
after(async () => { await gw?.stop(); });

const fnPath = (space = 'default') => `/v1/spaces/${space}/functions`;
const httpFn = (id, extra = {}) => ({ functionId: id, type: 'http', provider: { url: 'http://127.0.0.1:9/x' }, ...extra });

function messageOf(res) {
  assert.ok(res.json && Array.isArray(res.json.errors) && res.json.errors.length > 0,
    `expected an error body, got ${res.status} ${res.text}`);
  return res.json.errors[0].message;
}

test('functions: create, get, list, update, delete with exact output', async () => {
  const created = await api(gw.configUrl, 'POST', fnPath('fnspace'), httpFn('f1', { metadata: { team: 'a' } }));
  assert.equal(created.status, 201);
  assert.deepEqual(created.json, {
    space: 'fnspace', functionId: 'f1', type: 'http',
    provider: { url: 'http://127.0.0.1:9/x' }, metadata: { team: 'a' },
  });
  const one = await api(gw.configUrl, 'GET', `${fnPath('fnspace')}/f1`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.json, created.json);

  const list = await api(gw.configUrl, 'GET', fnPath('fnspace'));
  assert.equal(list.status, 200);
  assert.deepEqual(list.json, { functions: [created.json] });

  const updated = await api(gw.configUrl, 'PUT', `${fnPath('fnspace')}/f1`,
    { type: 'awslambda', provider: { arn: 'arn::::', region: 'us-west-1' } });
  assert.equal(updated.status, 200);
  assert.deepEqual(updated.json, {
    space: 'fnspace', functionId: 'f1', type: 'awslambda', provider: { arn: 'arn::::', region: 'us-west-1' },
  });

  const del = await api(gw.configUrl, 'DELETE', `${fnPath('fnspace')}/f1`);
  assert.equal(del.status, 204);
  assert.equal(del.text, '');
  const gone = await api(gw.configUrl, 'GET', `${fnPath('fnspace')}/f1`);
  assert.equal(gone.status, 404);
  assert.equal(messageOf(gone), 'Function "f1" not found.');
});

test('functions: duplicates, missing ones and every validation error', async () => {
  assert.equal((await api(gw.configUrl, 'POST', fnPath(), httpFn('dup'))).status, 201);
  const again = await api(gw.configUrl, 'POST', fnPath(), httpFn('dup'));
  assert.equal(again.status, 409);
  assert.equal(messageOf(again), 'Function "dup" already registered.');

  const missingPut = await api(gw.configUrl, 'PUT', `${fnPath()}/nope`, httpFn('nope'));
  assert.equal(missingPut.status, 404);
  assert.equal(messageOf(missingPut), 'Function "nope" not found.');
  const missingDelete = await api(gw.configUrl, 'DELETE', `${fnPath()}/nope`);
  assert.equal(missingDelete.status, 404);
  assert.equal(messageOf(missingDelete), 'Function "nope" not found.');

  const cases = [
    [{ type: 'http', provider: { url: 'http://a/' } }, /functionId/],
    [{ functionId: 5, type: 'http', provider: { url: 'http://a/' } }, /functionId/],
    [{ functionId: 'bad/name', type: 'http', provider: { url: 'http://a/' } }, /functionId/],
    [{ functionId: 'sp ace', type: 'http', provider: { url: 'http://a/' } }, /functionId/],
    [{ functionId: 'x1', provider: { url: 'http://a/' } }, /type/],
    [{ functionId: 'x2', type: 'nosuchprovider', provider: {} }, /type|provider/],
    [{ functionId: 'x3', type: 'http' }, /provider/],
    [{ functionId: 'x4', type: 'http', provider: {} }, /url/],
    [{ functionId: 'x5', type: 'http', provider: { url: 'ftp://a/' } }, /url/],
    [{ functionId: 'x6', type: 'awslambda', provider: { region: 'us-east-1' } }, /arn/],
    [{ functionId: 'x7', type: 'awslambda', provider: { arn: 'a' } }, /region/],
    [{ functionId: 'x8', type: 'awskinesis', provider: { region: 'us-east-1' } }, /streamName/],
    [{ functionId: 'x9', type: 'awsfirehose', provider: { region: 'us-east-1' } }, /deliveryStreamName/],
    [{ functionId: 'x10', type: 'awssqs', provider: { region: 'us-east-1' } }, /queueUrl/],
    [{ functionId: 'x11', type: 'http', provider: { url: 'http://a/' }, metadata: { a: 1 } }, /metadata/],
    [[1, 2], /./],
  ];
  for (const [body, pattern] of cases) {
    const res = await api(gw.configUrl, 'POST', fnPath(), body);
    assert.equal(res.status, 400, `expected 400 for ${JSON.stringify(body)}, got ${res.status} ${res.text}`);
    assert.match(messageOf(res), pattern, `message for ${JSON.stringify(body)}`);
  }

  const badJson = await fetch(`${gw.configUrl}${fnPath()}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"functionId": ',
  });
  assert.equal(badJson.status, 400);
  assert.ok((await badJson.json()).errors[0].message.length > 0);

  const badSpace = await api(gw.configUrl, 'POST', fnPath('bad space!'), httpFn('ok'));
  assert.equal(badSpace.status, 400);
});

test('functions: secrets given in a provider never appear in the logs', async () => {
  const res = await api(gw.configUrl, 'POST', fnPath(), {
    functionId: 'secretive', type: 'awslambda',
    provider: { arn: 'arn:aws:lambda:us-east-1:1:function:f', region: 'us-east-1',
      awsAccessKeyId: 'AKIDSECRETKEYID1234', awsSecretAccessKey: 'verySecretValue/abc+123', awsSessionToken: 'tokenSecretValue987' },
  });
  assert.equal(res.status, 201);
  const logs = gw.logs();
  for (const secret of ['verySecretValue/abc+123', 'tokenSecretValue987', 'AKIDSECRETKEYID1234']) {
    assert.ok(!logs.includes(secret), `secret ${secret} leaked into logs`);
  }
});

test('event types: create, list, filter, update, duplicate, delete', async () => {
  const base = '/v1/spaces/etspace/eventtypes';
  const created = await api(gw.configUrl, 'POST', base, { name: 'user.created', metadata: { env: 'test' } });
  assert.equal(created.status, 201);
  assert.deepEqual(created.json, { space: 'etspace', name: 'user.created', metadata: { env: 'test' } });
  assert.equal((await api(gw.configUrl, 'POST', base, { name: 'other.event' })).status, 201);

  const dup = await api(gw.configUrl, 'POST', base, { name: 'user.created' });
  assert.equal(dup.status, 409);
  assert.equal(messageOf(dup), 'Event Type "user.created" already exists.');

  const all = await api(gw.configUrl, 'GET', base);
  assert.equal(all.json.eventTypes.length, 2);
  const filtered = await api(gw.configUrl, 'GET', `${base}?metadata.env=test`);
  assert.deepEqual(filtered.json, { eventTypes: [created.json] });
  const none = await api(gw.configUrl, 'GET', `${base}?metadata.env=test&metadata.other=x`);
  assert.deepEqual(none.json, { eventTypes: [] });

  const noAuthorizer = await api(gw.configUrl, 'PUT', `${base}/user.created`, { name: 'user.created', authorizerId: 'missing' });
  assert.equal(noAuthorizer.status, 400);
  assert.match(messageOf(noAuthorizer), /missing/);

  assert.equal((await api(gw.configUrl, 'POST', fnPath('etspace'), httpFn('auth'))).status, 201);
  const withAuth = await api(gw.configUrl, 'PUT', `${base}/user.created`, { name: 'user.created', authorizerId: 'auth' });
  assert.equal(withAuth.status, 200);
  assert.deepEqual(withAuth.json, { space: 'etspace', name: 'user.created', authorizerId: 'auth' });

  const authorizerInUse = await api(gw.configUrl, 'DELETE', `${fnPath('etspace')}/auth`);
  assert.equal(authorizerInUse.status, 400);

  const missing = await api(gw.configUrl, 'DELETE', `${base}/non.existing`);
  assert.equal(missing.status, 404);
  assert.equal(messageOf(missing), 'Event Type "non.existing" not found.');
  assert.equal((await api(gw.configUrl, 'DELETE', `${base}/other.event`)).status, 204);

  const invalid = await api(gw.configUrl, 'POST', base, { name: 'bad name' });
  assert.equal(invalid.status, 400);
  assert.match(messageOf(invalid), /name/);
});

test('subscriptions (Gen 2): ids, output, validation, conflicts, update rules, in-use deletes', async () => {
  const space = '/v1/spaces/subspace';
  assert.equal((await api(gw.configUrl, 'POST', `${space}/eventtypes`, { name: 'test.event' })).status, 201);
  assert.equal((await api(gw.configUrl, 'POST', `${space}/eventtypes`, { name: 'http.request' })).status, 201);
  assert.equal((await api(gw.configUrl, 'POST', `${space}/functions`, httpFn('test'))).status, 201);

  const created = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { type: 'async', eventType: 'test.event', functionId: 'test' });
  assert.equal(created.status, 201);
  assert.deepEqual(created.json, {
    space: 'subspace', subscriptionId: 'YXN5bmMsdGVzdC5ldmVudCx0ZXN0LCUyRixQT1NU',
    type: 'async', eventType: 'test.event', functionId: 'test', method: 'POST', path: '/',
  });
  const dup = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { type: 'async', eventType: 'test.event', functionId: 'test' });
  assert.equal(dup.status, 409);

  const noType = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { functionId: 'none-exiting-function', eventType: 'pageVisited' });
  assert.equal(noType.status, 400);
  assert.equal(messageOf(noType),
    "Subscription doesn't validate. Validation error: Key: 'Subscription.Type' Error:Field validation for 'Type' failed on the 'required' tag");

  const noFunction = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { type: 'async', eventType: 'test.event', functionId: 'ghost' });
  assert.equal(noFunction.status, 400);
  assert.match(messageOf(noFunction), /ghost/);
  const noEventType = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { type: 'async', eventType: 'ghost.event', functionId: 'test' });
  assert.equal(noEventType.status, 400);
  assert.match(messageOf(noEventType), /ghost\.event/);
  const badMethod = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { type: 'sync', eventType: 'http.request', functionId: 'test', method: 'FETCH', path: '/m' });
  assert.equal(badMethod.status, 400);
  assert.match(messageOf(badMethod), /method/i);
  const badType = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { type: 'sometimes', eventType: 'test.event', functionId: 'test' });
  assert.equal(badType.status, 400);

  // Method is upper-cased and a leading slash added.
  const sync = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { type: 'sync', eventType: 'http.request', functionId: 'test', method: 'get', path: 'users/:id' });
  assert.equal(sync.status, 201);
  assert.equal(sync.json.method, 'GET');
  assert.equal(sync.json.path, '/users/:id');
  assert.equal(sync.json.subscriptionId, Buffer.from('sync,http.request,%2Fusers%2F:id,GET').toString('base64url'));

  // Path conflicts between sync subscriptions.
  const conflicts = ['/users/:name', '/users/static', '/users/:id'];
  for (const path of conflicts) {
    const res = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { type: 'sync', eventType: 'http.request', functionId: 'test', method: 'GET', path });
    assert.ok(res.status === 400 || res.status === 409, `path ${path} should conflict, got ${res.status}`);
  }
  // Another method or a deeper path under the same parameter is fine.
  assert.equal((await api(gw.configUrl, 'POST', `${space}/subscriptions`, { type: 'sync', eventType: 'http.request', functionId: 'test', method: 'POST', path: '/users/static' })).status, 201);
  assert.equal((await api(gw.configUrl, 'POST', `${space}/subscriptions`, { type: 'sync', eventType: 'http.request', functionId: 'test', method: 'GET', path: '/users/:id/posts' })).status, 201);
  // Sync routes are unique across spaces.
  await api(gw.configUrl, 'POST', '/v1/spaces/otherspace/eventtypes', { name: 'http.request' });
  await api(gw.configUrl, 'POST', '/v1/spaces/otherspace/functions', httpFn('test'));
  const crossSpace = await api(gw.configUrl, 'POST', '/v1/spaces/otherspace/subscriptions', { type: 'sync', eventType: 'http.request', functionId: 'test', method: 'GET', path: '/users/:id' });
  assert.ok(crossSpace.status === 400 || crossSpace.status === 409, `cross-space duplicate sync route: ${crossSpace.status}`);

  // PUT may change only metadata.
  const subUrl = `${space}/subscriptions/${created.json.subscriptionId}`;
  const meta = await api(gw.configUrl, 'PUT', subUrl, { ...created.json, metadata: { owner: 'me' } });
  assert.equal(meta.status, 200);
  assert.deepEqual(meta.json, { ...created.json, metadata: { owner: 'me' } });
  const changePath = await api(gw.configUrl, 'PUT', subUrl, { ...created.json, path: '/elsewhere' });
  assert.equal(changePath.status, 400);
  assert.match(messageOf(changePath), /path/);
  const filtered = await api(gw.configUrl, 'GET', `${space}/subscriptions?metadata.owner=me`);
  assert.deepEqual(filtered.json.subscriptions.map((s) => s.subscriptionId), [created.json.subscriptionId]);

  // Deleting what is in use answers 400.
  const fnInUse = await api(gw.configUrl, 'DELETE', `${space}/functions/test`);
  assert.equal(fnInUse.status, 400);
  const etInUse = await api(gw.configUrl, 'DELETE', `${space}/eventtypes/test.event`);
  assert.equal(etInUse.status, 400);

  const missing = await api(gw.configUrl, 'DELETE', `${space}/subscriptions/xxx`);
  assert.equal(missing.status, 404);
  assert.equal(messageOf(missing), 'Subscription "xxx" not found.');
  assert.equal((await api(gw.configUrl, 'DELETE', subUrl)).status, 204);
  assert.equal((await api(gw.configUrl, 'GET', subUrl)).status, 404);
});

test('subscriptions (Gen 1): http, invoke and custom events keep their shape', async () => {
  const space = '/v1/spaces/genone';
  assert.equal((await api(gw.configUrl, 'POST', `${space}/functions`, httpFn('sendEmail'))).status, 201);
  assert.equal((await api(gw.configUrl, 'POST', `${space}/functions`, httpFn('listUsers'))).status, 201);

  const custom = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { functionId: 'sendEmail', event: 'user.created', path: '/myteam' });
  assert.equal(custom.status, 201, custom.text);
  assert.equal(custom.json.event, 'user.created');
  assert.equal(custom.json.functionId, 'sendEmail');
  assert.equal(custom.json.path, '/myteam');
  assert.equal(custom.json.space, 'genone');
  assert.equal(custom.json.type, undefined);
  // Its event type was registered implicitly.
  const types = await api(gw.configUrl, 'GET', `${space}/eventtypes`);
  assert.deepEqual(types.json.eventTypes.map((e) => e.name), ['user.created']);

  const http = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { functionId: 'listUsers', event: 'http', method: 'GET', path: '/gen1users', cors: {} });
  assert.equal(http.status, 201, http.text);
  assert.equal(http.json.event, 'http');
  assert.equal(http.json.method, 'GET');
  assert.deepEqual(http.json.cors, { origins: ['*'], methods: ['HEAD', 'GET', 'POST'], headers: ['Origin', 'Accept', 'Content-Type'], allowCredentials: false });

  const noMethod = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { functionId: 'listUsers', event: 'http', path: '/nomethod' });
  assert.equal(noMethod.status, 400);

  const invoke1 = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { functionId: 'sendEmail', event: 'invoke', path: '/' });
  const invoke2 = await api(gw.configUrl, 'POST', `${space}/subscriptions`, { functionId: 'listUsers', event: 'invoke', path: '/' });
  assert.equal(invoke1.status, 201, invoke1.text);
  assert.equal(invoke2.status, 201, invoke2.text);
  assert.equal(invoke1.json.event, 'invoke');

  const list = await api(gw.configUrl, 'GET', `${space}/subscriptions`);
  assert.equal(list.json.subscriptions.length, 4);
  for (const s of list.json.subscriptions) assert.ok('event' in s && !('type' in s), JSON.stringify(s));
});

test('subscriptions: deliveryPolicy (spec §5) in, out, validation, dead letters, PUT', async () => {
  const space = '/v1/spaces/policyspace';
  const subs = `${space}/subscriptions`;
  const prefix = "Subscription doesn't validate. Validation error: ";
  assert.equal((await api(gw.configUrl, 'POST', `${space}/eventtypes`, { name: 'order.placed' })).status, 201);
  assert.equal((await api(gw.configUrl, 'POST', `${space}/eventtypes`, { name: 'http.request' })).status, 201);
  for (const id of ['worker', 'dlq', 'dlq2', 'other']) {
    assert.equal((await api(gw.configUrl, 'POST', `${space}/functions`, httpFn(id))).status, 201);
  }

  // A full policy comes back exactly as sent: durations as written, on create, GET and list.
  const policy = {
    retries: 5, backoff: 'linear', backoffDelay: '1.5s', maxBackoff: '1m30s',
    maxEventAge: '2h45m', deadLetterFunctionId: 'dlq',
  };
  const created = await api(gw.configUrl, 'POST', subs,
    { type: 'async', eventType: 'order.placed', functionId: 'worker', deliveryPolicy: policy });
  assert.equal(created.status, 201, created.text);
  const id = Buffer.from('async,order.placed,worker,%2F,POST').toString('base64url');
  const expected = {
    space: 'policyspace', subscriptionId: id, type: 'async', eventType: 'order.placed',
    functionId: 'worker', method: 'POST', path: '/', deliveryPolicy: policy,
  };
  assert.deepEqual(created.json, expected);
  assert.deepEqual((await api(gw.configUrl, 'GET', `${subs}/${id}`)).json, expected);

  // Without a policy: no deliveryPolicy key at all; with {}: an empty object.
  const plain = await api(gw.configUrl, 'POST', subs,
    { type: 'async', eventType: 'order.placed', functionId: 'other', path: '/plain' });
  assert.equal(plain.status, 201, plain.text);
  assert.ok(!('deliveryPolicy' in plain.json), plain.text);
  assert.deepEqual(Object.keys(plain.json).sort(),
    ['eventType', 'functionId', 'method', 'path', 'space', 'subscriptionId', 'type']);
  const empty = await api(gw.configUrl, 'POST', subs,
    { type: 'async', eventType: 'order.placed', functionId: 'other', path: '/empty', deliveryPolicy: {} });
  assert.equal(empty.status, 201, empty.text);
  assert.deepEqual(empty.json.deliveryPolicy, {});
  const list = await api(gw.configUrl, 'GET', subs);
  const byId = Object.fromEntries(list.json.subscriptions.map((s) => [s.subscriptionId, s]));
  assert.deepEqual(byId[id], expected);
  assert.deepEqual(byId[plain.json.subscriptionId], plain.json);

  // Each bad field: 400 naming it.
  const bad = [
    [{ retries: -1 }, 'Field "deliveryPolicy.retries" must be an integer between 0 and 1000.'],
    [{ retries: 1001 }, 'Field "deliveryPolicy.retries" must be an integer between 0 and 1000.'],
    [{ retries: 2.5 }, 'Field "deliveryPolicy.retries" must be an integer between 0 and 1000.'],
    [{ retries: '3' }, 'Field "deliveryPolicy.retries" must be an integer between 0 and 1000.'],
    [{ backoff: 'fibonacci' }, 'Field "deliveryPolicy.backoff" must be "exponential", "linear" or "constant".'],
    [{ backoffDelay: '10' }, 'Field "deliveryPolicy.backoffDelay" must be a duration such as "200ms", "1m30s" or "1.5h".'],
    [{ backoffDelay: '0s' }, 'Field "deliveryPolicy.backoffDelay" must be between 1ms and 24h.'],
    [{ maxBackoff: '25h' }, 'Field "deliveryPolicy.maxBackoff" must be between 1ms and 24h.'],
    [{ maxBackoff: 60 }, 'Field "deliveryPolicy.maxBackoff" must be a duration such as "200ms", "1m30s" or "1.5h".'],
    [{ maxEventAge: '1d' }, 'Field "deliveryPolicy.maxEventAge" must be a duration such as "200ms", "1m30s" or "1.5h".'],
    [{ maxEventAge: '721h' }, 'Field "deliveryPolicy.maxEventAge" must be between 1ms and 720h.'],
    [{ backoffDelay: '2m', maxBackoff: '1m' }, 'Field "deliveryPolicy.backoffDelay" must not exceed "deliveryPolicy.maxBackoff".'],
    [{ deadLetterFunctionId: 'bad name' }, 'Field "deliveryPolicy.deadLetterFunctionId" may only contain letters, digits, ".", "-" and "_".'],
    [{ retry: 3 }, 'Field "deliveryPolicy.retry" is unknown; a delivery policy has retries, backoff, backoffDelay, maxBackoff, maxEventAge and deadLetterFunctionId.'],
  ];
  for (const [deliveryPolicy, message] of bad) {
    const res = await api(gw.configUrl, 'POST', subs,
      { type: 'async', eventType: 'order.placed', functionId: 'other', path: '/bad', deliveryPolicy });
    assert.equal(res.status, 400, `${JSON.stringify(deliveryPolicy)}: ${res.status} ${res.text}`);
    assert.equal(messageOf(res), prefix + message);
  }
  const notObject = await api(gw.configUrl, 'POST', subs,
    { type: 'async', eventType: 'order.placed', functionId: 'other', path: '/bad', deliveryPolicy: 'fast' });
  assert.equal(notObject.status, 400);
  assert.equal(messageOf(notObject), `${prefix}Field "deliveryPolicy" must be an object.`);

  // Only async subscriptions take a policy.
  const sync = await api(gw.configUrl, 'POST', subs,
    { type: 'sync', eventType: 'http.request', functionId: 'other', method: 'GET', path: '/sync', deliveryPolicy: { retries: 1 } });
  assert.equal(sync.status, 400);
  assert.equal(messageOf(sync), `${prefix}field "deliveryPolicy" is only allowed with type "async".`);
  const gen1Http = await api(gw.configUrl, 'POST', subs,
    { event: 'http', functionId: 'other', method: 'GET', path: '/gen1http', deliveryPolicy: {} });
  assert.equal(gen1Http.status, 400);
  assert.equal(messageOf(gen1Http), `${prefix}field "deliveryPolicy" is not allowed with event "http".`);

  // The dead-letter function must exist in the same space.
  const noDlq = await api(gw.configUrl, 'POST', subs,
    { type: 'async', eventType: 'order.placed', functionId: 'other', path: '/nodlq', deliveryPolicy: { deadLetterFunctionId: 'ghost' } });
  assert.equal(noDlq.status, 400);
  assert.equal(messageOf(noDlq), 'Dead-letter function "ghost" not found.');
  assert.equal((await api(gw.configUrl, 'POST', '/v1/spaces/elsewhere/functions', httpFn('faraway'))).status, 201);
  const otherSpace = await api(gw.configUrl, 'POST', subs,
    { type: 'async', eventType: 'order.placed', functionId: 'other', path: '/nodlq', deliveryPolicy: { deadLetterFunctionId: 'faraway' } });
  assert.equal(otherSpace.status, 400);
  assert.equal(messageOf(otherSpace), 'Dead-letter function "faraway" not found.');

  // A function named as a dead letter cannot be deleted.
  const dlqInUse = await api(gw.configUrl, 'DELETE', `${space}/functions/dlq`);
  assert.equal(dlqInUse.status, 400);
  assert.equal(messageOf(dlqInUse),
    `Function "dlq" cannot be deleted because subscription "${id}" uses it as its dead-letter function.`);

  // PUT replaces the policy (no merge), checks the dead letter, and removes it when absent.
  const url = `${subs}/${id}`;
  const replaced = await api(gw.configUrl, 'PUT', url,
    { ...expected, deliveryPolicy: { maxEventAge: '30m', deadLetterFunctionId: 'dlq2' } });
  assert.equal(replaced.status, 200, replaced.text);
  assert.deepEqual(replaced.json, { ...expected, deliveryPolicy: { maxEventAge: '30m', deadLetterFunctionId: 'dlq2' } });
  assert.deepEqual((await api(gw.configUrl, 'GET', url)).json, replaced.json);
  const putGhost = await api(gw.configUrl, 'PUT', url, { deliveryPolicy: { deadLetterFunctionId: 'ghost' } });
  assert.equal(putGhost.status, 400);
  assert.equal(messageOf(putGhost), 'Dead-letter function "ghost" not found.');
  const putBad = await api(gw.configUrl, 'PUT', url, { deliveryPolicy: { backoff: 'random' } });
  assert.equal(putBad.status, 400);
  assert.equal(messageOf(putBad), `${prefix}Field "deliveryPolicy.backoff" must be "exponential", "linear" or "constant".`);
  assert.deepEqual((await api(gw.configUrl, 'GET', url)).json, replaced.json);
  // The old dead letter is free again; the new one is held.
  assert.equal((await api(gw.configUrl, 'DELETE', `${space}/functions/dlq`)).status, 204);
  assert.equal((await api(gw.configUrl, 'DELETE', `${space}/functions/dlq2`)).status, 400);
  const cleared = await api(gw.configUrl, 'PUT', url, { metadata: { team: 'orders' } });
  assert.equal(cleared.status, 200, cleared.text);
  const { deliveryPolicy: _dropped, ...withoutPolicy } = expected;
  assert.deepEqual(cleared.json, { ...withoutPolicy, metadata: { team: 'orders' } });
  assert.equal((await api(gw.configUrl, 'DELETE', `${space}/functions/dlq2`)).status, 204);

  // Gen 1 custom events keep their shape, plus the policy.
  assert.equal((await api(gw.configUrl, 'POST', `${space}/functions`, httpFn('gen1dlq'))).status, 201);
  const gen1 = await api(gw.configUrl, 'POST', subs,
    { functionId: 'other', event: 'user.signedup', path: '/team', deliveryPolicy: { retries: 0, deadLetterFunctionId: 'gen1dlq' } });
  assert.equal(gen1.status, 201, gen1.text);
  assert.deepEqual(gen1.json, {
    space: 'policyspace', subscriptionId: gen1.json.subscriptionId, event: 'user.signedup',
    functionId: 'other', path: '/team', deliveryPolicy: { retries: 0, deadLetterFunctionId: 'gen1dlq' },
  });
  const gen1Put = await api(gw.configUrl, 'PUT', `${subs}/${gen1.json.subscriptionId}`,
    { event: 'user.signedup', deliveryPolicy: { backoff: 'constant' } });
  assert.equal(gen1Put.status, 200, gen1Put.text);
  assert.deepEqual(gen1Put.json, { ...gen1.json, deliveryPolicy: { backoff: 'constant' } });
});

test('CORS: defaults, ids, duplicates, update rules, delete', async () => {
  const base = '/v1/spaces/corsspace/cors';
  const created = await api(gw.configUrl, 'POST', base, { method: 'GET', path: '/test', allowedOrigins: ['http://example.com'] });
  assert.equal(created.status, 201);
  assert.deepEqual(created.json, {
    space: 'corsspace', corsId: 'GET%2Ftest', method: 'GET', path: '/test',
    allowedOrigins: ['http://example.com'], allowedHeaders: ['Origin', 'Accept', 'Content-Type'],
    allowedMethods: ['HEAD', 'GET', 'POST'], allowCredentials: false,
  });
  const dup = await api(gw.configUrl, 'POST', base, { method: 'GET', path: '/test' });
  assert.equal(dup.status, 409);
  assert.equal(messageOf(dup), 'CORS configuration "GET%2Ftest" already exists.');

  const byId = await fetch(`${gw.configUrl}${base}/GET%2Ftest`);
  assert.equal(byId.status, 200);
  const update = await api(gw.configUrl, 'PUT', `${base}/GET%2Ftest`, { method: 'GET', path: '/test', allowCredentials: true });
  assert.equal(update.status, 200);
  assert.equal(update.json.allowCredentials, true);
  assert.deepEqual(update.json.allowedOrigins, ['*']);
  const moved = await api(gw.configUrl, 'PUT', `${base}/GET%2Ftest`, { method: 'POST', path: '/test' });
  assert.equal(moved.status, 400);

  assert.deepEqual((await api(gw.configUrl, 'GET', `${base}?metadata.foo=bar`)).json, { cors: [] });
  assert.equal((await api(gw.configUrl, 'DELETE', `${base}/GET%2Ftest`)).status, 204);
  const missing = await api(gw.configUrl, 'DELETE', `${base}/GET%2Ftest`);
  assert.equal(missing.status, 404);
  assert.equal(messageOf(missing), 'CORS configuration "GET%2Ftest" not found.');
});

test('concurrent creates of the same resource: exactly one 201, the rest 409', async () => {
  const attempts = 24;
  const results = await Promise.all(Array.from({ length: attempts }, () =>
    api(gw.configUrl, 'POST', fnPath('race'), httpFn('same'))));
  const statuses = results.map((r) => r.status).sort();
  assert.equal(statuses.filter((s) => s === 201).length, 1, statuses.join(','));
  assert.equal(statuses.filter((s) => s === 409).length, attempts - 1, statuses.join(','));

  await api(gw.configUrl, 'POST', '/v1/spaces/race/eventtypes', { name: 'http.request' });
  const subs = await Promise.all(Array.from({ length: attempts }, (_, i) =>
    api(gw.configUrl, 'POST', '/v1/spaces/race/subscriptions',
      { type: 'sync', eventType: 'http.request', functionId: 'same', method: 'GET', path: i % 2 ? '/race/:a' : '/race/:b' })));
  assert.equal(subs.filter((r) => r.status === 201).length, 1, subs.map((r) => r.status).join(','));
});

test('status and metrics', async () => {
  const status = await api(gw.configUrl, 'GET', '/v1/status');
  assert.equal(status.status, 200);
  for (const path of ['/v1/metrics', '/metrics']) {
    const res = await fetch(`${gw.configUrl}${path}`);
    assert.equal(res.status, 200);
    const text = await res.text();
    for (const name of ['eventgateway_functions_total', 'eventgateway_eventtypes_total', 'eventgateway_subscriptions_total',
      'eventgateway_config_requests_total', 'eventgateway_config_request_duration_seconds']) {
      assert.ok(text.includes(name), `${path} lacks ${name}`);
    }
    assert.match(text, /eventgateway_functions_total\{space="fnspace"\}|eventgateway_functions_total\{space="default"\} [1-9]/);
  }
  const unknown = await api(gw.configUrl, 'GET', '/v1/nothing');
  assert.equal(unknown.status, 404);
});

test('each write is timed until routing holds it (eventgateway_config_propagation_seconds)', async () => {
  const sample = async (name) => {
    const text = await (await fetch(`${gw.configUrl}/v1/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    assert.ok(line, `no ${name} in\n${text}`);
    return Number(line.split(' ')[1]);
  };
  const before = await sample('eventgateway_config_propagation_seconds_count');
  assert.equal((await api(gw.configUrl, 'POST', fnPath('propagation'), httpFn('timed'))).status, 201);
  assert.equal((await api(gw.configUrl, 'DELETE', `${fnPath('propagation')}/timed`)).status, 204);
  // Earlier tests' last writes may be observed meanwhile too.
  await waitFor(async () => (await sample('eventgateway_config_propagation_seconds_count')) >= before + 2,
    { message: 'two more propagation samples' });
  assert.equal(await sample('eventgateway_config_propagation_dropped_total'), 0);
  const text = await (await fetch(`${gw.configUrl}/v1/metrics`)).text();
  assert.match(text, /eventgateway_config_propagation_seconds_bucket\{le="5e-05"\} \d+/);
});
