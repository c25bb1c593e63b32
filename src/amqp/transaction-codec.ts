// The AMQP 1.0 transaction types on the wire (§4.5): the coordinator target (0x30), declare
// (0x31) and discharge (0x32) bodies, the declared outcome (0x33) and transactional-state
// (0x34). rhea knows none of them: its decoder drops a body's descriptor and it has no
// coordinator terminus, so the bodies are read here from the bytes (bounds-checked first by
// locateSections), and the states we send are built as rhea described values.

import { createRequire } from 'node:module';
import rhea from 'rhea';
import { locateSections, MessageFormatError } from './message-format.js';
import type { ScanLimits } from './value-scan.js';

const require = createRequire(import.meta.url);
const rheaMessage = require('rhea/lib/message.js') as { accepted(): { described(): unknown }; rejected(fields: unknown): { described(): unknown } };

const COORDINATOR = 0x30;
const DECLARE = 0x31;
const DISCHARGE = 0x32;
const DECLARED = 0x33;
const TRANSACTIONAL_STATE = 0x34;
const SYMBOLIC: Record<string, number> = {
  'amqp:coordinator:list': COORDINATOR,
  'amqp:declare:list': DECLARE,
  'amqp:discharge:list': DISCHARGE,
  'amqp:declared:list': DECLARED,
  'amqp:transactional-state:list': TRANSACTIONAL_STATE,
};

/** The capability a coordinator offers for local transactions (§4.5.1 txn-capability). */
export const LOCAL_TRANSACTIONS = 'amqp:local-transactions';

export type CoordinatorRequest = { readonly kind: 'declare' } | { readonly kind: 'discharge'; readonly txnId: Buffer; readonly fail: boolean };

/** A rhea decoded value: `descriptor` and `value` on described types. */
interface Typed {
  readonly descriptor?: { readonly value: unknown };
  readonly value?: unknown;
}

function descriptorCode(value: unknown): number | null {
  const descriptor = (value as Typed | null | undefined)?.descriptor?.value;
  if (typeof descriptor === 'number') return descriptor;
  if (typeof descriptor === 'bigint') return Number(descriptor);
  if (typeof descriptor === 'string') return SYMBOLIC[descriptor] ?? null;
  return null;
}

/** What an attach's target says when it is a coordinator (rhea left it undecoded), else null. */
export function coordinatorOf(rawTarget: unknown): { capabilities: string[] } | null {
  if (descriptorCode(rawTarget) !== COORDINATOR) return null;
  const fields = (rawTarget as Typed).value;
  const first = Array.isArray(fields) ? (fields[0] as Typed | undefined) : undefined;
  const value = first?.value;
  const list = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return { capabilities: list.map((v) => String((v as Typed)?.value ?? v)) };
}

/** The coordinator target we answer an attach with (§4.5.1). */
export function coordinatorTarget(): unknown {
  return rhea.types.described(rhea.types.wrap_ulong(COORDINATOR), rhea.types.wrap_list([rhea.types.wrap_symbol(LOCAL_TRANSACTIONS)]));
}

/** The declared outcome (§4.5.4), settling a declare. */
export function declaredState(txnId: Buffer): unknown {
  return rhea.types.described(rhea.types.wrap_ulong(DECLARED), rhea.types.wrap_list([rhea.types.wrap_binary(txnId)]));
}

/** transactional-state (§4.5.5) with an outcome: a transactional transfer's provisional answer. */
export function transactionalState(txnId: Buffer, outcome: { kind: 'accepted' } | { kind: 'rejected'; condition: string; description: string }): unknown {
  const inner = outcome.kind === 'accepted' ? rheaMessage.accepted().described() : rheaMessage.rejected({ error: { condition: outcome.condition, description: outcome.description } }).described();
  return rhea.types.described(rhea.types.wrap_ulong(TRANSACTIONAL_STATE), rhea.types.wrap_list([rhea.types.wrap_binary(txnId), inner]));
}

/** A delivery state that is transactional-state: its txn-id and the outcome inside (absent for
 * a transactional acquisition with no outcome yet); null for any other state. */
export function transactionalStateOf(state: unknown): { txnId: Buffer; outcome: unknown } | null {
  if (descriptorCode(state) !== TRANSACTIONAL_STATE) return null;
  const fields = (state as Typed).value;
  if (!Array.isArray(fields)) return null;
  const id = (fields[0] as Typed | undefined)?.value ?? fields[0];
  if (!Buffer.isBuffer(id)) return null;
  return { txnId: id, outcome: fields[1] ?? undefined };
}

/** Reads a declare or discharge from a message sent to the coordinator (§4.5.2, §4.5.3): an
 * amqp-value body holding the described list. */
export function decodeCoordinatorRequest(raw: Buffer, limits: ScanLimits): CoordinatorRequest {
  const { bodyStart } = locateSections(raw, limits);
  const r = new ByteReader(raw, bodyStart);
  if (r.descriptor() !== 0x77) throw new MessageFormatError('a coordinator message has an amqp-value body');
  const code = r.descriptor();
  if (code !== DECLARE && code !== DISCHARGE) throw new MessageFormatError('a coordinator message is a declare or a discharge');
  const count = r.listHeader();
  if (code === DECLARE) return { kind: 'declare' };
  if (count < 1) throw new MessageFormatError('discharge without a txn-id');
  const txnId = r.binary();
  const fail = count >= 2 ? r.boolean() : false;
  return { kind: 'discharge', txnId, fail };
}

/** Just enough of the AMQP type system for the two bodies above; every read is bounds-checked
 * (the bytes were checked well-formed by locateSections, this checks they are what we expect). */
class ByteReader {
  constructor(
    private readonly bytes: Buffer,
    private pos: number,
  ) {}

  private u8(): number {
    if (this.pos >= this.bytes.length) throw new MessageFormatError('coordinator message ends early');
    return this.bytes[this.pos++] as number;
  }

  private take(n: number): Buffer {
    if (this.pos + n > this.bytes.length) throw new MessageFormatError('coordinator message ends early');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private u32(): number {
    return this.take(4).readUInt32BE(0);
  }

  descriptor(): number | null {
    if (this.u8() !== 0x00) throw new MessageFormatError('expected a described value');
    const type = this.u8();
    if (type === 0x53) return this.u8();
    if (type === 0x80) return Number(this.take(8).readBigUInt64BE(0));
    if (type === 0xa3) return SYMBOLIC[this.take(this.u8()).toString('utf8')] ?? null;
    if (type === 0xb3) return SYMBOLIC[this.take(this.u32()).toString('utf8')] ?? null;
    throw new MessageFormatError(`unexpected descriptor type 0x${type.toString(16)}`);
  }

  listHeader(): number {
    const type = this.u8();
    if (type === 0x45) return 0;
    if (type === 0xc0) {
      this.u8();
      return this.u8();
    }
    if (type === 0xd0) {
      this.u32();
      return this.u32();
    }
    throw new MessageFormatError(`expected a list, found type 0x${type.toString(16)}`);
  }

  binary(): Buffer {
    const type = this.u8();
    if (type === 0xa0) return Buffer.from(this.take(this.u8()));
    if (type === 0xb0) return Buffer.from(this.take(this.u32()));
    throw new MessageFormatError(`txn-id is binary, found type 0x${type.toString(16)}`);
  }

  boolean(): boolean {
    const type = this.u8();
    if (type === 0x41) return true;
    if (type === 0x42 || type === 0x40) return false;
    if (type === 0x56) return this.u8() !== 0;
    throw new MessageFormatError(`fail is a boolean, found type 0x${type.toString(16)}`);
  }
}

const terminusModule = require('rhea/lib/terminus.js') as { unwrap(field: unknown): unknown };
const PATCHED = Symbol.for('qpidd.rhea-coordinator-terminus');

/** rhea turns an attach's target into null (and warns on the console) when it is not a source
 * or target: the coordinator (§4.5.1) is passed through as decoded, for coordinatorOf(). Idempotent. */
export function keepCoordinatorTargets(): void {
  const module = terminusModule as { unwrap(field: unknown): unknown; [PATCHED]?: true };
  if (module[PATCHED]) return;
  module[PATCHED] = true;
  const unwrap = module.unwrap.bind(module);
  module.unwrap = (field: unknown) => (descriptorCode(field) === COORDINATOR ? field : unwrap(field));
}
