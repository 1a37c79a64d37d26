import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressGuard, literalAddress } from '../modules/webhooks/address-guard.ts';
import { parseRetryAfter, retryDelayMs, judge } from '../modules/webhooks/retry.ts';

const blocked = (guard: AddressGuard, url: string) => {
  const u = new URL(url);
  const literal = literalAddress(u);
  assert.ok(literal, `${url} should parse as an IP literal`);
  try {
    guard.checkAddress(literal, u.hostname);
    return false;
  } catch {
    return true;
  }
};

describe('address guard', () => {
  const guard = new AddressGuard([]);
  const refused = [
    'http://127.0.0.1/', 'http://127.1/', 'http://2130706433/', 'http://0177.0.0.1/', 'http://0x7f.0.0.1/',
    'http://10.0.0.5/', 'http://172.16.3.4/', 'http://192.168.1.1/', 'http://169.254.169.254/', 'http://100.64.0.1/',
    'http://0.0.0.0/', 'http://224.0.0.1/', 'http://[::1]/', 'http://[::]/', 'http://[fe80::1]/', 'http://[fc00::1]/',
    'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://[::ffff:10.0.0.1]/',
    // More spellings of loopback: hex, octal and decimal whole numbers, mixed short forms, a trailing dot.
    'http://0x7f000001/', 'http://017700000001/', 'http://0x7f.1/', 'http://127.0.0.1./', 'http://0/',
    'http://[0:0:0:0:0:ffff:127.0.0.1]/', 'http://[::127.0.0.1]/', 'http://[::ffff:169.254.169.254]/',
    // Documentation, benchmarking, broadcast, reserved, and IPv6 transition ranges that embed IPv4.
    'http://192.0.2.1/', 'http://198.18.0.1/', 'http://255.255.255.255/', 'http://240.0.0.1/', 'http://192.0.0.8/',
    'http://[ff02::1]/', 'http://[2001:db8::1]/', 'http://[64:ff9b::7f00:1]/', 'http://[2002:7f00:1::]/',
    'http://[2001::1]/', 'http://[fec0::1]/', 'http://[fd00:ec2::254]/', 'http://[100::1]/',
  ];
  for (const url of refused) it(`refuses ${url}`, () => assert.equal(blocked(guard, url), true));
  for (const url of ['http://93.184.216.34/', 'http://8.8.8.8/', 'http://100.128.0.1/', 'http://[2606:2800:220:1:248:1893:25c8:1946]/']) {
    it(`allows public ${url}`, () => assert.equal(blocked(guard, url), false));
  }
  it('allows listed hosts, addresses and CIDRs', () => {
    const g = new AddressGuard(['127.0.0.1', '10.1.0.0/16', 'internal.example']);
    assert.equal(blocked(g, 'http://127.0.0.1/'), false);
    assert.equal(blocked(g, 'http://10.1.2.3/'), false);
    assert.equal(blocked(g, 'http://10.2.0.1/'), true);
    g.checkAddress('10.9.9.9', 'internal.example');
  });
});

describe('address guard on resolved names', () => {
  const resolve = (guard: AddressGuard, host: string) =>
    new Promise<{ err: Error | null; address: string }>((done) =>
      guard.guardedLookup(host)(host, {}, (err, address) => done({ err, address: String(address) })),
    );

  it('refuses a DNS name that resolves to loopback', async () => {
    const { err } = await resolve(new AddressGuard([]), 'localhost');
    assert.equal(err?.name, 'BlockedDestinationError');
    assert.match(err!.message, /loopback/);
  });

  it('lets it through when the name, or a CIDR holding its address, is listed', async () => {
    assert.equal((await resolve(new AddressGuard(['localhost']), 'localhost')).err, null);
    const byCidr = await resolve(new AddressGuard(['127.0.0.0/8', '::1']), 'localhost');
    assert.equal(byCidr.err, null);
    assert.match(byCidr.address, /^(127\.|::1)/);
  });
});

describe('retry policy', () => {
  it('retries network errors, 408, 429 and 5xx; fails other 4xx; succeeds on 2xx', () => {
    const r = (status: number) => judge({ kind: 'response', status, headers: {}, body: '', latencyMs: 1 });
    assert.deepEqual([200, 204, 408, 429, 500, 503, 400, 404, 301].map(r), ['succeeded', 'succeeded', 'retry', 'retry', 'retry', 'retry', 'failed', 'failed', 'failed']);
    assert.equal(judge({ kind: 'error', error: 'ECONNRESET', latencyMs: 1 }), 'retry');
    assert.equal(judge({ kind: 'error', error: 'blocked', latencyMs: 1, permanent: true }), 'failed');
  });
  it('grows exponentially within jitter bounds, and Retry-After wins when longer', () => {
    assert.equal(retryDelayMs(5, 2, undefined, 0, () => 0.5), 5000);
    assert.equal(retryDelayMs(5, 3, undefined, 0, () => 0.5), 15000);
    assert.equal(retryDelayMs(5, 2, undefined, 0, () => 0), 4000);
    assert.equal(retryDelayMs(5, 2, undefined, 0, () => 1), 6000);
    assert.equal(retryDelayMs(5, 2, '30', 0, () => 0.5), 30000);
    assert.equal(parseRetryAfter(new Date(60_000).toUTCString(), 0), 60000);
    assert.equal(parseRetryAfter('soon', 0), null);
    const total = [2, 3, 4, 5, 6, 7, 8].reduce((s, n) => s + retryDelayMs(5, n, undefined, 0, () => 0.5), 0);
    assert.ok(total > 50 * 60_000 && total < 70 * 60_000, `default series spans ${total / 60000} minutes`);
  });
});
