import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { locateSections, MessageFormatError, scanMessage, withDeliveryCount } from '../../src/amqp/message-format.js';

const require = createRequire(import.meta.url);
const rheaMessage = require('rhea/lib/message.js') as { encode(m: unknown): Buffer; decode(b: Buffer): Record<string, unknown>; data_section(b: Buffer): unknown };

test('scan reads routing fields without decoding the body', () => {
  const encoded = rheaMessage.encode({
    durable: true,
    ttl: 5000,
    subject: 'usa.news',
    to: 'amq.topic',
    application_properties: { sn: 7, sender: 'p1' },
    body: rheaMessage.data_section(Buffer.alloc(1024, 7)),
  });
  const scanned = scanMessage(encoded);
  assert.equal(scanned.durable, true);
  assert.equal(scanned.ttlMs, 5000);
  assert.equal(scanned.subject, 'usa.news');
  assert.equal(scanned.to, 'amq.topic');
  assert.deepEqual(scanned.applicationProperties, { sn: 7, sender: 'p1' });
  assert.ok(locateSections(encoded).bodyStart < encoded.length - 1024);
});

test('a redelivery rewrites only the header: delivery count set, first-acquirer false, the rest byte for byte', () => {
  const encoded = rheaMessage.encode({ durable: true, priority: 7, subject: 's', body: 'hello' });
  const { headerEnd } = locateSections(encoded);
  const rewritten = withDeliveryCount(encoded, 3);
  const decoded = rheaMessage.decode(rewritten);
  assert.equal(decoded['delivery_count'], 3);
  assert.equal(decoded['first_acquirer'], false);
  assert.equal(decoded['durable'], true);
  assert.equal(decoded['priority'], 7);
  assert.equal(decoded['subject'], 's');
  assert.equal(decoded['body'], 'hello');
  assert.deepEqual(rewritten.subarray(rewritten.length - (encoded.length - headerEnd)), encoded.subarray(headerEnd));
});

test('a message without a header gets one', () => {
  const encoded = rheaMessage.encode({ body: 'x' });
  const decoded = rheaMessage.decode(withDeliveryCount(encoded, 1));
  assert.equal(decoded['delivery_count'], 1);
  assert.equal(decoded['body'], 'x');
});

test('garbage and truncated messages are refused with a decode error', () => {
  assert.throws(() => scanMessage(Buffer.from([0x00, 0x53, 0x77, 0xa1, 0x10, 0x61])), MessageFormatError);
  assert.throws(() => scanMessage(Buffer.from([0xff, 0x01])), MessageFormatError);
  assert.throws(() => scanMessage(Buffer.from([0x00, 0x53, 0x99, 0x40])), MessageFormatError);
});
