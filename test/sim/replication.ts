// HA replication over the simulated network, as src/ha/transport.ts does it over rhea: the
// backup's connector opens a replication connection (connection property qpid.ha-replication),
// grants the primary a window of frame credit and tops it up as frames are processed; the
// primary's endpoint routes join and confirm frames to the PrimaryReplicator and gives it a
// BackupLink whose capacity is that credit. Every frame goes through the production codec
// (encode/decode), so the backup never shares an object with its primary.

import type { ChannelClosed, ChannelEvents, ReplicationChannel, ReplicationConnector } from '../../src/ha/backup.js';
import { decodeBackupFrame, decodePrimaryFrame, encodeBackupFrame, encodePrimaryFrame, type PrimaryFrame } from '../../src/ha/messages.js';
import type { BackupLink, PrimaryReplicator } from '../../src/ha/primary.js';
import type { QpidAddress } from '../../src/core/qpid-url.js';
import type { CloseReason, ConnEnd, EndHandlers, SimConnection, SimNetwork } from './network.js';
import type { Trace } from './trace.js';
import type { Life } from './world.js';

/** Frames a backup lets the primary have in flight (as in transport.ts). */
const FRAME_WINDOW = 32;

type WireFrame = { readonly t: 'frame'; readonly bytes: Buffer } | { readonly t: 'flow'; readonly credit: number };

/** The backup's side: one per broker lifetime. `current` is the connection whose frames the
 * backup is applying (the checkers use it to know which primary shipped what). */
export class SimReplicationConnector implements ReplicationConnector {
  current: SimConnection | null = null;

  constructor(
    private readonly net: SimNetwork,
    private readonly self: string,
    private readonly heartbeatMs: number,
    private readonly trace: Trace,
  ) {}

  connect(address: QpidAddress, events: ChannelEvents): ReplicationChannel {
    let ended = false;
    let toCredit = 0;
    const end = (reason: ChannelClosed): void => {
      if (ended) return;
      ended = true;
      events.closed(reason);
    };
    const connection = this.net.connect(this.self, address.host, { 'qpid.ha-replication': true, 'qpid.ha-backup': this.self }, this.heartbeatMs, {
      opened: () => {
        if (ended) return;
        this.net.send(connection, connection.initiator, { t: 'flow', credit: FRAME_WINDOW } satisfies WireFrame);
        events.opened();
      },
      frame: (payload) => {
        if (ended) return;
        const wire = payload as WireFrame;
        if (wire.t !== 'frame') return;
        let frame: PrimaryFrame;
        try {
          frame = decodePrimaryFrame(wire.bytes);
        } catch (err) {
          end({ kind: 'refused', description: (err as Error).message });
          this.net.close(connection, connection.initiator, null);
          return;
        }
        this.trace.debug(this.self, `replication frame ${frame.kind}`, describe(frame));
        events.frame(frame);
      },
      closed: (reason) => end(channelClosed(reason, address)),
    });
    this.current = connection;
    return {
      send: (frame) => {
        if (!ended) this.net.send(connection, connection.initiator, { t: 'frame', bytes: encodeBackupFrame(frame) } satisfies WireFrame);
      },
      processed: () => {
        toCredit++;
        if (!ended && toCredit >= FRAME_WINDOW / 4) {
          this.net.send(connection, connection.initiator, { t: 'flow', credit: toCredit } satisfies WireFrame);
          toCredit = 0;
        }
      },
      close: () => {
        ended = true;
        this.net.close(connection, connection.initiator, null);
      },
    };
  }
}

/** How transport.ts reads a closed connection: a redirect names the primary; a close with an
 * error is a refusal; anything else is a lost connection. */
function channelClosed(reason: CloseReason, address: QpidAddress): ChannelClosed {
  if (reason.kind === 'lost') return { kind: 'lost', description: reason.description };
  const error = reason.error;
  if (error?.condition === 'amqp:connection:redirect') {
    const info = error.info ?? {};
    const host = String(info['network-host'] ?? info['hostname'] ?? address.host);
    return { kind: 'redirect', address: `${host}:${String(info['port'] ?? address.port)}` };
  }
  if (error) return { kind: 'refused', description: `${error.condition}: ${error.description}` };
  return { kind: 'lost', description: 'connection closed' };
}

function describe(frame: PrimaryFrame): Record<string, unknown> {
  switch (frame.kind) {
    case 'log': {
      const first = frame.entries[0];
      const last = frame.entries[frame.entries.length - 1];
      return { epoch: frame.epoch, lsns: first && last ? `${first.lsn}..${last.record.kind === 'skip' ? last.record.lastLsn : last.lsn}` : 'none' };
    }
    case 'snapshot-records':
      return { epoch: frame.epoch, records: frame.records.length };
    case 'state':
      return { epoch: frame.epoch, state: frame.state };
    default:
      return { ...frame };
  }
}

/** The primary's side of one replication connection (transport.ts RheaReplicationEndpoint). */
export class ReplicationPeer {
  private credit = 0;
  private link: SimBackupLink | null = null;

  constructor(
    private readonly net: SimNetwork,
    private readonly connection: SimConnection,
    private readonly end: ConnEnd,
    private readonly primary: () => PrimaryReplicator | null,
    private readonly linkIds: () => string,
  ) {}

  readonly handlers: EndHandlers = {
    frame: (payload) => this.frame(payload as WireFrame),
    closed: (reason) => {
      const link = this.link;
      this.link = null;
      link?.detach();
      if (link) this.primary()?.lost(link.id, reason.kind === 'lost' ? reason.description : 'replication connection closed');
    },
  };

  get life(): Life {
    return this.end.life;
  }

  private frame(wire: WireFrame): void {
    if (wire.t === 'flow') {
      this.credit += wire.credit;
      this.link?.flush();
      return;
    }
    let frame;
    try {
      frame = decodeBackupFrame(wire.bytes);
    } catch (err) {
      this.net.close(this.connection, this.end, { condition: 'amqp:decode-error', description: (err as Error).message });
      return;
    }
    const primary = this.primary();
    if (!primary) {
      this.net.close(this.connection, this.end, { condition: 'amqp:connection:forced', description: 'not primary' });
      return;
    }
    if (frame.kind === 'join') {
      const link = new SimBackupLink(this.linkIds(), this.connection.from, this, primary);
      this.link = link;
      primary.join(link, frame);
    } else if (this.link) {
      primary.frame(this.link.id, frame);
    }
  }

  takeCredit(): boolean {
    if (this.credit <= 0) return false;
    this.credit--;
    return true;
  }

  availableCredit(): number {
    return this.credit;
  }

  sendBytes(bytes: Buffer): void {
    this.net.send(this.connection, this.end, { t: 'frame', bytes } satisfies WireFrame);
  }

  closeConnection(reason: string): void {
    this.net.close(this.connection, this.end, { condition: 'amqp:connection:forced', description: reason });
  }
}

class SimBackupLink implements BackupLink {
  private readonly queue: Buffer[] = [];
  private closed = false;

  constructor(
    readonly id: string,
    readonly remoteAddress: string,
    private readonly peer: ReplicationPeer,
    private readonly primary: PrimaryReplicator,
  ) {}

  send(frame: PrimaryFrame): void {
    if (this.closed) return;
    this.queue.push(encodePrimaryFrame(frame));
    this.flush();
  }

  capacity(): number {
    return this.closed ? 0 : Math.max(0, this.peer.availableCredit() - this.queue.length);
  }

  flush(): void {
    while (!this.closed && this.queue.length > 0 && this.peer.takeCredit()) this.peer.sendBytes(this.queue.shift() as Buffer);
    if (!this.closed && this.capacity() > 0) this.primary.writable(this.id);
  }

  close(reason: string): void {
    if (this.closed) return;
    this.detach();
    this.peer.closeConnection(reason);
  }

  detach(): void {
    this.closed = true;
    this.queue.length = 0;
  }
}
