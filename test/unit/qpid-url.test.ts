import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQpidUrl, QpidUrlError } from '../../src/core/qpid-url.js';

test('parses the reference grammar: scheme, credentials, transports, default port', () => {
  assert.deepEqual(parseQpidUrl('amqp:bob/secret@tcp:node1:5673,ssl:node2,node3:10'), {
    user: 'bob',
    password: 'secret',
    addresses: [
      { transport: 'tcp', host: 'node1', port: 5673 },
      { transport: 'ssl', host: 'node2', port: 5671 },
      { transport: 'tcp', host: 'node3', port: 10 },
    ],
  });
  assert.deepEqual(parseQpidUrl('127.0.0.1:5672'), { addresses: [{ transport: 'tcp', host: '127.0.0.1', port: 5672 }] });
  assert.deepEqual(parseQpidUrl('localhost'), { addresses: [{ transport: 'tcp', host: 'localhost', port: 5672 }] });
  assert.deepEqual(parseQpidUrl('alice@h'), { user: 'alice', addresses: [{ transport: 'tcp', host: 'h', port: 5672 }] });
});

test('amqps: makes every address TLS (port 5671 by default) unless one says tcp:', () => {
  assert.deepEqual(parseQpidUrl('amqps:ha/pw@node1,node2:6000,tcp:node3'), {
    user: 'ha',
    password: 'pw',
    addresses: [
      { transport: 'ssl', host: 'node1', port: 5671 },
      { transport: 'ssl', host: 'node2', port: 6000 },
      { transport: 'tcp', host: 'node3', port: 5672 },
    ],
  });
  assert.deepEqual(parseQpidUrl('AMQPS:127.0.0.1:5671'), { addresses: [{ transport: 'ssl', host: '127.0.0.1', port: 5671 }] });
  assert.deepEqual(parseQpidUrl('bench@ssl:127.0.0.1:5999,tcp:10.0.0.2'), { user: 'bench', addresses: [{ transport: 'ssl', host: '127.0.0.1', port: 5999 }, { transport: 'tcp', host: '10.0.0.2', port: 5672 }] });
});

test('bad URLs name the offending part', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['node1:abc', /port "abc" is not a number/],
    ['node1:70000', /out of range/],
    ['rdma:node1', /unsupported transport "rdma"/],
    ['node1,,node2', /empty address between commas/],
    ['bad host!:5672', /"bad host!" is not a valid host/],
    ['@node1', /empty user name/],
  ];
  for (const [url, pattern] of cases) {
    assert.throws(() => parseQpidUrl(url), (err: unknown) => err instanceof QpidUrlError && pattern.test(err.message), url);
  }
});
