// The frame guard (rhea-frame-guard.ts) on connections the broker makes itself: a backup's
// replication link to its primary and the management client (status probes, tools). A process
// answering on a cluster address, a fake primary included, can otherwise send the 37-byte frame
// that makes rhea's decoder allocate gigabytes. rhea binds its data handler when it attaches the
// socket, so the connection is created, guarded, and only then connected.

import type { Socket } from 'node:net';
import type { Connection, ConnectionOptions, Container } from 'rhea';
import type { FrameViolation } from './frame-scan.js';
import { guardInput } from './rhea-frame-guard.js';

/** What a connection the broker opens accepts from its peer: a frame as large as rhea offers by
 * default would let a peer make us buffer 4 GiB, so frames are capped here too. */
export const CLIENT_FRAME_BYTES_MAX = 1024 * 1024;
const CLIENT_DECODE_DEPTH_MAX = 100;

export function connectGuarded(container: Container, options: ConnectionOptions, onViolation: (violation: FrameViolation) => void): Connection {
  // tcp_no_delay: rhea leaves Nagle on for the connections it opens, and a backup's confirmation
  // (a small write after a small write) then waited for the primary's delayed ACK: 40 ms per
  // message on a cluster's producers, measured (see src/amqp/listener.ts).
  const connection = (container as unknown as { create_connection(o: ConnectionOptions): Connection & { connect(): Connection } }).create_connection({ max_frame_size: CLIENT_FRAME_BYTES_MAX, tcp_no_delay: true, ...options } as unknown as ConnectionOptions);
  // The socket exists once connect() has run; pausing and resuming reach it through the
  // connection (a client's SASL exchange is rhea's own, so input is never held).
  const socket = {
    pause: () => (connection as unknown as { socket?: Socket }).socket?.pause(),
    resume: () => (connection as unknown as { socket?: Socket }).socket?.resume(),
  } as unknown as Socket;
  guardInput(connection, socket, {
    limits: { maxFrameSizeBytes: CLIENT_FRAME_BYTES_MAX, maxDepth: CLIENT_DECODE_DEPTH_MAX },
    saslDone: () => true,
    onViolation: (violation) => {
      onViolation(violation);
      (connection as unknown as { socket?: Socket }).socket?.destroy();
    },
  });
  return (connection as unknown as { connect(): Connection }).connect();
}
