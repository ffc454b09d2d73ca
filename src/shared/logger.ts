import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type DestinationStream, type Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  /** Also append JSON lines to this file. */
  file?: string;
  /** Where console lines go (tests pass a capture stream). */
  stdout?: DestinationStream;
  /** 'stdout' (the server) or 'stderr-warnings' (CLI commands: only warnings and errors, on stderr). */
  console?: 'stdout' | 'stderr-warnings';
}

/** The service log: pino JSON lines to stdout and optionally to a file. */
export function createServiceLog(options: LoggerOptions): Logger {
  const streams: { stream: DestinationStream; level: pino.Level }[] = [];
  const level = options.level === 'silent' ? 'fatal' : (options.level as pino.Level);
  if (options.console === 'stderr-warnings') streams.push({ stream: pino.destination({ dest: 2, sync: true }), level: 'warn' });
  else streams.push({ stream: options.stdout ?? pino.destination({ dest: 1, sync: false }), level });
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    streams.push({ stream: pino.destination({ dest: options.file, append: true, sync: false, mkdir: true }), level });
  }
  return pino(
    {
      level: options.level,
      base: { service: 'countersign' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Secrets must never reach the log even if an object carrying them is logged by mistake.
      redact: { paths: ['req.headers.authorization', '*.pin', '*.secret', 'pin', 'secret'], censor: '[redacted]' },
    },
    pino.multistream(streams),
  );
}
