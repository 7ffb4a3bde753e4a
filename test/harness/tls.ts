// A throw-away certificate authority for tests that need HTTPS on loopback
// (a Matrix server name's /.well-known/matrix/client): openssl makes a CA and
// a certificate for localhost/127.0.0.1/::1 signed by it, so the process
// under test can trust the CA (NODE_EXTRA_CA_CERTS) instead of turning
// certificate checks off.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface TestCa {
  /** The CA certificate (PEM file): what NODE_EXTRA_CA_CERTS names. */
  caPath: string;
  /** The server's key and certificate (PEM), for https.createServer. */
  key: Buffer;
  cert: Buffer;
}

export async function makeTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'ponte-ca-'));
  const file = (name: string) => join(dir, name);
  const run = (args: string[]) => execFileAsync('openssl', args, { timeout: 30_000 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run(['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=ponte test CA', '-keyout', file('ca.key'), '-out', file('ca.pem')]);
  await run(['req', ...ec, '-subj', '/CN=localhost', '-keyout', file('key.pem'), '-out', file('server.csr')]);
  await writeFile(file('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n');
  await run(['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', file('ext.cnf'), '-out', file('cert.pem')]);
  return { caPath: file('ca.pem'), key: await readFile(file('key.pem')), cert: await readFile(file('cert.pem')) };
}
