import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { DeviceIdentity } from './client.js';

/** The authenticator's file: every device identity it holds, private keys included. */
interface StoreFile {
  version: 1;
  devices: DeviceIdentity[];
}

const isIdentity = (value: unknown): value is DeviceIdentity => {
  const item = value as Partial<DeviceIdentity> | null;
  return (
    typeof item === 'object' &&
    item !== null &&
    typeof item.url === 'string' &&
    typeof item.deviceId === 'string' &&
    typeof item.privateKeyPem === 'string' &&
    typeof item.account === 'string' &&
    typeof item.clockOffsetMs === 'number'
  );
};

/** Reads the identities; an absent file holds none. A damaged file is an error naming it, never silently replaced. */
export function readDevices(path: string): DeviceIdentity[] {
  if (!existsSync(path)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path}: ${error instanceof SyntaxError ? 'not valid JSON' : `cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`}`);
  }
  const file = parsed as Partial<StoreFile>;
  if (file.version !== 1 || !Array.isArray(file.devices) || !file.devices.every(isIdentity)) throw new Error(`${path}: not a countersign-authenticator file`);
  return file.devices;
}

/**
 * Writes the identities with mode 0600 (the private keys are in it): to a new
 * file beside it, then renamed over the old one, so a crash never leaves half
 * a file.
 */
export function writeDevices(path: string, devices: DeviceIdentity[]): void {
  const next = `${path}.${process.pid}.tmp`;
  writeFileSync(next, `${JSON.stringify({ version: 1, devices } satisfies StoreFile, null, 2)}\n`, { mode: 0o600 });
  chmodSync(next, 0o600);
  renameSync(next, path);
}
