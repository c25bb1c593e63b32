// The `$management` node on the broker port: the tools' transport to the command set. A client
// attaches a receiving link from `$management` (responses come back on it) and a sending link
// to it; each request is a message with application property `operation` and a map body of
// arguments; each response carries `correlation_id` = the request's `message_id`, application
// properties `status` (200, 400, 403, 404, 409, 413, 500, 502) and `description`, and the result
// as its body (a listing's is one page, { items, next }; no answer exceeds RESPONSE_BYTES_MAX).
// It answers on backups too (for qpid.ha-admin connections), so `qpid-ha status` works anywhere.

import { createRequire } from 'node:module';
import type { Connection, Delivery, Receiver, Sender } from 'rhea';
import { BrokerError } from '../broker/errors.js';
import type { BrokerConfig } from '../config/index.js';
import type { Logger } from '../core/log.js';
import type { HaNode } from '../ha/node.js';
import type { ConnectionInfo, ConnectionRole, SpecialNode } from '../amqp/server.js';
import type { ConnectionsSource } from './connections.js';
import { ManagementCommands, type CommandAuthorizer, type Requester } from './commands.js';
import { oversizedAnswer, statusForCode } from './status.js';
import { RESPONSE_BYTES_MAX } from '../core/paging.js';

const require = createRequire(import.meta.url);
const rheaMessage = require('rhea/lib/message.js') as { decode(buffer: Buffer): Record<string, unknown> };

export const MANAGEMENT_ADDRESS = '$management';

/** Requests of one link being answered at once (the link's credit). */
const REQUESTS_IN_FLIGHT_MAX = 16;

type Owned = { connection: Connection };

export class ManagementNode implements SpecialNode {
  readonly commands: ManagementCommands;
  private readonly replyLinks = new Map<Connection, Sender>();
  /** Who is on each connection that sends requests: logged with commands that remove messages. */
  private readonly requesters = new Map<Connection, Requester>();
  private readonly logger: Logger;

  constructor(options: { config: BrokerConfig; ha: HaNode; logger: Logger; authorize?: CommandAuthorizer; connections?: ConnectionsSource }) {
    this.logger = options.logger;
    this.commands = new ManagementCommands(options.ha, options.logger, options.authorize, options.connections);
  }

  senderOpened(sender: Sender, _connection: ConnectionInfo, _role: ConnectionRole): void {
    this.replyLinks.set((sender as unknown as Owned).connection, sender);
  }

  receiverOpened(receiver: Receiver, connection: ConnectionInfo): void {
    this.requesters.set((receiver as unknown as Owned).connection, {
      transport: 'amqp',
      address: connection.remoteAddress,
      containerId: connection.containerId,
      connectionId: connection.id,
      user: connection.user,
    });
    // Credit comes back as answers go out: at most this many requests of a link are being
    // answered at once, so a client cannot pile up work (and answers) without bound.
    receiver.add_credit(REQUESTS_IN_FLIGHT_MAX);
  }

  message(receiver: Receiver, raw: Buffer, delivery: Delivery): void {
    const connection = (receiver as unknown as Owned).connection;
    delivery.accept();
    const answered = (): void => {
      if (receiver.is_open()) receiver.add_credit(1);
    };
    let request: Record<string, unknown>;
    try {
      request = rheaMessage.decode(raw);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'undecodable management request');
      answered();
      return;
    }
    const props = (request['application_properties'] ?? {}) as Record<string, unknown>;
    const operation = String(props['operation'] ?? '');
    const correlation = request['message_id'] ?? request['correlation_id'];
    const started = performance.now();
    const requester = this.requesters.get(connection) ?? { transport: 'amqp', address: 'unknown', containerId: null, connectionId: null, user: null };
    this.commands
      .execute(operation, request['body'], requester)
      .then(
        (result) => this.reply(connection, correlation, 200, 'OK', result),
        (err: unknown) => {
          const code = (err as { code?: string })?.code ?? 'INTERNAL';
          const status = statusForCode(code);
          if (status === 500 && !(err instanceof BrokerError)) this.logger.error({ err, operation }, 'management operation failed');
          this.reply(connection, correlation, status, (err as Error)?.message ?? String(err), { code });
        },
      )
      .finally(answered);
    this.logger.debug({ operation, ms: Math.round(performance.now() - started) }, 'management request');
  }

  private reply(connection: Connection, correlation: unknown, status: number, description: string, body: unknown): void {
    const sender = this.replyLinks.get(connection);
    if (!sender || !sender.is_open()) return;
    const text = JSON.stringify(body ?? null);
    const bytes = Buffer.byteLength(text, 'utf8');
    // The last guard: listings are paged and bounded, but no answer of any kind goes out larger.
    if (bytes > RESPONSE_BYTES_MAX) {
      const oversized = oversizedAnswer(bytes, RESPONSE_BYTES_MAX);
      sender.send({ correlation_id: correlation as string, application_properties: { status: oversized.status, description: oversized.description }, body: oversized.body } as never);
      return;
    }
    sender.send({ correlation_id: correlation as string, application_properties: { status, description }, body: JSON.parse(text) } as never);
  }

  linkClosed(link: Sender | Receiver): void {
    const connection = (link as unknown as Owned).connection;
    if (this.replyLinks.get(connection) === link) this.replyLinks.delete(connection);
  }

  connectionClosed(info: ConnectionInfo): void {
    for (const [connection, requester] of this.requesters) if (requester.connectionId === info.id) this.requesters.delete(connection);
  }
}
