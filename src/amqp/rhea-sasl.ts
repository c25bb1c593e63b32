// Makes every SASL failure end with a sasl-outcome and a closed socket (AMQP 1.0 §5.3.2: after a
// failed outcome there is nothing more to say). rhea 3.0.5's server (lib/sasl.js) writes an
// outcome for an unknown mechanism or refused credentials and then leaves the socket open, and
// writes none at all for a SASL frame it cannot read; a peer could hold the socket forever.

import { createRequire } from 'node:module';
import type { Connection } from 'rhea';

const require = createRequire(import.meta.url);
const frames = require('rhea/lib/frames.js') as {
  sasl_frame(performative: unknown): unknown;
  sasl_outcome(fields: { code: number }): { readonly code?: number; readonly constructor: unknown };
};
const OUTCOME_CLASS = frames.sasl_outcome({ code: 0 }).constructor;

/** §5.3.3.6 sasl-code. */
export const SASL_CODE = { ok: 0, auth: 1, sys: 2, sysPerm: 3, sysTemp: 4 } as const;

interface RheaTransport {
  encode(frame: { performative?: { constructor: unknown; code?: number } }): void;
  read_complete?: boolean;
}
interface RheaSaslServer {
  readonly transport: RheaTransport;
}
interface RheaConnectionInternals {
  readonly sasl_transport?: { readonly transports?: Record<number, unknown>; readonly selected?: unknown; readonly transport?: RheaTransport };
  output(): void;
}

export interface SaslWatch {
  /** The SASL layer was chosen by the peer's header and has not written an outcome yet. */
  inProgress(): boolean;
  /** rhea has read the whole SASL exchange (its AMQP layer reads next). */
  done(): boolean;
  /** Writes a failure outcome now, unless one has gone out. */
  fail(code: number): void;
}

/** rhea's SASL server object of a connection, whether it chose SASL selectively or not. */
function saslServerOf(connection: Connection): RheaSaslServer | null {
  const transport = (connection as unknown as RheaConnectionInternals).sasl_transport;
  if (!transport) return null;
  const server = transport.transports ? transport.transports[3] : transport;
  return server && (server as RheaSaslServer).transport ? (server as RheaSaslServer) : null;
}

/** Watches the outcomes rhea writes on one accepted connection: `onOutcome` hears each one
 * (after it has been handed to the socket). */
export function watchSasl(connection: Connection, onOutcome: (code: number) => void): SaslWatch {
  const server = saslServerOf(connection);
  let outcome: number | null = null;
  if (server) {
    const encode = server.transport.encode.bind(server.transport);
    server.transport.encode = (frame) => {
      encode(frame);
      if (frame.performative?.constructor !== OUTCOME_CLASS || outcome !== null) return;
      outcome = Number(frame.performative?.code ?? SASL_CODE.sys);
      const code = outcome;
      // rhea writes the outcome on its way out of this call; hear it once it has gone.
      setImmediate(() => onOutcome(code));
    };
  }
  const selected = (): boolean => {
    const transport = (connection as unknown as RheaConnectionInternals).sasl_transport;
    return server !== null && (transport?.transports ? transport.selected === server : true);
  };
  return {
    inProgress: () => selected() && outcome === null,
    done: () => server === null || server.transport.read_complete === true,
    fail: (code) => {
      if (!server || outcome !== null) return;
      server.transport.encode(frames.sasl_frame(frames.sasl_outcome({ code })) as never);
      (connection as unknown as RheaConnectionInternals).output();
    },
  };
}
