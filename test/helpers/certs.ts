import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM material made by the test with openssl: a CA, a server certificate for 127.0.0.1, client certificates. */
export interface TestCertificates {
  readonly ca: string;
  readonly server: { cert: string; key: string };
  /** One client certificate per name given (its subject CN is the name), signed by the CA. */
  readonly clients: Readonly<Record<string, { cert: string; key: string }>>;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** Make a CA, a server certificate (CN localhost, SAN 127.0.0.1 and localhost) and client certificates. */
export function makeCertificates(clientNames: readonly string[]): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'arc-certs-'));
  try {
    openssl(
      dir,
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem'].concat([
        '-days',
        '2',
        '-subj',
        '/CN=arc-test-ca',
      ]),
    );
    const issue = (name: string, extensions: string) => {
      writeFileSync(join(dir, `${name}.ext`), extensions);
      openssl(dir, [
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${name}`,
      ]);
      openssl(
        dir,
        ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
          '-out',
          `${name}.pem`,
          '-days',
          '2',
          '-extfile',
          `${name}.ext`,
        ]),
      );
      return {
        cert: readFileSync(join(dir, `${name}.pem`), 'utf8'),
        key: readFileSync(join(dir, `${name}.key`), 'utf8'),
      };
    };
    const server = issue('localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    const clients: Record<string, { cert: string; key: string }> = {};
    for (const name of clientNames) clients[name] = issue(name, 'extendedKeyUsage=clientAuth\n');
    return { ca: readFileSync(join(dir, 'ca.pem'), 'utf8'), server, clients };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
