import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM texts of a throwaway TLS identity: `ca` is what a client must trust. */
export type TestCertificate = { cert: string; key: string; ca: string };

/**
 * A self-signed certificate for `127.0.0.1` and `localhost`, valid for a day, made with the
 * `openssl` command line (Node cannot issue certificates). The certificate is its own CA.
 */
export function makeTestCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'volley-cert-'));
  try {
    const result = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=volley-test',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { encoding: 'utf8' },
    );
    if (result.error || result.status !== 0) {
      throw new Error(
        `makeTestCertificate: openssl failed (${result.error?.message ?? `exit ${result.status}`}); ` +
          `TLS tests need the openssl command line (Debian/Ubuntu: apt-get install openssl).\n${result.stderr ?? ''}`,
      );
    }
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    return { cert, key: readFileSync(join(dir, 'key.pem'), 'utf8'), ca: cert };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
