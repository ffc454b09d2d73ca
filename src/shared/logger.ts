import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type DestinationStream, type Logger } from 'pino';
import { createSyslogStream, type SyslogOptions, type SyslogProtocol, type SyslogStream } from './syslog.js';

export interface LoggerOptions {
  level: string;
  /** Also append JSON lines to this file. */
  file?: string;
  /** Where console lines go (tests pass a capture stream). */
  stdout?: DestinationStream;
  /** 'stdout' (the server) or 'stderr-warnings' (CLI commands: only warnings and errors, on stderr). */
  console?: 'stdout' | 'stderr-warnings';
  /** Also send every line to a syslog receiver (RFC 5424), unless protocol is 'off'. */
  syslog?: Omit<SyslogOptions, 'protocol' | 'onError'> & { protocol: SyslogProtocol | 'off' };
}

const syslogStreams = new WeakMap<Logger, SyslogStream>();
const fileStreams = new WeakMap<Logger, pino.DestinationStream & { flush(cb: (error?: Error) => void): void }>();

/** The service log: pino JSON lines to stdout, and optionally to a file and to syslog. */
export function createServiceLog(options: LoggerOptions): Logger {
  const streams: { stream: DestinationStream; level: pino.Level }[] = [];
  const level = options.level === 'silent' ? 'fatal' : (options.level as pino.Level);
  if (options.console === 'stderr-warnings') streams.push({ stream: pino.destination({ dest: 2, sync: true }), level: 'warn' });
  else streams.push({ stream: options.stdout ?? pino.destination({ dest: 1, sync: false }), level });
  let file: ReturnType<typeof pino.destination> | undefined;
  if (options.file) {
    // The lines name users by id and hold their sealed personal fields: private to the server's user.
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
    if (!existsSync(options.file)) closeSync(openSync(options.file, 'a', 0o600));
    // A CLI command writes a few lines and exits: written at once, they are on disk before it does.
    file = pino.destination({ dest: options.file, append: true, sync: options.console === 'stderr-warnings', mkdir: true });
    streams.push({ stream: file, level });
  }
  let syslog: SyslogStream | undefined;
  if (options.syslog && options.syslog.protocol !== 'off') {
    const { protocol, host, port } = options.syslog;
    syslog = createSyslogStream({
      ...options.syslog,
      protocol,
      // Reported once an outage, asynchronously (so after `log` below exists). The warning reaches
      // stdout and the file at once; its syslog copy waits in the queue (tcp, tls) like every other line.
      onError: (error) => log.warn({ event: 'log.syslog_failed', err: error, protocol, host, port }, `syslog output to ${host}:${port} failing`),
    });
    streams.push({ stream: syslog, level });
  }
  const log = pino(
    {
      level: options.level,
      base: { service: 'countersign' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Secrets must never reach the log even if an object carrying them is logged by mistake.
      redact: { paths: ['req.headers.authorization', '*.pin', '*.secret', 'pin', 'secret'], censor: '[redacted]' },
    },
    pino.multistream(streams),
  );
  if (syslog) syslogStreams.set(log, syslog);
  if (file) fileStreams.set(log, file);
  return log;
}

/**
 * Writes out what the file output still buffers, sends what the syslog output
 * still holds and closes its connection; resolves within its close timeout.
 * Lines logged afterwards still reach stdout and the file.
 */
export async function closeServiceLog(log: Logger): Promise<void> {
  const file = fileStreams.get(log);
  if (file) await new Promise<void>((resolve) => file.flush(() => resolve()));
  await syslogStreams.get(log)?.close();
}
