import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { appError } from './errors.js';

/**
 * Reads the PEM certificate a configuration key names (a CA file a TLS client
 * trusts), at start-up: a missing file or one that is not a certificate stops
 * the server with `config_invalid` naming the key, not the first connection.
 */
export function readPemCertificate(file: string, key: string): string {
  try {
    const pem = readFileSync(file, 'utf8');
    new X509Certificate(pem);
    return pem;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw appError('config_invalid', `config key ${key}: cannot use ${file} as a PEM certificate (${reason})`);
  }
}
