import { AppError } from '../../shared/errors.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Unit, UnitOfWork } from '../../storage/database.js';
import { settingsRepository } from '../../storage/repositories/records.js';
import { sealedSecretsRepository } from '../../storage/repositories/sealed-secrets.js';
import { openOathSecret } from '../methods/oath/secret.js';

const KEY = 'master_key_check';
const CONTEXT = 'settings:master_key_check';
const PLAINTEXT = 'countersign master key check v1';

const mismatch = () =>
  new AppError(
    'config_invalid',
    "the master key does not open this database's secrets: every node that shares a database needs the same master key (security.masterKey, or the key file security.masterKeyFile / <dataDir>/master.key). The server does not start.",
    { status: 500, expose: true },
  );

const opens = (attempt: () => Buffer): boolean => {
  try {
    attempt();
    return true;
  } catch {
    return false;
  }
};

const storedCheck = (unit: Unit): Promise<string | undefined> => settingsRepository.get(unit, KEY);

/**
 * Refuses to start a node whose master key is not the database's. Nodes
 * that share a database must share the key: with another key a node opens
 * no OATH seed and matches no API key, application secret or PIN, and would
 * answer every request as if it were wrong. The first node to start writes
 * a value sealed with its key (for a database from before this check, only
 * after one of its OATH seeds opened with that key); every later start must
 * open it.
 */
export async function checkMasterKey(transact: UnitOfWork, keyring: Keyring): Promise<void> {
  await transact(async (unit) => {
    const stored = await storedCheck(unit);
    if (stored !== undefined) {
      if (!opens(() => keyring.open(stored, CONTEXT))) throw mismatch();
      return;
    }
    const token = await sealedSecretsRepository.anyOathSeed(unit);
    if (token && !opens(() => openOathSecret(keyring, token))) throw mismatch();
    await settingsRepository.insertIfAbsent(unit, KEY, keyring.seal(PLAINTEXT, CONTEXT));
    // Two first starts at once: the one whose insert lost reads the winner's value, and must open it.
    const written = (await storedCheck(unit))!;
    if (!opens(() => keyring.open(written, CONTEXT))) throw mismatch();
  });
}
