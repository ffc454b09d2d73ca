import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { AdminKeys } from './modules/admin-access/admin-keys.js';
import { CsvImport } from './modules/directory/csv-import.js';
import { Directory } from './modules/directory/directory.js';
import { Groups } from './modules/directory/groups.js';
import { systemClock, type Clock } from './shared/clock.js';
import { Keyring } from './shared/keyring.js';
import { createServiceLog } from './shared/logger.js';
import { decodeMasterKey, loadOrCreateMasterKeyFile } from './shared/master-key.js';
import { openStorage, type Storage } from './storage/database.js';
import { migrateToLatest } from './storage/migrator.js';

/** Everything the protocols and the CLI work with, built once from the configuration. */
export interface Runtime {
  config: Config;
  clock: Clock;
  log: Logger;
  storage: Storage;
  keyring: Keyring;
  directory: Directory;
  groups: Groups;
  csvImport: CsvImport;
  adminKeys: AdminKeys;
  /** True when this start created the master key file. */
  masterKeyCreated: boolean;
  /** Closes the storage this runtime opened (not one passed in through options). */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  clock?: Clock;
  log?: Logger;
  /** Storage to use instead of the one the configuration names (tests). */
  storage?: Storage;
  /** Apply pending migrations while starting (serve does; other commands check). */
  migrate?: boolean;
}

function loadKeyring(config: Config): { keyring: Keyring; created: boolean } {
  if (config.security.masterKey) {
    return { keyring: new Keyring(decodeMasterKey(config.security.masterKey, 'security.masterKey')), created: false };
  }
  const file = config.security.masterKeyFile || resolve(config.dataDir, 'master.key');
  const { key, created } = loadOrCreateMasterKeyFile(file);
  return { keyring: new Keyring(key), created };
}

/** The composition root: config → storage → modules. Protocols are built on top of the returned runtime. */
export async function buildRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? createServiceLog({ level: config.log.level, file: config.log.file || undefined });
  const { keyring, created } = loadKeyring(config);
  const ownsStorage = options.storage === undefined;
  const storage =
    options.storage ?? openStorage({ url: config.database.url, dataDir: config.dataDir, poolSize: config.database.poolSize });
  if (options.migrate !== false) {
    const applied = await migrateToLatest(storage.db, storage.dialect, clock);
    if (applied.length > 0) log.info({ event: 'storage.migrated', applied }, 'database migrated');
  }
  const rules = config.directory;
  const directory = new Directory({ db: storage.db, keyring, clock, log, rules, logUserChanges: config.log.userChanges });
  return {
    config,
    clock,
    log,
    storage,
    keyring,
    directory,
    groups: new Groups({ db: storage.db, clock, directory }),
    csvImport: new CsvImport({ db: storage.db, keyring, clock, log, rules }),
    adminKeys: new AdminKeys({ db: storage.db, keyring, clock }),
    masterKeyCreated: created,
    // A storage handed in belongs to the caller, who closes it.
    close: () => (ownsStorage ? storage.close() : Promise.resolve()),
  };
}
