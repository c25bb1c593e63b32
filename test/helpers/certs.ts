// Certificates for the TLS tests, made with the openssl command line into a temporary directory:
// a CA, a server certificate for 127.0.0.1 and localhost, and client certificates with a CN
// (one signed by the CA, one self-signed that the broker must not trust).

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './broker-process.js';

export interface TestCertificates {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** Client certificate and key by CN, signed by the CA. */
  client(cn: string): { cert: string; key: string };
  /** A self-signed client certificate (not from the CA). */
  readonly strangerCert: string;
  readonly strangerKey: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeCertificates(clientNames: readonly string[]): TestCertificates {
  const dir = tempDir('qpidd-certs-');
  const days = ['-days', '2'];
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=qpidd test CA', ...days], dir);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-extfile', 'server.ext', ...days], dir);
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const cn of clientNames) {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${cn}.key`, '-out', `${cn}.csr`, '-subj', `/CN=${cn}`], dir);
    openssl(['x509', '-req', '-in', `${cn}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${cn}.pem`, '-extfile', 'client.ext', ...days], dir);
  }
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'stranger.key', '-out', 'stranger.pem', '-subj', '/CN=mallory', ...days], dir);
  return {
    dir,
    caCert: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    client: (cn) => ({ cert: join(dir, `${cn}.pem`), key: join(dir, `${cn}.key`) }),
    strangerCert: join(dir, 'stranger.pem'),
    strangerKey: join(dir, 'stranger.key'),
  };
}
