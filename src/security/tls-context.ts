// TLS material for every encrypted socket of the broker and its clients: the broker's listener
// options (--ssl-port, --http-ssl) from --ssl-cert-file/--ssl-key-file/--ssl-ca-file, and the
// options our own outgoing connections (HA backups, status probes, tools) give node:tls for an
// `ssl:`/`amqps:` address. Files are read once at startup: a missing or bad file refuses to
// start, naming the option (exit 2); key material is never logged.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext, type ConnectionOptions, type TlsOptions, type TLSSocket } from 'node:tls';
import type { TlsConfig } from '../config/broker-config.js';
import { ConfigError } from '../config/errors.js';

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** null: the system's authorities (client certificates are then not requested). */
  readonly ca: Buffer | null;
  readonly requireClientAuth: boolean;
}

function readPem(option: string, path: string, what: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new ConfigError('UNUSABLE_VALUE', `--${option} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { option, value: path, cause: err });
  }
  if (!data.includes('-----BEGIN ')) throw new ConfigError('UNUSABLE_VALUE', `--${option} ${path}: expected ${what} in PEM form (-----BEGIN ...)`, { option, value: path });
  return data;
}

/** The broker's certificate, key and authorities, checked together (a key that does not match
 * its certificate is found here, not at the first handshake); null without --ssl-cert-file. */
export function loadTlsMaterial(config: TlsConfig): TlsMaterial | null {
  if (config.certFile === null || config.keyFile === null) return null;
  const cert = readPem('ssl-cert-file', config.certFile, 'a certificate');
  const key = readPem('ssl-key-file', config.keyFile, 'a private key');
  const ca = config.caFile === null ? null : readPem('ssl-ca-file', config.caFile, 'certificates');
  try {
    createSecureContext({ cert });
  } catch (err) {
    throw new ConfigError('UNUSABLE_VALUE', `--ssl-cert-file ${config.certFile}: not a usable certificate (${(err as Error).message})`, { option: 'ssl-cert-file', value: config.certFile, cause: err });
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    // OpenSSL's reason only: its text never contains the key.
    throw new ConfigError('UNUSABLE_VALUE', `--ssl-key-file ${config.keyFile}: not the private key of --ssl-cert-file, or unreadable (${(err as Error).message})`, { option: 'ssl-key-file', value: config.keyFile, cause: err });
  }
  if (ca !== null) {
    try {
      createSecureContext({ ca });
    } catch (err) {
      throw new ConfigError('UNUSABLE_VALUE', `--ssl-ca-file ${config.caFile ?? ''}: not usable certificates (${(err as Error).message})`, { option: 'ssl-ca-file', value: config.caFile ?? '', cause: err });
    }
  }
  return { cert, key, ca, requireClientAuth: config.requireClientAuth };
}

/** node:tls server options. With an authority file, a client certificate is asked for (EXTERNAL
 * needs it) and, unless required, a client without one still connects. */
export function serverTlsOptions(material: TlsMaterial, handshakeTimeoutMs: number): TlsOptions {
  return {
    cert: material.cert,
    key: material.key,
    ...(material.ca !== null ? { ca: material.ca, requestCert: true } : {}),
    rejectUnauthorized: material.requireClientAuth,
    handshakeTimeout: handshakeTimeoutMs,
    minVersion: 'TLSv1.2',
  };
}

/** What the SASL layer may know of a connection's transport. */
export interface ChannelSecurity {
  readonly encrypted: boolean;
  /** The subject CN of a client certificate the broker's authorities verified, else null. */
  readonly certificateName: string | null;
}

export const PLAIN_CHANNEL: ChannelSecurity = { encrypted: false, certificateName: null };

export function channelSecurityOf(socket: object): ChannelSecurity {
  if ((socket as { encrypted?: boolean }).encrypted !== true) return PLAIN_CHANNEL;
  const tls = socket as TLSSocket;
  if (!tls.authorized) return { encrypted: true, certificateName: null };
  const cn = tls.getPeerCertificate()?.subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  return { encrypted: true, certificateName: typeof name === 'string' && name !== '' ? name : null };
}

/** Client side: files for outgoing TLS connections. The broker sets them from its own options
 * (it verifies HA peers with --ssl-ca-file and presents its certificate); a tool reads
 * QPID_SSL_CA_FILE, QPID_SSL_CERT_FILE and QPID_SSL_KEY_FILE. */
export interface ClientTlsFiles {
  readonly caFile?: string | null;
  readonly certFile?: string | null;
  readonly keyFile?: string | null;
}

let clientFiles: ClientTlsFiles | null = null;
let clientOptionsCache: ConnectionOptions | null = null;

export function setClientTlsFiles(files: ClientTlsFiles): void {
  clientFiles = files;
  clientOptionsCache = null;
}

function filesFromEnv(): ClientTlsFiles {
  return { caFile: process.env.QPID_SSL_CA_FILE ?? null, certFile: process.env.QPID_SSL_CERT_FILE ?? null, keyFile: process.env.QPID_SSL_KEY_FILE ?? null };
}

/** Options for rhea's connect over TLS (`transport: 'tls'`), added only for an ssl: address.
 * The server's certificate is always verified (host name included). */
export function clientTlsOptions(address: { readonly transport: 'tcp' | 'ssl'; readonly host: string }): Record<string, unknown> {
  if (address.transport !== 'ssl') return { transport: 'tcp' };
  if (clientOptionsCache === null) {
    const files = clientFiles ?? filesFromEnv();
    clientOptionsCache = {
      ...(files.caFile ? { ca: readFileSync(files.caFile) } : {}),
      ...(files.certFile && files.keyFile ? { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) } : {}),
      rejectUnauthorized: true,
    };
  }
  // rhea names the host as SNI server name; an IP address is not a server name (RFC 6066 §3,
  // and node warns): send none, and the certificate is still checked against the address.
  return { transport: 'tls', ...clientOptionsCache, ...(isIP(address.host) ? { servername: '' } : {}) };
}
