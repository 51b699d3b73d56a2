// AWS providers end to end (spec §2.1, §3.7): the real binary calls a local stand-in
// for Lambda, SQS, Firehose and Kinesis that checks every request's Signature Version 4
// with the independent `aws4` package, as the services do, and kinesalite (a Kinesis
// emulator) for PutRecord. Failure answers (function error, wrong credentials, expired
// token, throttling, timeout, no credentials) each end in a failed call and an
// invocationFailed system event, with the gateway still serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startGateway, waitFor } from './lib/harness.mjs';
import {
  functionServer, closeServers, create, createEventType, subscribe, settle, send,
  emitStructured, cloudEvent, received, errorMessage,
} from './lib/events_helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(process.env.EG_NODE_MODULES ?? path.join(here, 'node_modules'), 'noop.js'));
const aws4 = require('aws4');
const kinesalite = require('kinesalite');

const kRegion = 'eu-west-1';
const kAccount = '123456789012';
const creds = {
  accessKeyId: 'AKIDE2ETESTKEY000001',
  secretAccessKey: 'e2e/secret+Key0123456789abcdefghijABCDEF',
  sessionToken: 'e2e-session-token/0123456789+abc==',
};
// Start-up environment of the gateways: nothing from the developer's own AWS setup.
const kCleanEnv = {
  AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_PROFILE: '',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/eg-e2e/credentials',
  AWS_ENDPOINT_URL: '', AWS_ENDPOINT_URL_LAMBDA: '', AWS_ENDPOINT_URL_KINESIS: '',
  AWS_ENDPOINT_URL_FIREHOSE: '', AWS_ENDPOINT_URL_SQS: '',
};

let fake;       // the AWS stand-in
let gw;         // credentials and endpoints from the environment
let kinesis;    // kinesalite
let kinesisUrl;
const calls = [];  // every request to the stand-in: {service, verdict, req}

function awsError(status, code, message, viaHeader = false) {
  if (viaHeader) {
    return { status, headers: { 'x-amzn-ErrorType': `${code}:http://internal.amazon.com/coral/` }, body: { Type: 'User', message } };
  }
  return { status, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: { __type: code, message } };
}

// What AWS checks before anything else: a well-formed Authorization for this service
// and region, a known key and token, a fresh date, and a signature that recomputes.
function checkSignature(req, service) {
  const auth = req.headers.authorization ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return awsError(403, 'IncompleteSignature', 'Authorization header requires Credential, SignedHeaders and Signature.');
  const [, keyId, date, region, scopeService, signedNames] = m;
  if (keyId !== creds.accessKeyId || req.headers['x-amz-security-token'] !== creds.sessionToken) {
    return awsError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  const amzDate = req.headers['x-amz-date'] ?? '';
  const when = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (amzDate.slice(0, 8) !== date || !(Math.abs(Date.now() - when) < 5 * 60 * 1000)) {
    return awsError(403, 'InvalidSignatureException', 'Signature expired or X-Amz-Date does not match the credential scope.');
  }
  if (region !== kRegion || scopeService !== service) {
    return awsError(403, 'InvalidSignatureException', `Credential should be scoped to ${kRegion}/${service}, not ${region}/${scopeService}.`);
  }
  const names = signedNames.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) {
    return awsError(403, 'InvalidSignatureException', 'host and x-amz-date must be signed.');
  }
  const headers = {};
  for (const n of names) headers[n] = req.headers[n] ?? '';
  const signer = new aws4.RequestSigner({
    host: req.headers.host, path: req.url, method: req.method, service, region: kRegion,
    headers, body: req.body, doNotModifyHeaders: true,
  }, creds);
  signer.datetime = amzDate;
  if (signer.authHeader() !== auth) {
    return awsError(403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.');
  }
  return null;
}

function serviceOf(req) {
  const target = req.headers['x-amz-target'] ?? '';
  if (target.startsWith('Kinesis_20131202.')) return 'kinesis';
  if (target.startsWith('Firehose_20150804.')) return 'firehose';
  if (req.url.startsWith('/2015-03-31/functions/')) return 'lambda';
  return 'sqs';
}

function lambda(req) {
  const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(req.url);
  if (!m || req.method !== 'POST') return awsError(404, 'UnknownOperationException', 'Unknown operation');
  if (req.headers['x-amz-invocation-type'] !== 'RequestResponse') return awsError(400, 'InvalidParameterValueException', 'invocation type');
  const name = decodeURIComponent(m[1]).split(':function:').pop();
  const event = JSON.parse(req.body);
  switch (name) {
    case 'ok-fn':
      return { body: { statusCode: 200, body: JSON.stringify({ lambdaGot: event.eventType }) } };
    case 'err-fn':
      return { headers: { 'X-Amz-Function-Error': 'Unhandled' }, body: { errorMessage: 'boom in lambda', errorType: 'Error' } };
    case 'expired-fn':
      return awsError(403, 'ExpiredTokenException', 'The security token included in the request is expired');
    case 'throttled-fn':
      return awsError(429, 'TooManyRequestsException', 'Rate Exceeded.', true);
    case 'slow-fn':
      return new Promise(() => {});
    default:
      return awsError(404, 'ResourceNotFoundException', `Function not found: ${name}`, true);
  }
}

function sqs(req) {
  const form = new URLSearchParams(req.body);
  if (form.get('Action') !== 'SendMessage' || form.get('Version') !== '2012-11-05') {
    return { status: 400, headers: { 'content-type': 'text/xml' }, body: '<ErrorResponse><Error><Code>InvalidAction</Code><Message>bad action</Message></Error></ErrorResponse>' };
  }
  const body = form.get('MessageBody');
  const md5 = crypto.createHash('md5').update(body).digest('hex');
  return {
    headers: { 'content-type': 'text/xml' },
    body: `<SendMessageResponse><SendMessageResult><MD5OfMessageBody>${md5}</MD5OfMessageBody><MessageId>msg-${calls.length}</MessageId></SendMessageResult></SendMessageResponse>`,
  };
}

function stream(req, service) {
  const body = JSON.parse(req.body);
  if (service === 'firehose') {
    if (typeof body.DeliveryStreamName !== 'string' || typeof body.Record?.Data !== 'string') return awsError(400, 'ValidationException', 'shape');
    return { headers: { 'content-type': 'application/x-amz-json-1.1' }, body: { RecordId: `rec-${calls.length}`, Encrypted: false } };
  }
  if (typeof body.StreamName !== 'string' || typeof body.Data !== 'string' || typeof body.PartitionKey !== 'string') return awsError(400, 'ValidationException', 'shape');
  return { headers: { 'content-type': 'application/x-amz-json-1.1' }, body: { SequenceNumber: '1', ShardId: 'shardId-000000000000' } };
}

function fakeAws(req) {
  const service = serviceOf(req);
  const rejected = checkSignature(req, service);
  calls.push({ service, verdict: rejected ? rejected.body.__type ?? 'rejected' : 'ok', req });
  if (rejected) return rejected;
  if (service === 'lambda') return lambda(req);
  if (service === 'sqs') return sqs(req);
  return stream(req, service);
}

// Kinesis API call to kinesalite, signed by aws4.
async function kinesisApi(action, body) {
  const url = new URL(kinesisUrl);
  const request = aws4.sign({
    host: url.host, path: '/', method: 'POST', service: 'kinesis', region: kRegion,
    headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `Kinesis_20131202.${action}` },
    body: JSON.stringify(body),
  }, creds);
  const res = await fetch(kinesisUrl, { method: 'POST', headers: request.headers, body: request.body, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${action}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

before(async () => {
  fake = await functionServer(fakeAws);
  kinesis = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0 });
  await new Promise((resolve) => kinesis.listen(0, '127.0.0.1', resolve));
  kinesisUrl = `http://127.0.0.1:${kinesis.address().port}`;
  gw = await startGateway({
    env: {
      ...kCleanEnv,
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      AWS_SESSION_TOKEN: creds.sessionToken,
      AWS_ENDPOINT_URL_LAMBDA: fake.url,
      AWS_ENDPOINT_URL: fake.url,
    },
  });
});

after(async () => {
  await closeServers();
  await new Promise((resolve) => kinesis.close(resolve));
  kinesis.closeAllConnections?.();
  await gw?.stop();
});

function createAwsFunction(g, space, functionId, type, provider) {
  return create(g, space, 'functions', { functionId, type, provider: { region: kRegion, ...provider } });
}

const arn = (name) => `arn:aws:lambda:${kRegion}:${kAccount}:function:${name}`;

// A space whose invocationFailed events reach a watcher; `fns` maps function ids to
// [type, provider], each subscribed async to `aws.test` on /<space>.
async function setUpSpace(g, space, fns) {
  const watcher = await functionServer();
  await createEventType(g, space, 'aws.test');
  await createEventType(g, space, 'eventgateway.function.invocationFailed');
  await create(g, space, 'functions', { functionId: 'watcher', type: 'http', provider: { url: watcher.url } });
  await subscribe(g, space, { type: 'async', eventType: 'eventgateway.function.invocationFailed', functionId: 'watcher' });
  for (const [id, [type, provider]] of Object.entries(fns)) {
    await createAwsFunction(g, space, id, type, provider);
    await subscribe(g, space, { type: 'async', eventType: 'aws.test', functionId: id, path: `/${space}` });
  }
  await settle(g);
  return watcher;
}

function failureFor(watcher, functionId, eventID) {
  return waitFor(() => received(watcher).find((e) => e.data?.functionId === functionId && e.data?.event?.eventID === eventID),
    { timeout: 10000, message: () => `invocationFailed of ${functionId} for ${eventID} (watcher got ${watcher.requests.length})` });
}

async function stillServing(g) {
  const res = await send(g.eventsUrl, { method: 'GET', path: '/lambda-ok' });
  assert.equal(res.status, 200, res.text);
}

test('awslambda: a sync call gets the function answer, signed for lambda in the region', async () => {
  await createEventType(gw, 'awsok', 'http.request');
  await createAwsFunction(gw, 'awsok', 'okfn', 'awslambda', { arn: arn('ok-fn') });
  await subscribe(gw, 'awsok', { type: 'sync', eventType: 'http.request', functionId: 'okfn', method: 'GET', path: '/lambda-ok' });
  await settle(gw);

  const before = calls.length;
  const res = await send(gw.eventsUrl, { method: 'GET', path: '/lambda-ok' });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(JSON.parse(res.text), { lambdaGot: 'http.request' });
  const call = calls.slice(before).find((c) => c.service === 'lambda');
  assert.ok(call, 'the stand-in was called');
  assert.equal(call.verdict, 'ok');
  assert.equal(call.req.url, `/2015-03-31/functions/${encodeURIComponent(arn('ok-fn')).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}/invocations`);
  assert.equal(JSON.parse(call.req.body).eventType, 'http.request');
});

test('awslambda failures: function error, wrong key, wrong secret, expired token, throttling, timeout', async () => {
  const watcher = await setUpSpace(gw, 'awsfail', {
    errfn: ['awslambda', { arn: arn('err-fn') }],
    wrongkey: ['awslambda', { arn: arn('ok-fn'), awsAccessKeyId: 'AKIDWRONGWRONG000001', awsSecretAccessKey: 'wrong/secret/value/000000000000000000000' }],
    wrongsecret: ['awslambda', { arn: arn('ok-fn'), awsAccessKeyId: creds.accessKeyId, awsSecretAccessKey: 'not/the/right/secret/0000000000000000000', awsSessionToken: creds.sessionToken }],
    expired: ['awslambda', { arn: arn('expired-fn') }],
    throttled: ['awslambda', { arn: arn('throttled-fn') }],
    slow: ['awslambda', { arn: arn('slow-fn'), timeout: 500 }],
  });
  const sent = cloudEvent('aws.test', { n: 7 });
  const res = await emitStructured(gw.eventsUrl, sent, { path: '/awsfail' });
  assert.equal(res.status, 202, res.text);

  const expectations = {
    errfn: ['function error (Unhandled)', 'boom in lambda'],
    wrongkey: ['UnrecognizedClientException', 'AWS does not know this access key'],
    wrongsecret: ['InvalidSignatureException', 'check the secret access key'],
    expired: ['ExpiredTokenException', 'the session token has expired'],
    throttled: ['TooManyRequestsException', 'AWS throttled the call'],
    slow: ['timed out'],
  };
  for (const [id, pieces] of Object.entries(expectations)) {
    const failure = await failureFor(watcher, id, sent.eventID);
    const message = failure.data.error.message;
    assert.ok(message.startsWith('function call failed: awslambda Invoke: '), message);
    for (const piece of pieces) assert.ok(message.includes(piece), `${id}: "${piece}" in ${message}`);
    for (const secret of ['wrong/secret/value', 'not/the/right/secret', creds.secretAccessKey, creds.sessionToken, 'AKIDWRONGWRONG000001']) {
      assert.ok(!message.includes(secret), `${id}: a secret in ${message}`);
    }
  }
  await stillServing(gw);
  // Keys never reach the logs either.
  for (const secret of ['wrong/secret/value', 'not/the/right/secret', creds.secretAccessKey, creds.sessionToken]) {
    assert.ok(!gw.logs().includes(secret), `a secret in the gateway logs`);
  }
});

test('awslambda function error on a sync subscription answers 500', async () => {
  await createEventType(gw, 'awssyncerr', 'http.request');
  await createAwsFunction(gw, 'awssyncerr', 'errfn', 'awslambda', { arn: arn('err-fn') });
  await subscribe(gw, 'awssyncerr', { type: 'sync', eventType: 'http.request', functionId: 'errfn', method: 'GET', path: '/lambda-err' });
  await settle(gw);
  const res = await send(gw.eventsUrl, { method: 'GET', path: '/lambda-err' });
  assert.equal(res.status, 500, res.text);
  assert.equal(errorMessage(res), 'Function call failed. Please check logs.');
});

test('awssqs, awsfirehose and awskinesis requests are signed and shaped as the services expect', async () => {
  const watcher = await setUpSpace(gw, 'awsconn', {
    queue: ['awssqs', { queueUrl: `https://sqs.${kRegion}.amazonaws.com/${kAccount}/e2e-queue` }],
    hose: ['awsfirehose', { deliveryStreamName: 'e2e-delivery' }],
    kin: ['awskinesis', { streamName: 'e2e-stream-fake' }],
  });
  const before = calls.length;
  const sent = cloudEvent('aws.test', { greeting: 'héllo & <xml>' });
  const res = await emitStructured(gw.eventsUrl, sent, { path: '/awsconn' });
  assert.equal(res.status, 202, res.text);
  await waitFor(() => calls.length - before >= 3, { timeout: 10000, message: () => `3 calls to the stand-in (have ${calls.length - before}: ${JSON.stringify(calls.slice(before).map((c) => [c.service, c.verdict]))})` });
  const mine = calls.slice(before);
  for (const c of mine) assert.equal(c.verdict, 'ok', `${c.service}: ${c.verdict}`);

  const q = mine.find((c) => c.service === 'sqs');
  assert.equal(q.req.url, `/${kAccount}/e2e-queue`);
  const form = new URLSearchParams(q.req.body);
  assert.equal(JSON.parse(form.get('MessageBody')).eventID, sent.eventID);
  assert.deepEqual(JSON.parse(form.get('MessageBody')).data, sent.data);

  const h = mine.find((c) => c.service === 'firehose');
  const hb = JSON.parse(h.req.body);
  assert.equal(h.req.headers['content-type'], 'application/x-amz-json-1.1');
  assert.equal(hb.DeliveryStreamName, 'e2e-delivery');
  assert.equal(JSON.parse(Buffer.from(hb.Record.Data, 'base64').toString('utf8')).eventID, sent.eventID);

  const k = mine.find((c) => c.service === 'kinesis');
  const kb = JSON.parse(k.req.body);
  assert.equal(kb.StreamName, 'e2e-stream-fake');
  assert.equal(kb.PartitionKey, sent.eventID);
  assert.deepEqual(JSON.parse(Buffer.from(kb.Data, 'base64').toString('utf8')).data, sent.data);
  assert.equal(received(watcher).length, 0, 'no invocationFailed');
});

test('awskinesis: PutRecord reaches a stream in kinesalite, readable with GetRecords', async () => {
  await kinesisApi('CreateStream', { StreamName: 'e2e-stream', ShardCount: 1 });
  await waitFor(async () => (await kinesisApi('DescribeStream', { StreamName: 'e2e-stream' })).StreamDescription.StreamStatus === 'ACTIVE',
    { timeout: 5000, message: 'stream ACTIVE' });
  const watcher = await setUpSpace(gw, 'awskin', {
    kin: ['awskinesis', { streamName: 'e2e-stream', endpoint: kinesisUrl }],
  });
  const sent = cloudEvent('aws.test', { k: 'v' });
  const res = await emitStructured(gw.eventsUrl, sent, { path: '/awskin' });
  assert.equal(res.status, 202, res.text);

  const { ShardIterator } = await kinesisApi('GetShardIterator', { StreamName: 'e2e-stream', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' });
  let records = [];
  await waitFor(async () => {
    const out = await kinesisApi('GetRecords', { ShardIterator });
    records = out.Records;
    return records.length > 0;
  }, { timeout: 10000, message: () => `a record in e2e-stream (invocationFailed: ${JSON.stringify(received(watcher).map((e) => e.data.error))})` });
  assert.equal(records.length, 1);
  assert.equal(records[0].PartitionKey, sent.eventID);
  const event = JSON.parse(Buffer.from(records[0].Data, 'base64').toString('utf8'));
  assert.equal(event.eventID, sent.eventID);
  assert.deepEqual(event.data, { k: 'v' });
});

test('credentials come from the shared credentials file at call time; none is a failed call', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eg-aws-creds-'));
  const file = path.join(dir, 'credentials');
  const g = await startGateway({
    env: { ...kCleanEnv, AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'e2e', AWS_ENDPOINT_URL_LAMBDA: fake.url },
  });
  try {
    // Registration does not need credentials.
    const watcher = await setUpSpace(g, 'awscreds', { okfn: ['awslambda', { arn: arn('ok-fn') }] });
    const first = cloudEvent('aws.test');
    await emitStructured(g.eventsUrl, first, { path: '/awscreds' });
    const failure = await failureFor(watcher, 'okfn', first.eventID);
    assert.match(failure.data.error.message, /^function call failed: awslambda Invoke: no AWS credentials: /);
    assert.ok(failure.data.error.message.includes(file), failure.data.error.message);

    fs.writeFileSync(file, `[default]\naws_access_key_id = AKIDNOTTHISONE\naws_secret_access_key = x\n\n[e2e]\naws_access_key_id = ${creds.accessKeyId}\naws_secret_access_key = ${creds.secretAccessKey}\naws_session_token = ${creds.sessionToken}\n`);
    // The file is re-read within seconds: later calls succeed without a restart.
    const before = calls.length;
    await waitFor(async () => {
      await emitStructured(g.eventsUrl, cloudEvent('aws.test'), { path: '/awscreds' });
      await new Promise((r) => setTimeout(r, 200));
      return calls.slice(before).some((c) => c.service === 'lambda' && c.verdict === 'ok');
    }, { timeout: 15000, interval: 500, message: 'a signed call with the file credentials' });
    assert.ok(!g.logs().includes(creds.secretAccessKey));
  } finally {
    await g.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
