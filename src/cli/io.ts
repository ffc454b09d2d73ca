import { serviceLogFile } from '../config/paths.js';
import { userInfo } from 'node:os';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { buildRuntime, type Runtime } from '../main.js';
import type { Actor } from '../shared/actor.js';
import { createServiceLog } from '../shared/logger.js';

/** What a CLI run reads and writes: real process streams, or captures in tests. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  /** Set by a command that finished but wants a non-zero exit (an import with refused rows). */
  exitCode?: number;
}

export interface GlobalOptions {
  config?: string;
  json?: boolean;
}

/** Loads the configuration the way every command does: --config, then COUNTERSIGN_* from the environment. */
export function cliConfig(io: CliIo, options: GlobalOptions, overrides: Record<string, unknown> = {}): Config {
  return loadConfig({ env: io.env, file: options.config, overrides });
}

/**
 * Opens the runtime for a one-shot command. The service log goes to the
 * configured file; the terminal sees only warnings, on stderr, so command
 * output stays clean for scripts.
 */
export async function openRuntime(io: CliIo, options: GlobalOptions): Promise<Runtime> {
  const config = cliConfig(io, options);
  const log = createServiceLog({ level: config.log.level, file: serviceLogFile(config), syslog: config.log.syslog, console: 'stderr-warnings' });
  return buildRuntime(config, { log });
}

export async function withRuntime<T>(io: CliIo, options: GlobalOptions, work: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await openRuntime(io, options);
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

export function cliActor(): Actor {
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep "unknown"
  }
  return { type: 'cli', id: name, role: null, requestId: null, entryPoint: 'cli' };
}
