import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { AppError } from './errors.js';

const configError = (message: string) => new AppError('config_invalid', message, { status: 500 });

/** Decodes a base64 master key and checks it is 32 bytes. `source` names where it came from. */
export function decodeMasterKey(text: string, source: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) throw configError(`${source}: master key must be 32 bytes in base64 (got ${key.length} bytes)`);
  return key;
}

/**
 * Reads the master key file, creating it with mode 0600 on first start.
 * A file that other users can read is refused: it unlocks every sealed secret.
 */
export function loadOrCreateMasterKeyFile(path: string): { key: Buffer; created: boolean } {
  try {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw configError(`${path}: master key file is readable by other users (mode ${mode.toString(8)}); run chmod 600 on it`);
    }
    return { key: decodeMasterKey(readFileSync(path, 'utf8'), path), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // The folder holds the key (and, by default, the database): private to the server's user.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  // 'wx' fails if another process created the file in the meantime: never overwrite a key.
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, key.toString('base64') + '\n');
  } finally {
    closeSync(fd);
  }
  return { key, created: true };
}
