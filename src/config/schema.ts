import { Type, type Static } from 'typebox';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The methods a self-service password reset may prove (docs/sspr.md). */
export const SSPR_METHODS = ['email', 'sms', 'app', 'oath', 'questions'] as const;

/** A retention period in days (SPEC.md §5: 90 unless configured). */
const keptDays = (description: string, fallback = 90) => Type.Integer({ minimum: 1, maximum: 3650, default: fallback, description });

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
        poolSize: Type.Integer({ minimum: 1, maximum: 200, default: 10, description: 'PostgreSQL connection pool size. Each server also holds one more connection, which listens for changes to conditional access ([conditional-access.md](conditional-access.md#when-a-change-takes-effect)).' }),
        connectTimeoutMs: Type.Integer({
          minimum: 100,
          maximum: 60000,
          default: 3000,
          description: 'PostgreSQL: how long to wait to open a connection, or for a free one in the pool, before the request answers 503 database_unavailable (see When the database is away below).',
        }),
        statementTimeoutMs: Type.Integer({
          minimum: 100,
          maximum: 600000,
          default: 10000,
          description:
            'Longest run of one statement. PostgreSQL: statement_timeout, and the node gives up on a database that stopped answering 1 s later (503 database_unavailable); SQLite: the longest wait for another process (a CLI command) to release the write lock.',
        }),
        sqliteSynchronous: Type.Union([Type.Literal('full'), Type.Literal('normal'), Type.Literal('extra')], {
          default: 'full',
          description:
            'SQLite: full makes every commit durable before it is answered (a used code stays used after a power loss); normal is faster to commit but may lose the last commits, and with them used codes, on a power loss or OS crash (see Durability below).',
        }),
        readCacheEntries: Type.Integer({
          minimum: 0,
          maximum: 10000000,
          default: 500000,
          description:
            'SQLite only: rows the authentication path keeps in memory (each user, their groups and their OATH tokens: three entries a user, roughly 0.5 KB each). 0 turns the cache off.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    http: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address the HTTP server binds to.' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port; 0 picks a free one.' }),
        requestTimeoutSeconds: Type.Integer({
          minimum: 1,
          maximum: 3600,
          default: 60,
          description: 'Longest time a client may take to send a whole request (headers and body); a slower one is answered 408 and disconnected.',
        }),
        bodyLimit: Type.Integer({ minimum: 1024, default: 1048576, description: 'Largest JSON request body in bytes.' }),
        importBodyLimit: Type.Integer({ minimum: 1024, default: 67108864, description: 'Largest CSV import body in bytes.' }),
        trustProxy: Type.Boolean({ default: false, description: 'Take the client IP from X-Forwarded-For (only behind a proxy you run).' }),
      },
      { additionalProperties: false, default: {} },
    ),
    log: Type.Object(
      {
        level: Type.Union(LOG_LEVELS.map((level) => Type.Literal(level)), { default: 'info', description: 'Service log level.' }),
        file: Type.String({
          default: 'service.log',
          description: 'Also append the service log to this file (JSON lines, mode 0600); a relative path is inside dataDir. Empty: stdout (and syslog) only, and `logs search` then needs --file.',
        }),
        userChanges: Type.Boolean({
          default: true,
          description: 'Write added and changed user records to the service log. Off limits the log; change records for synchronisation are always kept.',
        }),
        syslog: Type.Object(
          {
            protocol: Type.Union([Type.Literal('off'), Type.Literal('udp'), Type.Literal('tcp'), Type.Literal('tls')], {
              default: 'off',
              description:
                'Also send the service log to a syslog receiver as RFC 5424 messages: udp (RFC 5426), tcp (RFC 6587 octet counting) or tls (RFC 5425). Off: no syslog.',
            }),
            host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Syslog receiver host name or address (tls checks its certificate against this name).' }),
            port: Type.Integer({ minimum: 1, maximum: 65535, default: 514, description: 'Syslog receiver port (usually 514 for udp and tcp, 6514 for tls).' }),
            facility: Type.Integer({ minimum: 0, maximum: 23, default: 16, description: 'Syslog facility number (16 to 23 are local0 to local7).' }),
            appName: Type.String({ pattern: '^[\\x21-\\x7e]{1,48}$', default: 'countersign', description: 'APP-NAME field of each message: 1 to 48 printable ASCII characters, no spaces.' }),
            caFile: Type.String({ default: '', description: "tls: PEM file of the CA that signed the receiver's certificate. Empty: the system CAs. The certificate is always verified." }),
            maxMessageBytes: Type.Integer({
              minimum: 480,
              maximum: 65535,
              default: 2048,
              description: 'udp: longest datagram in bytes; longer messages are cut at a character boundary. tcp and tls send whole messages.',
            }),
          },
          { additionalProperties: false, default: {} },
        ),
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
    auth: Type.Object(
      {
        challengeTimeoutSeconds: Type.Integer({ minimum: 10, maximum: 3600, default: 120, description: 'How long a challenge waits for the user before it ends with a timeout result code.' }),
        resultTimeoutSeconds: Type.Integer({
          minimum: 10,
          maximum: 7200,
          default: 300,
          description: 'Longest a whole authentication may take, fallback included; past it the challenge ends with FAILED_AUTH_RESULT_TIMEOUT.',
        }),
        longPollSeconds: Type.Integer({ minimum: 1, maximum: 120, default: 30, description: 'Longest wait of one auth_status call.' }),
        fallbackOath: Type.Boolean({ default: true, description: 'After a denied primary method, accept an OATH code (SUCCESS_FALLBACK_OATH_CODE_VERIFIED).' }),
        fallbackQuestions: Type.Boolean({ default: false, description: 'After a denied primary method, accept security questions (SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED).' }),
        cacheKind: Type.Union([Type.Literal('none'), Type.Literal('user'), Type.Literal('ip'), Type.Literal('app')], {
          default: 'none',
          description: 'Authentication cache: none; user (SUCCESS_USED_CACHE); ip (same user, auth type, application and IP); app (same user, auth type and application).',
        }),
        cacheSeconds: Type.Integer({ minimum: 0, maximum: 86400, default: 0, description: 'Cache window in seconds; 0 turns the cache off.' }),
        userFailureLimit: Type.Integer({ minimum: 1, maximum: 1000, default: 5, description: 'Failed attempts per user within userFailureWindowSeconds before a lockout.' }),
        userFailureWindowSeconds: Type.Integer({ minimum: 1, default: 900, description: 'Sliding window of userFailureLimit.' }),
        userDailyFailureLimit: Type.Integer({ minimum: 1, maximum: 10000, default: 20, description: 'Failed attempts per user within 24 hours before a lockout.' }),
        lockoutSeconds: Type.Integer({ minimum: 1, default: 900, description: 'How long a lockout lasts at least (it lasts until the failures leave their window).' }),
        ipFailureLimit: Type.Integer({ minimum: 1, maximum: 1000000, default: 100, description: 'Failed attempts from one client IP within ipFailureWindowSeconds before that IP is throttled.' }),
        ipFailureWindowSeconds: Type.Integer({ minimum: 1, default: 900, description: 'Sliding window of ipFailureLimit.' }),
        fraudAutoBlock: Type.Boolean({ default: true, description: 'Block the user when fraud is reported (voice fraud code, app fraud report).' }),
        fraudCode: Type.String({ pattern: '^[0-9*]{1,8}#$', default: '0#', description: 'Keys a user presses during a voice call to report fraud.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    oath: Type.Object(
      {
        issuer: Type.String({ minLength: 1, maxLength: 64, default: 'Countersign', description: 'Issuer shown in authenticator apps (otpauth:// URI).' }),
        totpWindow: Type.Integer({ minimum: 0, maximum: 10, default: 1, description: 'TOTP time steps accepted either side of the current one.' }),
        hotpLookAhead: Type.Integer({ minimum: 0, maximum: 100, default: 10, description: 'HOTP counters accepted ahead of the expected one.' }),
        hotpResyncLookAhead: Type.Integer({ minimum: 10, maximum: 10000, default: 200, description: 'HOTP counters searched when resynchronising with two consecutive codes.' }),
        maxDriftSteps: Type.Integer({
          minimum: 0,
          maximum: 120,
          default: 10,
          description:
            "TOTP: the largest clock drift of a device, in time steps either way, that a resync may teach (10: 5 minutes); codes are then accepted around the device's time as well as the server's. A drift learned from sign-ins never exceeds oath.totpWindow.",
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    questions: Type.Object(
      {
        registerCount: Type.Integer({ minimum: 1, maximum: 10, default: 3, description: 'Security questions a user registers.' }),
        askCount: Type.Integer({ minimum: 1, maximum: 10, default: 2, description: 'Security questions asked at verification (all must be right).' }),
      },
      { additionalProperties: false, default: {} },
    ),
    sms: Type.Object(
      {
        otpLength: Type.Integer({ minimum: 6, maximum: 8, default: 6, description: 'Digits of the one-time code sent by text message.' }),
        maxOtpAttempts: Type.Integer({
          minimum: 1,
          maximum: 10,
          default: 3,
          description: 'Wrong codes accepted for one text message; the last one ends the authentication with FAILED_SMS_MAX_OTP_RETRY_REACHED.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    voice: Type.Object(
      {
        ringSeconds: Type.Integer({ minimum: 5, maximum: 120, default: 30, description: 'How long a call rings before it counts as not answered (CONFIG_ISSUE).' }),
        keySeconds: Type.Integer({
          minimum: 3,
          maximum: 60,
          default: 10,
          description: 'How long a call waits for keys after a prompt: silence after digits ends with SUCCESS_WITH_PIN_BUT_TIMEOUT, silence alone with SUCCESS_NO_PIN_BUT_TIMEOUT.',
        }),
        machineDetection: Type.Boolean({
          default: true,
          description: 'Ask the carrier to tell people from answering machines and fax lines: a machine ends the call with SUCCESS_NO_PIN_BUT_TIMEOUT, a fax with SUCCESS_INVALID_INPUT.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    access: Type.Object(
      {
        registrationPrompt: Type.Boolean({
          default: true,
          description:
            'A user who must use MFA but has no method registered is sent to register one (the answer is enroll, the sign-in "registration prompted"); false denies the sign-in instead. Users whose per-user MFA state is Enforced, and legacy clients, are always denied.',
        }),
        perUserMfaSkipTrustedLocations: Type.Boolean({ default: false, description: 'Users whose per-user MFA state is Enabled or Enforced skip MFA from trusted named locations ("skipped due to location").' }),
        perUserMfaRememberDays: Type.Integer({
          minimum: 0,
          maximum: 365,
          default: 0,
          description: 'Days a device may remember MFA required by the per-user MFA state, when the application asks to remember it; 0 never remembers.',
        }),
        trustedBrokers: Type.String({
          default: '',
          pattern: '^$|^[^,/]+/[a-z][a-z0-9_]{0,31}(,[^,/]+/[a-z][a-z0-9_]{0,31})*$',
          description: 'Trusted broker flows, comma-separated application/entry_point pairs (Windows Logon/windows_broker): their sign-ins skip MFA ("skipped as flow exercised was Windows broker logon flow").',
        }),
        claimIssuersFile: Type.String({
          default: '',
          description: 'JSON file of the issuers whose signed tokens (JWT with an MFA amr claim) satisfy MFA: see docs/conditional-access.md; empty trusts none.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    sspr: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Self-service password reset over /self/v1 for users of the local directory (docs/sspr.md).' }),
        methodsRequired: Type.Integer({ minimum: 1, maximum: 2, default: 1, description: 'How many different methods a user proves before setting a new password.' }),
        methods: Type.Array(Type.Enum(SSPR_METHODS), {
          minItems: 1,
          uniqueItems: true,
          default: ['email', 'sms', 'app', 'oath', 'questions'],
          description: 'Methods a reset may use: email (a code to the registered address), sms, app (a push), oath (a code), questions.',
        }),
        sessionMinutes: Type.Integer({ minimum: 1, maximum: 120, default: 15, description: 'How long a reset may take from start to the new password.' }),
        codeMinutes: Type.Integer({ minimum: 1, maximum: 60, default: 10, description: 'How long an e-mailed code stays good.' }),
        passwordMinLength: Type.Integer({ minimum: 8, maximum: 128, default: 12, description: 'Fewest characters in a password.' }),
        maxResetsPerHour: Type.Integer({ minimum: 1, maximum: 100, default: 5, description: 'Resets a user may start per hour (and ten times that per client IP).' }),
        maxFailuresPerDay: Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'Failed proofs (wrong codes, answers) per user per day before resets are refused until the day has passed.' }),
        maxSignInFailures: Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'Wrong passwords per user in 15 minutes before self-service sign-in is refused for a while.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    retention: Type.Object(
      {
        attempts: keptDays('Days authentication attempt records are kept (SPEC.md §5).'),
        signins: keptDays('Days sign-in events are kept, with the daily counts of repeated failures by user.'),
        activations: keptDays('Days authenticator app activation records are kept.'),
        blocks: keptDays('Days a block record is kept after the block ended; open blocks are kept.'),
        bypasses: keptDays('Days a bypass record is kept after it was used, cancelled or expired.'),
        changes: keptDays('Days user change records are kept.'),
        telephony: keptDays('Days telephony log entries (texts, calls) are kept.'),
        mail: keptDays('Days the mail log (e-mails sent, such as password reset codes) is kept.'),
        selfService: keptDays('Days password reset steps and sessions are kept.'),
        challenges: keptDays('Days challenges (the state of a sign-in in progress, kept after it ends) are kept.'),
        serviceLog: keptDays('Days the personal fields of the service log stay readable: the keys of older days are destroyed, which leaves those lines unreadable in every copy (docs/privacy.md).'),
        audit: keptDays('Days audit records (what administrators did) are kept; not a SPEC.md §5 category, and it holds the deletion receipts.', 365),
        batchSize: Type.Integer({ minimum: 100, maximum: 100000, default: 500, description: 'Rows the purge deletes per transaction. After each batch it pauses as long as the batch took, so authentications wait for at most one batch.' }),
        intervalMinutes: Type.Integer({ minimum: 0, maximum: 10080, default: 60, description: 'How often a running server purges; 0: only `countersign retention run`.' }),
      },
      { additionalProperties: false, default: {}, description: 'How long each collected category is kept (SPEC.md §5: 90 days unless configured).' },
    ),
    mail: Type.Object(
      {
        gateway: Type.Union([Type.Literal('outbox'), Type.Literal('smtp')], {
          default: 'outbox',
          description:
            'Where e-mail (password reset) goes. outbox: kept on the server, text included, for `countersign outbox mail`, for trying the flows (not for production); smtp: handed to the SMTP server of mail.smtp.',
        }),
        from: Type.String({
          default: 'Countersign <no-reply@localhost>',
          description: 'smtp gateway: the sender of every e-mail, such as no-reply@example.com or Countersign <no-reply@example.com>; checked at start-up.',
        }),
        smtp: Type.Object(
          {
            host: Type.String({ default: '127.0.0.1', description: 'smtp gateway: host name or address of the SMTP server (a relay or the mail server); tls and starttls check its certificate against this name.' }),
            port: Type.Integer({ minimum: 1, maximum: 65535, default: 587, description: 'smtp gateway: the SMTP server port (587 for starttls, 465 for tls, 25 for a local relay).' }),
            security: Type.Union([Type.Literal('starttls'), Type.Literal('tls'), Type.Literal('none')], {
              default: 'starttls',
              description:
                'smtp gateway: starttls requires the STARTTLS upgrade (never sends in clear); tls connects with TLS (implicit TLS); none sends in clear and is allowed only to a loopback host (127.0.0.1, ::1, localhost). The certificate is always verified.',
            }),
            user: Type.String({ default: '', description: 'smtp gateway: the user name to log in with; empty with an empty password: no login.' }),
            password: Type.String({ default: '', description: 'smtp gateway: the password to log in with; never written to the mail log.' }),
            caFile: Type.String({ default: '', description: "smtp gateway: PEM file of the CA that signed the server's certificate, read at start-up. Empty: the system CAs." }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    cluster: Type.Object(
      {
        heartbeatSeconds: Type.Integer({
          minimum: 1,
          maximum: 3600,
          default: 30,
          description: 'How often a running server writes its heartbeat (server status report); a node silent for three of its own heartbeats shows as down.',
        }),
        nodeRetentionHours: Type.Integer({
          minimum: 1,
          maximum: 87600,
          default: 168,
          description: 'A node whose last heartbeat is older than this (it stopped, or died) drops out of the server status report.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    app: Type.Object(
      {
        publicUrl: Type.String({
          default: '',
          description: "This server's URL as authenticator apps reach it (https://mfa.example.com), put in activation codes; empty uses the URL the administrator's request came to.",
        }),
        activationMinutes: Type.Integer({ minimum: 1, maximum: 10080, default: 60, description: 'How long an activation code can be used.' }),
        provisionOath: Type.Boolean({ default: true, description: 'Give each activated app an OATH secret, for codes when a push cannot reach it.' }),
        numberMatching: Type.Boolean({ default: true, description: 'Show a 2-digit number at sign-in that the user must type into the app to approve.' }),
        missedPushesToBlock: Type.Integer({
          minimum: 1,
          maximum: 100,
          default: 5,
          description: 'Pushes in a row a device leaves unanswered before it is blocked (FAILED_PHONE_APP_ALL_DEVICES_BLOCKED once all are).',
        }),
        pushWindowMinutes: Type.Integer({ minimum: 1, maximum: 1440, default: 15, description: 'Push-fatigue defence: the window the limits below count in.' }),
        pushLimit: Type.Integer({
          minimum: 1,
          maximum: 1000,
          default: 10,
          description: 'Push-fatigue defence: pushes to one user within the window; past it the user is asked for a code from the app instead (or refused without an OATH token).',
        }),
        unansweredForMatching: Type.Integer({
          minimum: 1,
          maximum: 100,
          default: 2,
          description: 'Push-fatigue defence: denied or unanswered pushes within the window after which number matching is required even when app.numberMatching is off.',
        }),
        unansweredForCodes: Type.Integer({
          minimum: 1,
          maximum: 100,
          default: 4,
          description: 'Push-fatigue defence: denied or unanswered pushes within the window after which no more pushes are sent: the user enters a code from the app.',
        }),
        pushGateway: Type.Union([Type.Literal('poll'), Type.Literal('webhook')], {
          default: 'poll',
          description: 'How devices learn of a push. poll: they hold a signed long poll open (GET /app/v1/challenges); webhook: also POSTed to app.pushWebhookUrl, a relay to FCM / APNs.',
        }),
        pushWebhookUrl: Type.String({ default: '', description: 'webhook push gateway: the relay URL each notification is POSTed to.' }),
        pushWebhookAuthorization: Type.String({ default: '', description: 'webhook push gateway: the Authorization header sent with each notification; empty sends none.' }),
        pushTimeoutMs: Type.Integer({ minimum: 100, maximum: 60000, default: 5000, description: 'webhook push gateway: how long to wait for the relay.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    telephony: Type.Object(
      {
        gateway: Type.Union([Type.Literal('outbox'), Type.Literal('http'), Type.Literal('twilio')], {
          default: 'outbox',
          description:
            'Where text messages and calls go. outbox: kept on the server for `countersign outbox` and GET /admin/v1/outbox, for trying the flows (not for production); http: text messages POSTed as JSON to telephony.http.url (no calls); twilio: the Twilio Messages and Calls APIs (calls need telephony.twilio.publicUrl).',
        }),
        templatesFile: Type.String({
          default: '',
          description:
            'A JSON file of texts per language that replace or add to the built-in English and French ones (docs/telephony.md#languages); empty uses the built-in texts.',
        }),
        http: Type.Object(
          {
            url: Type.String({ default: '', description: 'http gateway: the URL each text message is POSTed to (http:// or https://).' }),
            authorization: Type.String({ default: '', description: 'http gateway: the Authorization header sent with each message ("Bearer ..."); empty sends none.' }),
            bodyTemplate: Type.String({
              default: '{"to":"{{to}}","text":"{{body}}","reference":"{{reference}}"}',
              description: 'http gateway: the JSON body; {{to}} (E.164 number), {{body}} (the text) and {{reference}} (our message id) are replaced in its strings.',
            }),
            idField: Type.String({ default: 'id', description: "http gateway: the field of the provider's JSON answer that holds its message id." }),
            timeoutMs: Type.Integer({ minimum: 100, maximum: 60000, default: 5000, description: 'http gateway: how long to wait for the provider before the message counts as not sent.' }),
          },
          { additionalProperties: false, default: {} },
        ),
        twilio: Type.Object(
          {
            accountSid: Type.String({ default: '', description: 'twilio gateway: the account SID (AC...).' }),
            authToken: Type.String({ default: '', description: 'twilio gateway: the auth token; it also checks the signature of every webhook Twilio sends.' }),
            from: Type.String({ default: '', description: 'twilio gateway: the sending number in E.164 (+15551230000).' }),
            apiBaseUrl: Type.String({ default: 'https://api.twilio.com', description: 'twilio gateway: the API base URL (change it only for a test double).' }),
            publicUrl: Type.String({
              default: '',
              description: "twilio gateway: this server's URL as Twilio reaches it (https://mfa.example.com), for status callbacks and the voice webhooks; empty asks for no callbacks and offers no voice calls.",
            }),
            timeoutMs: Type.Integer({ minimum: 100, maximum: 60000, default: 5000, description: 'twilio gateway: how long to wait for the API before the message counts as not sent.' }),
          },
          { additionalProperties: false, default: {} },
        ),
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
