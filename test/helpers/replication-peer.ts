// A scripted peer that speaks the HA replication protocol to a real broker (the hostile-input
// issue: fake backups and absurd frames). It opens a connection with the `qpid.ha-replication`
// property, attaches both links of `$ha.replication`, and sends whatever frames the test gives
// it, through the production codec; it records every primary frame it gets and how the
// connection ended. It never confirms unless told to.

import { connect as tcpConnect } from 'node:net';
import rhea, { type Connection, type EventContext, type Receiver, type Sender } from 'rhea';
import { decodePrimaryFrame, encodeBackupFrame, HA_MESSAGE_FORMAT, REPLICATION_ADDRESS, type BackupFrame, type PrimaryFrame } from '../../src/ha/messages.js';

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
