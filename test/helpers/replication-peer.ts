// A scripted peer that speaks the HA replication protocol to a real broker (the hostile-input
// issue: fake backups and absurd frames). It opens a connection with the `qpid.ha-replication`
// property, attaches both links of `$ha.replication`, and sends whatever frames the test gives
// it, through the production codec; it records every primary frame it gets and how the
// connection ended. It never confirms unless told to. And FakePrimary: an impostor that answers
// on a dead primary's port as a primary.

import { connect as tcpConnect } from 'node:net';
import rhea, { type Connection, type EventContext, type Receiver, type Sender } from 'rhea';
import { decodeBackupFrame, decodePrimaryFrame, encodeBackupFrame, encodePrimaryFrame, HA_MESSAGE_FORMAT, REPLICATION_ADDRESS, type BackupFrame, type PrimaryFrame } from '../../src/ha/messages.js';

export interface PeerOptions {
  readonly port: number;
  /** Local address to connect from (another loopback address than the cluster's: a stranger). */
  readonly localAddress?: string;
}

export class ReplicationPeer {
  readonly frames: PrimaryFrame[] = [];
  /** Set when the connection ends: the error the broker closed it with, or 'disconnected'. */
  ended: string | null = null;
  private sender: Sender | null = null;
  private readonly connection: Connection;
  readonly opened: Promise<void>;

  constructor(options: PeerOptions) {
    const container = rhea.create_container({ id: `fake-${Math.random().toString(36).slice(2, 8)}` });
    this.connection = container.connect({
      host: '127.0.0.1',
      port: options.port,
      reconnect: false,
      properties: { 'qpid.ha-replication': true },
      ...(options.localAddress ? { connect: (port: number, host: string, _o: unknown, callback: () => void) => tcpConnect({ port, host, localAddress: options.localAddress }, callback) } : {}),
    } as never);
    this.opened = new Promise((resolve, reject) => {
      this.connection.once('connection_open', () => {
        const receiver: Receiver = this.connection.open_receiver({ source: { address: REPLICATION_ADDRESS }, credit_window: 0, autoaccept: false } as never);
        receiver.add_credit(1000);
        receiver.on('message', (ctx: EventContext) => {
          const d = ctx.delivery as unknown as { remote_settled?: boolean; settled?: boolean };
          if (d.remote_settled) d.settled = true;
          try {
            this.frames.push(decodePrimaryFrame(ctx.message as unknown as Buffer));
          } catch {
            // not for us to judge here
          }
          receiver.add_credit(1);
        });
        this.sender = this.connection.open_sender({ target: { address: REPLICATION_ADDRESS }, snd_settle_mode: 1 } as never);
        this.sender.once('sender_open', () => resolve());
      });
      const end = (ctx: EventContext | undefined, what: string): void => {
        const error = (ctx?.connection as unknown as { error?: { condition?: unknown; description?: unknown } } | undefined)?.error;
        this.ended ??= error ? `${String(error.condition)}: ${String(error.description)}` : what;
        reject(new Error(`replication peer ended before opening: ${this.ended}`));
      };
      this.connection.on('connection_close', (ctx: EventContext) => end(ctx, 'closed'));
      this.connection.on('connection_error', (ctx: EventContext) => end(ctx, 'closed'));
      this.connection.on('disconnected', () => end(undefined, 'disconnected'));
      this.connection.on('error', () => {});
    });
    this.opened.catch(() => {});
  }

  send(frame: BackupFrame): void {
    this.sender?.send(encodeBackupFrame(frame), undefined, HA_MESSAGE_FORMAT);
  }

  /** Sends raw bytes as a replication transfer (to send what the codec would not encode). */
  sendRaw(bytes: Buffer): void {
    this.sender?.send(bytes, undefined, HA_MESSAGE_FORMAT);
  }

  close(): void {
    try {
      this.connection.close();
    } catch {
      // gone already
    }
    (this.connection as unknown as { socket?: { destroy(): void } }).socket?.destroy();
  }
}

/** A process that answers on a broker's port as a primary: to every backup that joins, it sends
 * `hello` with the given epoch and history, then the given snapshot (empty by default), then
 * says the backup is ready. Records the names of the backups that joined. */
export class FakePrimary {
  readonly joined: string[] = [];
  private readonly listener: { close(): void; on(event: string, cb: () => void): void };

  private constructor(listener: FakePrimary['listener']) {
    this.listener = listener;
  }

  static start(options: { port: number; epoch: number; epochHistory?: { epoch: number; firstLsn: number }[]; lastLsn?: number }): Promise<FakePrimary> {
    const container = rhea.create_container({ id: 'fake-primary' });
    const senders = new Map<Connection, Sender>();
    let fake: FakePrimary | null = null;
    container.on('sender_open', (ctx: EventContext) => {
      (ctx.sender as unknown as { local: { attach: { snd_settle_mode: number } } }).local.attach.snd_settle_mode = 1;
      senders.set(ctx.connection, ctx.sender as Sender);
    });
    container.on('receiver_open', (ctx: EventContext) => (ctx.receiver as Receiver).add_credit(100));
    container.on('message', (ctx: EventContext) => {
      const d = ctx.delivery as unknown as { remote_settled?: boolean; settled?: boolean };
      if (d.remote_settled) d.settled = true;
      let frame: ReturnType<typeof decodeBackupFrame>;
      try {
        frame = decodeBackupFrame(ctx.message as unknown as Buffer);
      } catch {
        return;
      }
      if (frame.kind !== 'join') return;
      fake?.joined.push(frame.name);
      const sender = senders.get(ctx.connection);
      const send = (f: PrimaryFrame): void => void sender?.send(encodePrimaryFrame(f), undefined, HA_MESSAGE_FORMAT);
      const history = options.epochHistory ?? [];
      send({ kind: 'hello', epoch: options.epoch, name: 'impostor', storeId: 'impostor-store', publicAddress: null, lastLsn: options.lastLsn ?? 0, epochHistory: history, catchUp: { kind: 'snapshot', reason: 'impostor' } });
      send({ kind: 'snapshot-begin', epoch: options.epoch, lsn: options.lastLsn ?? 0, lastMessageId: 0, epochHistory: history });
      send({ kind: 'snapshot-end', epoch: options.epoch });
      send({ kind: 'state', epoch: options.epoch, state: 'ready', members: [] });
    });
    return new Promise((resolve, reject) => {
      const listener = container.listen({ port: options.port, host: '127.0.0.1' }) as unknown as FakePrimary['listener'];
      listener.on('listening', () => {
        fake = new FakePrimary(listener);
        resolve(fake);
      });
      listener.on('error', reject as () => void);
    });
  }

  stop(): void {
    this.listener.close();
  }
}
