// The Qpid URL grammar (reference §1.12.3 note [a]), used by --ha-brokers-url, --ha-public-url
// and every client and tool's -b option:
//   url      = ["amqp:" | "amqps:"] [ user ["/" password] "@" ] addr ("," addr)*
//   addr     = ["tcp:" | "ssl:"] host [":" port]          (rdma: is refused: not supported)
// `amqps:` makes every address ssl: unless it says tcp:; an ssl: address defaults to port 5671.
// A bad URL is an error that names the offending part.

export interface QpidAddress {
  readonly transport: 'tcp' | 'ssl';
  readonly host: string;
  readonly port: number;
}

export interface QpidUrl {
  readonly user?: string;
  readonly password?: string;
  readonly addresses: readonly QpidAddress[];
}

export const DEFAULT_AMQP_PORT = 5672;
export const DEFAULT_AMQPS_PORT = 5671;

export class QpidUrlError extends Error {
  readonly code = 'BAD_URL';
  constructor(
    readonly url: string,
    readonly part: string,
    reason: string,
  ) {
    super(`invalid Qpid URL "${url}": ${reason} ("${part}")`);
    this.name = 'QpidUrlError';
  }
}

const HOST_PATTERN = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)$/;

function parseAddress(url: string, text: string, defaultTransport: QpidAddress['transport']): QpidAddress {
  let rest = text.trim();
  let transport: QpidAddress['transport'] = defaultTransport;
  const scheme = /^([a-zA-Z]+):(?!\d+$)/.exec(rest);
  // A transport we know prefixes any host ("ssl:10.0.0.1"); another word is taken for one only
  // when no digit follows (so "node1:5672" stays a host and a port).
  const known = scheme !== null && ['tcp', 'ssl'].includes((scheme[1] as string).toLowerCase());
  if (scheme && (known || !/^\d/.test(rest.slice(scheme[0].length)))) {
    const name = (scheme[1] as string).toLowerCase();
    if (name === 'tcp' || name === 'ssl') transport = name;
    else throw new QpidUrlError(url, text, `unsupported transport "${name}" (use tcp: or ssl:)`);
    rest = rest.slice(scheme[0].length);
  }
  if (rest === '') throw new QpidUrlError(url, text, 'empty address');
  let host = rest;
  let port = transport === 'ssl' ? DEFAULT_AMQPS_PORT : DEFAULT_AMQP_PORT;
  const portMatch = /^(.*):([^:\]]*)$/.exec(rest);
  if (portMatch && !(rest.startsWith('[') && !rest.includes(']:'))) {
    host = portMatch[1] as string;
    const portText = portMatch[2] as string;
    if (!/^\d+$/.test(portText)) throw new QpidUrlError(url, text, `port "${portText}" is not a number`);
    port = Number(portText);
    if (port < 1 || port > 65535) throw new QpidUrlError(url, text, `port ${port} is out of range 1-65535`);
  }
  if (!HOST_PATTERN.test(host)) throw new QpidUrlError(url, text, `"${host}" is not a valid host name or address`);
  if (host.startsWith('[')) host = host.slice(1, -1);
  return { transport, host, port };
}

export function parseQpidUrl(url: string): QpidUrl {
  let rest = url.trim();
  if (rest === '') throw new QpidUrlError(url, url, 'the URL is empty');
  let defaultTransport: QpidAddress['transport'] = 'tcp';
  if (rest.toLowerCase().startsWith('amqps:')) {
    rest = rest.slice('amqps:'.length);
    defaultTransport = 'ssl';
  } else if (rest.toLowerCase().startsWith('amqp:')) rest = rest.slice('amqp:'.length);
  let user: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const credentials = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const slash = credentials.indexOf('/');
    user = slash >= 0 ? credentials.slice(0, slash) : credentials;
    if (slash >= 0) password = credentials.slice(slash + 1);
    if (user === '') throw new QpidUrlError(url, credentials, 'empty user name before "@"');
  }
  const parts = rest.split(',');
  const addresses = parts.map((part) => {
    if (part.trim() === '') throw new QpidUrlError(url, part, 'empty address between commas');
    return parseAddress(url, part, defaultTransport);
  });
  return {
    ...(user !== undefined ? { user } : {}),
    ...(password !== undefined ? { password } : {}),
    addresses,
  };
}

export function formatAddress(address: QpidAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${address.transport === 'ssl' ? 'ssl:' : ''}${host}:${address.port}`;
}
