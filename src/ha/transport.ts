// Replication over AMQP 1.0 (rhea). A backup opens a connection to the primary with the
// connection property `qpid.ha-replication`, attaches a receiving link from `$ha.replication`
// (frames from the primary) and a sending link to it (join, confirmations). Frames are
// pre-settled transfers of message format HA_MESSAGE_FORMAT, so rhea never decodes them. The
// connection's AMQP heartbeat is --link-heartbeat-interval: a peer silent for twice that is
// dropped (rhea closes the connection), which takes a backup out of the ack gate.

import { saslConnectionOptions } from '../security/rhea-sasl-client.js';
import { clientTlsOptions } from '../security/tls-context.js';
import rhea, { type Connection, type Container, type Delivery, type EventContext, type Receiver, type Sender } from 'rhea';
import type { Logger } from '../core/log.js';
import { formatAddress, type QpidAddress } from '../core/qpid-url.js';
import { connectGuarded } from '../amqp/client-guard.js';
import { settleIfPresettled, type ConnectionInfo, type ConnectionRole, type SpecialNode } from '../amqp/server.js';
import type { ChannelEvents, ConnectOptions, ReplicationChannel, ReplicationConnector } from './backup.js';
import { decodeBackupFrame, decodePrimaryFrame, encodeBackupFrame, encodePrimaryFrame, HA_MESSAGE_FORMAT, REPLICATION_ADDRESS, type BackupFrame, type PrimaryFrame } from './messages.js';
import type { BackupLink, PrimaryReplicator } from './primary.js';
import { EXPECT_PROMOTION } from './admission.js';

type JoinFrame = Extract<BackupFrame, { kind: 'join' }>;

/** Frames the primary lets a backup have in flight (confirmations and catalogs: small). */
const BACKUP_FRAME_WINDOW = 32;
/** How long a backup that is about to be promoted holds a hinted backup's join (admission.ts):
 * a promotion takes tens of ms; one that does not come within this is not coming, and the
 * joining backup looks again (its hint lasts 2 s). */
const PARK_MS = 1000;

type LinkOwner = { connection: Connection };

/** Primary side: the `$ha.replication` node on the broker port. */
export class RheaReplicationEndpoint implements SpecialNode {
  private readonly senders = new Map<Connection, Sender>();
  private readonly links = new Map<Connection, RheaBackupLink>();
  private readonly peers = new Map<Connection, string>();
  /** Joins held until this broker is primary (a hinted backup's, admitted while this broker
   * was about to be promoted): served at once when it is, so that its new primary's recovery
   * does not wait for the backup's next attempt and a new connection (14-43 ms in the kill
   * drills, the largest step after the election). */
  /** Connections that asked to be held for a promotion (EXPECT_PROMOTION). */
  private readonly expecting = new Set<Connection>();
  private readonly parked = new Map<Connection, { readonly frame: JoinFrame; readonly timer: NodeJS.Timeout }>();

  constructor(
    private readonly logger: Logger,
    private readonly primary: () => PrimaryReplicator | null,
    /** The ACL's word on an identity asking for the replication stream: null when allowed,
     * else why not. Without an ACL every replication connection is served. */
    private readonly denied: (connection: ConnectionInfo) => string | null = () => null,
  ) {}

  /** This broker has become primary: the joins it held are served now, in arrival order. */
  primaryStarted(): void {
    const primary = this.primary();
    if (!primary) return;
    const parked = [...this.parked];
    this.parked.clear();
    for (const [owner, { frame, timer }] of parked) {
      clearTimeout(timer);
      this.logger.info({ backup: frame.name }, 'serving a join held until the promotion');
      this.join(owner, frame, primary);
    }
  }

  private park(owner: Connection, frame: JoinFrame): void {
    const timer = setTimeout(() => {
      if (this.parked.get(owner)?.timer !== timer) return;
      this.parked.delete(owner);
      this.logger.info({ backup: frame.name, heldMs: PARK_MS }, 'a held join was let go: no promotion came');
      owner.close({ condition: 'amqp:connection:forced', description: `not promoted within ${PARK_MS} ms` } as never);
    }, PARK_MS);
    timer.unref?.();
    const earlier = this.parked.get(owner);
    if (earlier) clearTimeout(earlier.timer);
    this.parked.set(owner, { frame, timer });
    this.logger.info({ backup: frame.name }, 'join held until the promotion');
  }

  private join(owner: Connection, frame: JoinFrame, primary: PrimaryReplicator): void {
    const sender = this.senders.get(owner);
    if (!sender) {
      owner.close({ condition: 'amqp:precondition-failed', description: `attach a receiving link from ${REPLICATION_ADDRESS} before joining` } as never);
      return;
    }
    const link = new RheaBackupLink(`${frame.name}#${Math.random().toString(36).slice(2, 10)}`, this.peers.get(owner) ?? '?', sender, owner, primary);
    this.links.set(owner, link);
    primary.join(link, frame);
  }

  /** A replication link from a connection that is not one, or whose identity the ACL does not
   * allow to replicate, is refused (the stream carries every message). */
  private refused(link: Sender | Receiver, connection: ConnectionInfo, role: ConnectionRole): boolean {
    const why = role !== 'replication' ? `${REPLICATION_ADDRESS} is for replication connections` : this.denied(connection);
    if (why === null) return false;
    if (role === 'replication') this.logger.warn({ user: connection.user, connection: connection.remoteAddress, reason: why }, 'replication refused');
    link.close({ condition: 'amqp:unauthorized-access', description: why } as never);
    return true;
  }

  senderOpened(sender: Sender, connection: ConnectionInfo, role: ConnectionRole): void {
    if (this.refused(sender, connection, role)) return;
    const owner = (sender as unknown as LinkOwner).connection;
    if (connection.properties[EXPECT_PROMOTION] === true) this.expecting.add(owner);
    this.peers.set(owner, connection.remoteAddress);
    (sender as unknown as { local: { attach: { snd_settle_mode: number } } }).local.attach.snd_settle_mode = 1;
    this.senders.set(owner, sender);
    sender.on('sendable', () => this.links.get(owner)?.flush());
  }

  receiverOpened(receiver: Receiver, connection: ConnectionInfo, role: ConnectionRole): void {
    if (this.refused(receiver, connection, role)) return;
    receiver.add_credit(BACKUP_FRAME_WINDOW);
  }

  message(receiver: Receiver, raw: Buffer, _delivery: unknown, format: number): void {
    const owner = (receiver as unknown as LinkOwner).connection;
    receiver.add_credit(1);
    if (format !== HA_MESSAGE_FORMAT) {
      this.logger.warn({ format }, 'replication transfer with the wrong message format; link closed');
      receiver.close({ condition: 'amqp:not-implemented', description: 'replication transfers use the HA message format' } as never);
      return;
    }
    const primary = this.primary();
    let frame;
    try {
      frame = decodeBackupFrame(raw);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'bad replication frame; connection closed');
      owner.close({ condition: 'amqp:decode-error', description: (err as Error).message } as never);
      return;
    }
    if (!primary) {
      // Admitted before this broker was primary: only a hinted join, held for the promotion.
      if (frame.kind === 'join' && this.expecting.has(owner)) this.park(owner, frame);
      else owner.close({ condition: 'amqp:connection:forced', description: 'not primary' } as never);
      return;
    }
    if (frame.kind === 'join') {
      this.join(owner, frame, primary);
    } else {
      const link = this.links.get(owner);
      if (link) primary.frame(link.id, frame);
    }
  }

  linkClosed(link: Sender | Receiver): void {
    this.connectionGone((link as unknown as LinkOwner).connection, 'replication link closed');
  }

  connectionClosed(connection: ConnectionInfo): void {
    // Links are matched by their rhea connection; linkClosed runs for each link first.
    void connection;
  }

  private connectionGone(owner: Connection, reason: string): void {
    const parked = this.parked.get(owner);
    if (parked) clearTimeout(parked.timer);
    this.parked.delete(owner);
    this.expecting.delete(owner);
    const link = this.links.get(owner);
    this.links.delete(owner);
    this.senders.delete(owner);
    this.peers.delete(owner);
    if (link) this.primary()?.lost(link.id, reason);
  }
}

class RheaBackupLink implements BackupLink {
  private readonly queue: Buffer[] = [];
  private closed = false;
  /** rhea takes every send at once and transfers (decrementing the link's credit) only when it
   * next processes the session: count what it holds so that credit means what the backup gave. */
  private sent = 0;
  private readonly baseDeliveryCount: number;

  constructor(
    readonly id: string,
    readonly remoteAddress: string,
    private readonly sender: Sender,
    private readonly connection: Connection,
    private readonly primary: PrimaryReplicator,
  ) {
    this.baseDeliveryCount = this.internals().delivery_count;
  }

  private internals(): { credit: number; delivery_count: number } {
    return this.sender as unknown as { credit: number; delivery_count: number };
  }

  /** Transfers the backup has room for that rhea is not already holding. */
  private room(): number {
    const link = this.internals();
    const heldByRhea = this.sent - (link.delivery_count - this.baseDeliveryCount);
    return link.credit - heldByRhea;
  }

  send(frame: PrimaryFrame): void {
    if (this.closed) return;
    this.queue.push(encodePrimaryFrame(frame));
    this.flush();
  }

  capacity(): number {
    return this.closed ? 0 : Math.max(0, this.room() - this.queue.length);
  }

  private recheck = false;

  flush(): void {
    while (!this.closed && this.queue.length > 0 && this.room() > 0) {
      this.sender.send(this.queue.shift() as Buffer, undefined, HA_MESSAGE_FORMAT);
      this.sent++;
    }
    if (this.closed) return;
    if (this.capacity() > 0) {
      this.primary.writable(this.id);
      return;
    }
    // Out of room while rhea still holds transfers it has not written: the room comes back
    // when rhea processes the session, which raises no event of its own. Look again then.
    const link = this.internals();
    const heldByRhea = this.sent - (link.delivery_count - this.baseDeliveryCount);
    if (heldByRhea > 0 && !this.recheck) {
      this.recheck = true;
      setImmediate(() => {
        this.recheck = false;
        this.flush();
      });
    }
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    try {
      this.connection.close({ condition: 'amqp:connection:forced', description: reason } as never);
    } catch {
      // already closed
    }
  }
}

/** Backup side: connects to a primary candidate. */
export class RheaReplicationConnector implements ReplicationConnector {
  private readonly container: Container;

  constructor(
    private readonly options: {
      name: string;
      heartbeatMs: number;
      /** --ha-frame-window: replication frames this backup lets the primary have in flight. */
      frameWindow: number;
      username: string | null;
      password: string | null;
      mechanism: string;
      logger: Logger;
    },
  ) {
    this.container = rhea.create_container({ id: `${options.name}-replication` });
  }

  connect(address: QpidAddress, events: ChannelEvents, connectOptions: ConnectOptions = {}): ReplicationChannel {
    const options = this.options;
    const connection = connectGuarded(this.container, {
      host: address.host,
      port: address.port,
      ...clientTlsOptions(address),
      reconnect: false,
      idle_time_out: Math.max(1, Math.round(options.heartbeatMs)),
      properties: { 'qpid.ha-replication': true, 'qpid.ha-backup': options.name, ...(connectOptions.expectPromotion ? { [EXPECT_PROMOTION]: true } : {}) },
      ...(options.mechanism === 'ANONYMOUS' ? {} : saslConnectionOptions(options.username, options.password, options.mechanism === 'ANY' ? undefined : options.mechanism)),
    } as never, (violation) => {
      options.logger.warn({ address: formatAddress(address), code: violation.code, err: violation.description }, 'bad frame from the primary candidate; connection dropped');
      end({ kind: 'refused', description: `${violation.condition}: ${violation.description}` });
    });
    let receiver: Receiver | null = null;
    let sender: Sender | null = null;
    let ended = false;
    let toCredit = 0;
    const end = (reason: Parameters<ChannelEvents['closed']>[0]): void => {
      clearTimeout(connectTimer);
      if (ended) return;
      ended = true;
      events.closed(reason);
    };
    // A powered-off machine does not refuse: the connect would wait for the OS's SYN retries
    // (about two minutes) before the next address is tried. Give up after twice the heartbeat,
    // bounded to 1-10 s.
    const connectTimeoutMs = Math.min(10_000, Math.max(1_000, 2 * options.heartbeatMs));
    const connectTimer = setTimeout(() => {
      end({ kind: 'lost', description: `no answer within ${connectTimeoutMs} ms` });
      (connection as unknown as { socket?: { destroy(): void } }).socket?.destroy();
    }, connectTimeoutMs);
    connectTimer.unref?.();
    connection.on('connection_open', () => {
      clearTimeout(connectTimer);
      receiver = connection.open_receiver({ source: { address: REPLICATION_ADDRESS }, credit_window: 0, autoaccept: false } as never);
      receiver.add_credit(options.frameWindow);
      sender = connection.open_sender({ target: { address: REPLICATION_ADDRESS }, snd_settle_mode: 1 } as never);
      sender.once('sender_open', () => events.opened());
      receiver.on('message', (ctx: EventContext) => {
        settleIfPresettled(ctx.delivery as Delivery);
        const format = (ctx as unknown as { format?: number }).format;
        if (format !== HA_MESSAGE_FORMAT) {
          end({ kind: 'refused', description: `unexpected message format ${format} on ${REPLICATION_ADDRESS}` });
          connection.close();
          return;
        }
        let frame;
        try {
          frame = decodePrimaryFrame(ctx.message as unknown as Buffer);
        } catch (err) {
          end({ kind: 'refused', description: (err as Error).message });
          connection.close();
          return;
        }
        events.frame(frame);
      });
    });
    const closedWith = (ctx: EventContext): void => {
      // A failed SASL login is reported on the event (ctx.error), not as the connection's error.
      type Closing = { error?: { condition?: string; description?: string; info?: Record<string, unknown> } };
      const error = (ctx as unknown as Closing).error ?? (ctx.connection as unknown as Closing).error;
      if (error?.condition === 'amqp:connection:redirect') {
        const info = error.info ?? {};
        const host = String(info['network-host'] ?? info['hostname'] ?? address.host);
        end({ kind: 'redirect', address: `${host}:${String(info['port'] ?? address.port)}` });
      } else if (error) {
        // rhea says only "Failed to authenticate: 1" (the SASL code) when the login fails.
        const sasl = /^Failed to authenticate: (\d+)/.exec(String(error.description ?? ''));
        const description = sasl ? `authentication as ${options.username ?? 'anonymous'} failed (SASL outcome ${sasl[1]})` : (error.description ?? '');
        end({ kind: 'refused', description: `${error.condition ?? 'closed'}: ${description}` });
      } else {
        end({ kind: 'lost', description: 'connection closed' });
      }
    };
    connection.on('connection_close', closedWith);
    connection.on('connection_error', closedWith);
    connection.on('disconnected', (ctx: EventContext) => {
      const err = (ctx as unknown as { error?: Error }).error;
      end({ kind: 'lost', description: err?.message ?? 'disconnected' });
    });
    connection.on('error', () => {});
    return {
      send: (frame) => {
        if (sender && !ended) sender.send(encodeBackupFrame(frame), undefined, HA_MESSAGE_FORMAT);
      },
      processed: () => {
        toCredit++;
        if (receiver && toCredit >= options.frameWindow / 4) {
          receiver.add_credit(toCredit);
          toCredit = 0;
        }
      },
      close: () => {
        ended = true;
        try {
          connection.close();
        } catch {
          // already closed
        }
        const socket = (connection as unknown as { socket?: { destroy(): void } }).socket;
        setTimeout(() => socket?.destroy(), 200).unref();
      },
    };
  }
}
