// Issue 19, both directions of the HA identity: a backup logging in with SCRAM accepts a primary
// only when the primary proves it knows the HA user's key (the server signature of RFC 5802 §3,
// in the SASL outcome). A process answering on a cluster address that accepts any proof (an
// impostor, or a stale machine without the users file) is refused: the backup stays joining,
// says why, and never sends it a join.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';
import { freePort, removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';

const require = createRequire(import.meta.url);
const frames = require('rhea/lib/frames.js') as {
  write_frame(frame: unknown): Buffer;
  read_frame(buffer: Buffer): { size: number; performative?: Record<string, unknown> & { constructor: { name?: string } } } | null;
  sasl_frame(performative: unknown): unknown;
  sasl_mechanisms(fields: Record<string, unknown>): unknown;
  sasl_challenge(fields: Record<string, unknown>): unknown;
  sasl_outcome(fields: Record<string, unknown>): unknown;
};

const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x03, 0x01, 0x00, 0x00]);

/** Speaks SCRAM-SHA-256 as a server that accepts whatever proof it gets and sends no signature. */
function impostor(port: number): Promise<{ server: Server; logins: string[]; amqpAfterLogin: number }> {
  const state = { server: null as unknown as Server, logins: [] as string[], amqpAfterLogin: 0 };
  return new Promise((resolve) => {
    state.server = createServer((socket: Socket) => {
      let buffer = Buffer.alloc(0);
      let headerSeen = false;
      let done = false;
      socket.on('error', () => {});
      socket.on('data', (chunk) => {
        buffer = Buffer.concat([buffer, chunk]);
        if (!headerSeen) {
          if (buffer.length < 8) return;
          headerSeen = true;
          buffer = buffer.subarray(8);
          socket.write(SASL_HEADER);
          socket.write(frames.write_frame(frames.sasl_frame(frames.sasl_mechanisms({ sasl_server_mechanisms: ['SCRAM-SHA-256'] }))));
        }
        if (done) {
          if (buffer.length > 0) state.amqpAfterLogin++;
          return;
        }
        while (buffer.length >= 4 && buffer.length >= buffer.readUInt32BE(0)) {
          const size = buffer.readUInt32BE(0);
          const frame = frames.read_frame(buffer.subarray(0, size));
          buffer = buffer.subarray(size);
          const p = frame?.performative as Record<string, unknown> | undefined;
          if (p && 'mechanism' in p) {
            const first = Buffer.from(p['initial_response'] as Buffer).toString('utf8');
            state.logins.push(first);
            const nonce = /r=([^,]+)/.exec(first)?.[1] ?? '';
            const serverFirst = `r=${nonce}impostor,s=${Buffer.from('salt-salt-salt').toString('base64')},i=4096`;
            socket.write(frames.write_frame(frames.sasl_frame(frames.sasl_challenge({ challenge: Buffer.from(serverFirst) }))));
          } else if (p && 'response' in p) {
            // Any proof will do, and no server signature comes back.
            socket.write(frames.write_frame(frames.sasl_frame(frames.sasl_outcome({ code: 0 }))));
            done = true;
            if (buffer.length > 0) state.amqpAfterLogin++;
          }
        }
      });
    });
    state.server.listen(port, '127.0.0.1', () => resolve(state));
  });
}

let backup: BrokerProcess | null = null;
let fake: Server | null = null;
const dir = tempDir();
after(async () => {
  await backup?.stop();
  fake?.close();
  removeDir(dir);
});

test('a backup refuses a primary that accepts its SCRAM login without proving it knows the key', async () => {
  const fakePort = await freePort();
  const ownPort = await freePort();
  const state = await impostor(fakePort);
  fake = state.server;
  backup = await startQpidd({
    dataDir: dir,
    port: ownPort,
    args: ['--ha-cluster', 'yes', '--ha-brokers-url', `127.0.0.1:${fakePort},127.0.0.1:${ownPort}`, '--ha-username', 'ha', '--ha-password', 'the-ha-password', '--ha-mechanism', 'SCRAM-SHA-256', '--link-maintenance-interval', '0.2'],
  });
  const b = backup;
  const line = await b.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('refused as the HA identity'), 15_000);
  assert.match(String(line['reason']), /did not prove it knows the password/);
  assert.ok(state.logins.length >= 1 && state.logins[0]?.includes('n=ha'), 'the backup tried to log in as ha');
  assert.equal(state.amqpAfterLogin, 0, 'nothing followed the unproven login: no AMQP open, no join');
  assert.equal(JSON.stringify(b.logs).includes('the-ha-password'), false);
});
