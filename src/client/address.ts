// Qpid address strings, `name[/subject][; {options}]`, mapped onto AMQP 1.0 terminus fields.
// Supported options (everything else is reported in `ignored`, never silently half-applied):
//   create: always | sender | receiver | never   -> capabilities ['create-on-demand', type]
//   node: {type: queue | topic, durable: bool,
//          x-declare: {auto-delete: bool, exclusive: bool, arguments: {...}}}
//                                                -> dynamic_node_properties (flat: durable,
//                                                   auto-delete, exclusive, then each argument)
//   mode: browse | consume                       -> source distribution_mode 'copy' | 'move'
// The terminus address is the text before ';' as written ("exchange/key" stays whole): the broker
// resolves the subject, as the reference broker's AMQP 1.0 session does.
import { ClientError } from './errors.js';
import { isMapObject, MapSyntaxError, parseMap, type MapObject, type MapValue } from './map-syntax.js';

export type NodeType = 'queue' | 'topic';
export type CreatePolicy = 'always' | 'sender' | 'receiver' | 'never';

/** How to declare the node when the broker does not have it (the programmatic form). */
export interface NodeOptions {
  readonly type?: NodeType;
  readonly durable?: boolean;
  readonly autoDelete?: boolean;
  readonly exclusive?: boolean;
  /** Declare arguments such as qpid.replicate, qpid.max_count, qpid.policy_type. */
  readonly arguments?: Readonly<Record<string, unknown>>;
}

export interface ParsedAddress {
  /** The terminus address: the text before ';', subject included. */
  readonly address: string;
  readonly name: string;
  readonly subject?: string;
  readonly create: CreatePolicy;
  readonly node: NodeOptions;
  readonly browse: boolean;
  /** Option paths that were present but are not supported (for a warning). */
  readonly ignored: readonly string[];
}

export interface Terminus {
  address: string;
  capabilities?: string[];
  dynamic_node_properties?: Record<string, unknown>;
  distribution_mode?: 'copy' | 'move';
}

function bad(text: string, reason: string): ClientError {
  return new ClientError('BAD_ADDRESS', `invalid address "${text}": ${reason}`);
}

function asBoolean(text: string, path: string, value: MapValue): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'yes' || value === 1) return true;
  if (value === 'no' || value === 0) return false;
  throw bad(text, `${path} must be true or false, not ${JSON.stringify(value)}`);
}

function parseNode(text: string, node: MapObject, ignored: string[]): NodeOptions {
  const result: { -readonly [K in keyof NodeOptions]: NodeOptions[K] } = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'type') {
      if (value !== 'queue' && value !== 'topic') throw bad(text, `node.type must be queue or topic, not ${JSON.stringify(value)}`);
      result.type = value;
    } else if (key === 'durable') {
      result.durable = asBoolean(text, 'node.durable', value);
    } else if (key === 'x-declare') {
      if (!isMapObject(value)) throw bad(text, 'node.x-declare must be a map');
      for (const [declareKey, declareValue] of Object.entries(value)) {
        if (declareKey === 'auto-delete') result.autoDelete = asBoolean(text, 'x-declare.auto-delete', declareValue);
        else if (declareKey === 'exclusive') result.exclusive = asBoolean(text, 'x-declare.exclusive', declareValue);
        else if (declareKey === 'arguments') {
          if (!isMapObject(declareValue)) throw bad(text, 'x-declare.arguments must be a map');
          result.arguments = declareValue;
        } else ignored.push(`node.x-declare.${declareKey}`);
      }
    } else ignored.push(`node.${key}`);
  }
  return result;
}

export function parseAddress(text: string): ParsedAddress {
  const semicolon = text.indexOf(';');
  const address = (semicolon >= 0 ? text.slice(0, semicolon) : text).trim();
  if (address === '') throw bad(text, 'the node name is empty');
  const slash = address.indexOf('/');
  const name = slash >= 0 ? address.slice(0, slash) : address;
  const subject = slash >= 0 ? address.slice(slash + 1) : undefined;
  if (name === '') throw bad(text, 'the node name before "/" is empty');

  let options: MapObject = {};
  if (semicolon >= 0) {
    try {
      options = parseMap(text.slice(semicolon + 1));
    } catch (error) {
      if (error instanceof MapSyntaxError) throw bad(text, `options: ${error.message}`);
      throw error;
    }
  }
  const ignored: string[] = [];
  let create: CreatePolicy = 'never';
  let node: NodeOptions = {};
  let browse = false;
  for (const [key, value] of Object.entries(options)) {
    if (key === 'create') {
      if (value !== 'always' && value !== 'sender' && value !== 'receiver' && value !== 'never') {
        throw bad(text, `create must be always, sender, receiver or never, not ${JSON.stringify(value)}`);
      }
      create = value;
    } else if (key === 'node') {
      if (!isMapObject(value)) throw bad(text, 'node must be a map');
      node = parseNode(text, value, ignored);
    } else if (key === 'mode') {
      if (value !== 'browse' && value !== 'consume') throw bad(text, `mode must be browse or consume, not ${JSON.stringify(value)}`);
      browse = value === 'browse';
    } else ignored.push(key);
  }
  return { address, name, ...(subject !== undefined ? { subject } : {}), create, node, browse, ignored };
}

/** The node properties carried in dynamic_node_properties when a link may create its node. */
export function nodeProperties(node: NodeOptions): Record<string, unknown> {
  return {
    durable: node.durable ?? false,
    ...(node.autoDelete !== undefined ? { 'auto-delete': node.autoDelete } : {}),
    ...(node.exclusive !== undefined ? { exclusive: node.exclusive } : {}),
    ...(node.arguments ?? {}),
  };
}

/** The terminus for one role; `createOnDemand` overrides the address's own create policy. */
export function terminusFor(parsed: ParsedAddress, role: 'sender' | 'receiver', createOnDemand?: NodeOptions): Terminus {
  const terminus: Terminus = { address: parsed.address };
  const creates = createOnDemand !== undefined || parsed.create === 'always' || parsed.create === role;
  const node = { ...parsed.node, ...(createOnDemand ?? {}) };
  if (creates) {
    terminus.capabilities = ['create-on-demand', node.type ?? 'queue'];
    terminus.dynamic_node_properties = nodeProperties(node);
  } else if (node.type !== undefined) {
    terminus.capabilities = [node.type];
  }
  if (role === 'receiver' && parsed.browse) terminus.distribution_mode = 'copy';
  return terminus;
}
