import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { runCli } from '../../src/cli/program.js';
import { TEST_MASTER_KEY } from './runtime.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process against its own data folder, as a user would from a shell. `extraEnv` may depend on that folder. */
export function cliSandbox(extraEnv: Record<string, string> | ((dir: string) => Record<string, string>) = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-cli-'));
  const env = { COUNTERSIGN_DATA_DIR: dir, COUNTERSIGN_SECURITY_MASTER_KEY: TEST_MASTER_KEY, COUNTERSIGN_LOG_LEVEL: 'warn', ...(typeof extraEnv === 'function' ? extraEnv(dir) : extraEnv) };
  return {
    dir,
    async run(args: string[], stdin = ''): Promise<CliResult> {
      let stdout = '';
      let stderr = '';
      const io = {
        stdout: { write: (text: string) => (stdout += text) },
        stderr: { write: (text: string) => (stderr += text) },
        stdin: Readable.from([stdin]),
        env,
      };
      const code = await runCli(args, io);
      return { code, stdout, stderr };
    },
    /**
     * Runs a command that asks questions on stdin, as a person at the terminal
     * would answer them: after every output, `answer` sees everything printed
     * so far and may give the next line to type (null: nothing yet).
     */
    async runInteractive(args: string[], answer: (printed: string) => string | null): Promise<CliResult> {
      let stdout = '';
      let stderr = '';
      const stdin = new PassThrough();
      const typed = () => {
        const line = answer(stdout + stderr);
        if (line !== null) stdin.write(`${line}\n`);
      };
      const io = {
        stdout: { write: (text: string) => ((stdout += text), typed(), true) },
        stderr: { write: (text: string) => ((stderr += text), typed(), true) },
        stdin,
        env,
      };
      const code = await runCli(args, io);
      stdin.end();
      return { code, stdout, stderr };
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
