import { Type, type Static } from 'typebox';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The whole configuration. Every key has a default; unknown keys are rejected.
 * The environment variable of a key is COUNTERSIGN_ followed by its path in
 * upper snake case: `http.port` is COUNTERSIGN_HTTP_PORT.
 * Keep docs/configuration.md in step with this file (a test checks it).
 */
export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: './data', description: 'Folder for the SQLite database, the master key file and log files.' }),
    database: Type.Object(
      {
        url: Type.String({
          default: '',
          description: 'Empty for SQLite at <dataDir>/countersign.db; sqlite:<path> for another SQLite file; postgres://... for PostgreSQL.',
        }),
        poolSize: Type.Integer({ minimum: 1, maximum: 200, default: 10, description: 'PostgreSQL connection pool size.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    http: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address the HTTP server binds to.' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port; 0 picks a free one.' }),
        bodyLimit: Type.Integer({ minimum: 1024, default: 1048576, description: 'Largest JSON request body in bytes.' }),
        importBodyLimit: Type.Integer({ minimum: 1024, default: 67108864, description: 'Largest CSV import body in bytes.' }),
        trustProxy: Type.Boolean({ default: false, description: 'Take the client IP from X-Forwarded-For (only behind a proxy you run).' }),
      },
      { additionalProperties: false, default: {} },
    ),
    log: Type.Object(
      {
        level: Type.Union(LOG_LEVELS.map((level) => Type.Literal(level)), { default: 'info', description: 'Service log level.' }),
        file: Type.String({ default: '', description: 'Also append the service log to this file (JSON lines). Empty: stdout only.' }),
        userChanges: Type.Boolean({
          default: true,
          description: 'Write added and changed user records to the service log. Off limits the log; change records for synchronisation are always kept.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    security: Type.Object(
      {
        masterKey: Type.String({ default: '', description: 'Base64 of 32 random bytes. Empty: use masterKeyFile.' }),
        masterKeyFile: Type.String({ default: '', description: 'Key file, created with mode 0600 on first start. Empty: <dataDir>/master.key.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    directory: Type.Object(
      {
        pinMinLength: Type.Integer({ minimum: 4, maximum: 16, default: 4, description: 'Fewest digits in a user PIN.' }),
        pinMaxLength: Type.Integer({ minimum: 4, maximum: 16, default: 10, description: 'Most digits in a user PIN.' }),
        defaultCountryCode: Type.String({ pattern: '^[0-9]{1,3}$', default: '1', description: 'Country code used when a phone is given without one.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    metrics: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Serve Prometheus metrics at /metrics.' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
