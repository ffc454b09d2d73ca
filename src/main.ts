import { AppPasswords } from './modules/access/app-passwords.js';
import { ClaimIssuers } from './modules/access/claims.js';
import { NamedLocations } from './modules/access/locations.js';
import { AccessPolicies } from './modules/access/policies.js';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { readConfiguredFile } from './config/load.js';
import type { Config } from './config/schema.js';
import { serviceLogFile } from './config/paths.js';
import { AdminKeys } from './modules/admin-access/admin-keys.js';
import { Applications } from './modules/applications/applications.js';
import { Blocks } from './modules/auth/blocks.js';
import { Bypasses } from './modules/auth/bypasses.js';
import { AuthEngine } from './modules/auth/engine.js';
import { oathMethod } from './modules/methods/oath/method.js';
import { questionsMethod } from './modules/methods/questions/method.js';
import { smsMethod } from './modules/methods/sms/method.js';
import { voiceMethod } from './modules/methods/voice/method.js';
import type { ReportFraud } from './modules/methods/contract.js';
import { AppDevices } from './modules/methods/app/devices.js';
import { PersonalLog, UserChangeLog } from './modules/privacy/personal-log.js';
import { Privacy } from './modules/privacy/privacy.js';
import { Retention } from './modules/privacy/retention.js';
import { Exports } from './modules/reports/exports.js';
import { SigninExporter } from './modules/reports/signin-export.js';
import { Reports } from './modules/reports/reports.js';
import { SigninLog } from './modules/reports/signin-log.js';
import { appMethod } from './modules/methods/app/method.js';
import { notifierOf, PushBoard, type PushNotifier } from './modules/methods/app/push.js';
import type { TelephonyGateway } from './modules/telephony/gateway.js';
import { httpGateway } from './modules/telephony/http-gateway.js';
import { outboxGateway } from './modules/telephony/outbox.js';
import { twilioGateway } from './modules/telephony/twilio.js';
import { Telephony } from './modules/telephony/telephony.js';
import { loadTemplatesFile, Templates } from './modules/telephony/templates.js';
import type { MailGateway } from './modules/mail/gateway.js';
import { Mail } from './modules/mail/mail.js';
import { SelfService } from './modules/sspr/sspr.js';
import { outboxMailGateway } from './modules/mail/outbox.js';
import { smtpMailGateway } from './modules/mail/smtp.js';
import { CsvImport } from './modules/directory/csv-import.js';
import { Directory } from './modules/directory/directory.js';
import { Groups } from './modules/directory/groups.js';
import { OathTokens } from './modules/methods/oath/tokens.js';
import { SecurityQuestions } from './modules/methods/questions/questions.js';
import { systemClock, type Clock } from './shared/clock.js';
import { Keyring } from './shared/keyring.js';
import { closeServiceLog, createServiceLog } from './shared/logger.js';
import { decodeMasterKey, loadOrCreateMasterKeyFile } from './shared/master-key.js';
import { openStorage, permissionProblems, type Storage } from './storage/database.js';
import { isMigrated, migrateToLatest } from './storage/migrator.js';
import { foundation } from './storage/migrations/0001-foundation.js';
import { checkMasterKey } from './modules/cluster/master-key-check.js';

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
  oathTokens: OathTokens;
  applications: Applications;
  blocks: Blocks;
  bypasses: Bypasses;
  engine: AuthEngine;
  securityQuestions: SecurityQuestions;
  telephony: Telephony;
  /** E-mail (password reset) through mail.gateway, and the mail log. */
  mail: Mail;
  /** Self-service password reset and the users' own registration (SPEC.md §6). */
  selfService: SelfService;
  appDevices: AppDevices;
  /** Wakes the long polls of devices when a push for them is committed. */
  pushBoard: PushBoard;
  signinLog: SigninLog;
  exports: Exports;
  reports: Reports;
  namedLocations: NamedLocations;
  policies: AccessPolicies;
  appPasswords: AppPasswords;
  /** Privacy requests: export and erase everything about a user, search the service log (SPEC.md §6). */
  privacy: Privacy;
  /** The retention purge of SPEC.md §5 (retention.*). */
  retention: Retention;
  /** Seals the personal fields of service-log lines per user and day (docs/privacy.md). */
  personalLog: PersonalLog;
  /** The service-log lines of user changes. */
  changeLog: UserChangeLog;
  /** True when this start created the master key file. */
  masterKeyCreated: boolean;
  /** How often a long poll (auth_status, a device waiting for pushes) looks again when no wake-up came: a change made on another node. */
  longPollIntervalMs: number;
  /** Closes the storage this runtime opened (not one passed in through options) and flushes the service log's syslog output. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  clock?: Clock;
  log?: Logger;
  /** Storage to use instead of the one the configuration names (tests). */
  storage?: Storage;
  /** Apply pending migrations while starting (serve does; other commands check). */
  migrate?: boolean;
  /** Gateway to use instead of the one the configuration names (tests). */
  gateway?: TelephonyGateway;
  /** Mail gateway to use instead of the one mail.gateway names (tests). */
  mailGateway?: MailGateway;
  /** Replaces the push notifier app.pushGateway names (tests). */
  pushNotifier?: PushNotifier;
  /** Replaces the long polls' interval of 1 s (tests: a long interval proves that wake-ups, not re-polls, end the wait). */
  longPollIntervalMs?: number;
}

/** The gateway `telephony.gateway` names. */
function gatewayOf(config: Config['telephony'], voice: Config['voice']): TelephonyGateway {
  switch (config.gateway) {
    case 'outbox':
      return outboxGateway;
    case 'http':
      return httpGateway(config.http);
    case 'twilio':
      return twilioGateway(config.twilio, voice);
  }
}

/** The gateway `mail.gateway` names; the SMTP gateway checks its settings here, at start-up. */
function mailGatewayOf(config: Config['mail']): MailGateway {
  switch (config.gateway) {
    case 'outbox':
      return outboxMailGateway;
    case 'smtp':
      return smtpMailGateway(config);
  }
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
  // Files that settings name are read first, by the modules that own their formats: a bad one stops
  // start-up naming its key before a log, a key file or the database is created.
  const { templatesFile } = config.telephony;
  const { claimIssuersFile } = config.access;
  const templates = templatesFile ? readConfiguredFile(() => loadTemplatesFile(templatesFile)) : new Templates();
  const claimIssuers = claimIssuersFile ? readConfiguredFile(() => ClaimIssuers.fromFile(claimIssuersFile)) : ClaimIssuers.none();
  const clock = options.clock ?? systemClock;
  const log = options.log ?? createServiceLog({ level: config.log.level, file: serviceLogFile(config), syslog: config.log.syslog });
  const { keyring, created } = loadKeyring(config);
  // Before the storage opens: a wrong mail setting stops start-up before the database is touched.
  const mailGateway = options.mailGateway ?? mailGatewayOf(config.mail);
  const ownsStorage = options.storage === undefined;
  const storage =
    options.storage ??
    openStorage({
      url: config.database.url,
      dataDir: config.dataDir,
      poolSize: config.database.poolSize,
      readCacheEntries: config.database.readCacheEntries,
      sqliteSynchronous: config.database.sqliteSynchronous,
      timeouts: { connectMs: config.database.connectTimeoutMs, statementMs: config.database.statementTimeoutMs },
      onConnectionError: (error) => log.warn({ err: error, event: 'database.connection_lost' }, 'a database connection was lost; it is replaced'),
    });
  for (const problem of permissionProblems(storage)) log.warn({ event: 'storage.permissions' }, problem);
  if (options.migrate !== false) {
    const applied = await migrateToLatest(storage.db, storage.dialect, clock);
    if (applied.length > 0) log.info({ event: 'storage.migrated', applied }, 'database migrated');
  }
  // Before anything reads a secret: a node with another master key than the database's must not start.
  if (await isMigrated(storage.db, foundation.name)) await checkMasterKey(storage.transact, keyring);
  const rules = config.directory;
  const telephony = new Telephony({ db: storage.db, transact: storage.transact, clock, gateway: options.gateway ?? gatewayOf(config.telephony, config.voice) });
  // Blocks are built below, after the directory that needs every method's data cleaner; a fraud report only comes later, during a sign-in.
  const reportFraud: ReportFraud = (db, user, source) => blocks.reportFraudInTransaction(db, user, source, config.auth.fraudAutoBlock);
  const voice = voiceMethod(config.voice, {
    telephony,
    templates,
    directory: config.directory,
    auth: config.auth,
    reportFraud,
  });
  const pushBoard = new PushBoard();
  const signinLog = new SigninLog({ db: storage.db });
  const oath = oathMethod(config.oath);
  const app = appMethod(config.app, {
    oath,
    notifier: options.pushNotifier ?? notifierOf(config.app),
    board: pushBoard,
    directory: config.directory,
    auth: config.auth,
    reportFraud,
  });
  const methods = [oath, questionsMethod(config.questions), smsMethod(config.sms, telephony, templates), voice, app];
  const userDataCleaners = methods.map((method) => (db: Parameters<typeof method.deleteUserData>[0], userId: string) => method.deleteUserData(db, userId));
  const personalLog = new PersonalLog({ keyring, clock });
  const changeLog = new UserChangeLog({ log, personal: personalLog, enabled: config.log.userChanges });
  const directory = new Directory({ db: storage.db, transact: storage.transact, keyring, clock, rules, changeLog, userDataCleaners });
  const blocks = new Blocks({ db: storage.db, transact: storage.transact, clock, directory });
  const applications = new Applications({ db: storage.db, transact: storage.transact, keyring, clock });
  const longPollIntervalMs = options.longPollIntervalMs ?? 1_000;
  const engine = new AuthEngine({ db: storage.db, transact: storage.transact, clock, keyring, config, blocks, log, methods, claimIssuers, longPollIntervalMs });
  const securityQuestions = new SecurityQuestions({ db: storage.db, transact: storage.transact, clock, config: config.questions, directory, changeLog });
  const mail = new Mail({ db: storage.db, clock, gateway: mailGateway });
  // Downloads of the sign-in log read in worker threads, each through a bulk connection of its own.
  const exporter = new SigninExporter({ reader: storage.bulk });
  return {
    config,
    clock,
    log,
    storage,
    keyring,
    directory,
    groups: new Groups({ db: storage.db, transact: storage.transact, clock, directory }),
    csvImport: new CsvImport({ db: storage.db, transact: storage.transact, keyring, clock, log, rules, changeLog }),
    adminKeys: new AdminKeys({ db: storage.db, transact: storage.transact, keyring, clock }),
    oathTokens: new OathTokens({ db: storage.db, transact: storage.transact, keyring, clock, config: config.oath }),
    applications,
    blocks,
    bypasses: new Bypasses({ db: storage.db, transact: storage.transact, clock, directory }),
    engine,
    namedLocations: new NamedLocations({ db: storage.db, transact: storage.transact, clock }),
    policies: new AccessPolicies({ db: storage.db, transact: storage.transact, clock }),
    appPasswords: new AppPasswords({ db: storage.db, transact: storage.transact, clock, keyring, directory }),
    securityQuestions,
    telephony,
    mail,
    selfService: new SelfService({ db: storage.db, transact: storage.transact, clock, keyring, config: config.sspr, questionsConfig: config.questions, engine, mail, directory, applications, securityQuestions, changeLog }),
    appDevices: new AppDevices({ db: storage.db, transact: storage.transact, keyring, clock, config: config.app, oathIssuer: config.oath.issuer, directory }),
    pushBoard,
    signinLog,
    // Downloads read through the bulk connection: a long export does not hold the authentications' connection.
    exports: new Exports({ db: storage.bulkDb, signinLog: new SigninLog({ db: storage.bulkDb }), exporter }),
    reports: new Reports({ db: storage.db, transact: storage.transact, clock, heartbeatSeconds: config.cluster.heartbeatSeconds, nodeRetentionHours: config.cluster.nodeRetentionHours }),
    personalLog,
    changeLog,
    retention: new Retention({ db: storage.db, transact: storage.transact, clock, config: config.retention }),
    privacy: new Privacy({ db: storage.db, transact: storage.transact, clock, keyring, personalLog, methods, logFiles: serviceLogFile(config) ? [serviceLogFile(config)!] : [] }),
    masterKeyCreated: created,
    longPollIntervalMs,
    // A storage handed in belongs to the caller, who closes it.
    close: async () => {
      await mailGateway.close?.();
      if (ownsStorage) await storage.close();
      // Also for a log handed in (the CLI builds its own): its queued syslog lines must leave before the process exits.
      await closeServiceLog(log);
    },
  };
}
