// Which message field a selector identifier names, as qpidd maps them (Selector.cpp):
//
//   amqp.<name>           JMS alias          AMQP 1.0 field
//   amqp.durable                             header durable (boolean)
//   amqp.delivery_mode    JMSDeliveryMode    'PERSISTENT' when durable, else 'NON_PERSISTENT'
//   amqp.priority         JMSPriority        header priority (4 when absent)
//   amqp.delivery_count                      delivery count of this delivery
//   amqp.redelivered      JMSRedelivered     delivery count > 0
//   amqp.subject          JMSType            properties subject
//   amqp.correlation_id   JMSCorrelationID   properties correlation-id, as a string
//   amqp.message_id       JMSMessageID       properties message-id, as a string
//   amqp.to               JMSDestination     properties to
//   amqp.reply_to         JMSReplyTo         properties reply-to
//   amqp.absolute_expiry_time JMSExpiration  expiry in ms since the epoch; 0 when it never expires
//   amqp.creation_time    JMSTimestamp       properties creation-time in ms (NULL when absent)
//   amqp.jms_type                            message annotation x-opt-jms-type (or jms-type)
//
// Any other JMS... or amqp... name is NULL; every other identifier is an application property.
// (qpidd's JMSRedelivered is always true and its JMSTimestamp is the enqueue time; here they are
// what the fields say.)

import type { SelectorValue } from './ast.js';
import type { SelectorEnv } from './evaluate.js';

/** A message's fields as the selector sees them (decoded by src/amqp/selector-fields.ts). */
export interface MessageFields {
  readonly durable: boolean;
  readonly priority: number;
  readonly deliveryCount: number;
  readonly messageId: string | null;
  readonly correlationId: string | null;
  readonly to: string | null;
  readonly replyTo: string | null;
  readonly subject: string | null;
  readonly creationTimeMs: number | null;
  readonly expiresAtMs: number | null;
  readonly jmsType: string | null;
  readonly applicationProperties: ReadonlyMap<string, SelectorValue>;
}

const JMS_ALIASES: Readonly<Record<string, string>> = {
  JMSType: 'subject',
  JMSCorrelationID: 'correlation_id',
  JMSMessageID: 'message_id',
  JMSDeliveryMode: 'delivery_mode',
  JMSRedelivered: 'redelivered',
  JMSPriority: 'priority',
  JMSDestination: 'to',
  JMSReplyTo: 'reply_to',
  JMSTimestamp: 'creation_time',
  JMSExpiration: 'absolute_expiry_time',
};

function headerField(fields: MessageFields, name: string): SelectorValue {
  switch (name) {
    case 'durable':
      return fields.durable;
    case 'delivery_mode':
      return fields.durable ? 'PERSISTENT' : 'NON_PERSISTENT';
    case 'priority':
      return BigInt(fields.priority);
    case 'delivery_count':
      return BigInt(fields.deliveryCount);
    case 'redelivered':
      return fields.deliveryCount > 0;
    case 'subject':
      return fields.subject;
    case 'correlation_id':
      return fields.correlationId;
    case 'message_id':
      return fields.messageId;
    case 'to':
      return fields.to;
    case 'reply_to':
      return fields.replyTo;
    case 'absolute_expiry_time':
      return BigInt(Math.trunc(fields.expiresAtMs ?? 0));
    case 'creation_time':
      return fields.creationTimeMs === null ? null : BigInt(Math.trunc(fields.creationTimeMs));
    case 'jms_type':
      return fields.jmsType;
    default:
      return null;
  }
}

/** The value of one identifier for a message. */
export function fieldValue(fields: MessageFields, identifier: string): SelectorValue {
  if (identifier.startsWith('amqp.')) return headerField(fields, identifier.slice(5));
  if (identifier.startsWith('JMS')) {
    const alias = JMS_ALIASES[identifier];
    return alias === undefined ? null : headerField(fields, alias);
  }
  return fields.applicationProperties.get(identifier) ?? null;
}

/** An environment that decodes the message only if an identifier is looked up, and once. */
export function lazyMessageEnv(decode: () => MessageFields | null): SelectorEnv {
  let fields: MessageFields | null | undefined;
  return {
    lookup(identifier) {
      if (fields === undefined) fields = decode();
      return fields === null ? null : fieldValue(fields, identifier);
    },
  };
}
