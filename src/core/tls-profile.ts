// DICOM TLS after BCP 195 (PS3.15 B.9 "BCP 195 TLS Profile"): TLS 1.2 or later, forward-secret
// AEAD cipher suites only. One place for the inbound listener and the outbound destinations.
import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';

/** TLS 1.2 suites of the BCP 195 recommendation (TLS 1.3 suites are all acceptable). */
export const BCP195_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
].join(':');

export const TLS_MIN_VERSION = 'TLSv1.2' as const;

export interface TlsFiles {
  cert?: string | null;
  key?: string | null;
  ca?: string | null;
}

export interface TlsMaterial {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
}

/** Reads the PEM files named in the configuration (a missing file fails start-up, by name). */
export function loadTlsFiles(files: TlsFiles, what: string): TlsMaterial {
  const read = (p: string | null | undefined, field: string) => {
    if (!p) return undefined;
    try {
      return readFileSync(p);
    } catch (e) {
      throw new Error(`${what}.${field}: cannot read ${p}: ${(e as Error).message}`);
    }
  };
  return { cert: read(files.cert, 'cert'), key: read(files.key, 'key'), ca: read(files.ca, 'ca') };
}

/** Options common to both ends: protocol floor and suites. */
export function bcp195Options(m: TlsMaterial): SecureContextOptions {
  return { ...m, minVersion: TLS_MIN_VERSION, ciphers: BCP195_CIPHERS, honorCipherOrder: true };
}
