import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { base32Decode } from '../src/modules/methods/oath/base32.js';
import { hotp, timeStep } from '../src/modules/methods/oath/otp.js';

const ROOT = resolve(import.meta.dirname, '..');

/**
 * The shell commands of README's "Quick start" and "First steps", in order,
 * as printed there: continuation lines joined, comments dropped. `npm ci`
 * has run already (it is how this suite started) and `npm test` is this
 * suite, so neither runs again.
 */
function readmeCommands(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Operations'));
  const commands: string[] = [];
  for (const block of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    let pending = '';
    for (const raw of block[1]!.split('\n')) {
      const line = raw.replace(/\s+#\s.*$/, '').trimEnd();
      if (line === '') continue;
      if (line.endsWith('\\')) {
        pending += `${line.slice(0, -1)} `;
        continue;
      }
      commands.push((pending + line).trim());
      pending = '';
    }
  }
  return commands.map((command) => command.replace(/^npm ci && /, '')).filter((command) => command !== 'npm test');
}

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  output: () => string;
  type: (line: string) => void;
  /** Resolves once the output matches `pattern`, with the match. */
  waitFor: (pattern: RegExp, ms?: number) => Promise<RegExpExecArray>;
  done: Promise<number>;
}

/**
 * Runs a README command in bash, in the walkthrough's folder, as a user at a
 * terminal: its output is collected, and lines can be typed into it.
 */
function start(command: string, cwd: string, env: Record<string, string>): Running {
  const child = spawn('bash', ['-c', command], { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const waiters: { pattern: RegExp; resolve: (match: RegExpExecArray) => void }[] = [];
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of [...waiters]) {
      const match = waiter.pattern.exec(output);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const done = new Promise<number>((resolveDone) => child.once('exit', (code) => resolveDone(code ?? -1)));
  return {
    child,
    output: () => output,
    type: (line) => child.stdin!.write(`${line}\n`),
    waitFor: (pattern, ms = 30_000) =>
      new Promise((resolveMatch, reject) => {
        const found = pattern.exec(output);
        if (found) return resolveMatch(found);
        const timer = setTimeout(() => reject(new Error(`no ${pattern} in the output of "${command}":\n${output}`)), ms);
        waiters.push({ pattern, resolve: (match) => (clearTimeout(timer), resolveMatch(match)) });
      }),
    done,
  };
}

/**
 * README's quick start and first steps, every command in order, exactly as
 * printed (with `localhost:8080` pointed at the free port the test's server
 * took), on a fresh data folder; each outcome is checked. A command added to
 * README without an expectation here fails the test.
 */
describe("README's quick start and first steps", () => {
  const cwd = mkdtempSync(join(tmpdir(), 'countersign-readme-'));
  const background: ChildProcess[] = [];
  afterAll(() => {
    for (const child of background) child.kill('SIGTERM');
    rmSync(cwd, { recursive: true, force: true });
  });

  it('runs as written, from a fresh folder', async () => {
    // A folder of its own with what a clone holds: the installed packages and the examples.
    symlinkSync(join(ROOT, 'node_modules'), join(cwd, 'node_modules'));
    symlinkSync(join(ROOT, 'examples'), join(cwd, 'examples'));
    const port = await freePort();
    const env: Record<string, string> = { HOME: cwd, COUNTERSIGN_HTTP_PORT: String(port), COUNTERSIGN_CONFIG: '' };
    let secret = '';
    let activation = '';
    const run = async (command: string, answer?: (running: Running) => Promise<void>): Promise<string> => {
      const running = start(command, cwd, env);
      await answer?.(running);
      const code = await running.done;
      expect(code, `${command}\n${running.output()}`).toBe(0);
      return running.output();
    };

    const steps: [RegExp, (command: string) => Promise<void>][] = [
      [
        /^npx countersign serve$/,
        async (command) => {
          const server = start(command, cwd, env);
          background.push(server.child);
          env.KEY = (await server.waitFor(/First start: a Global Administrator API key was created\.\s+(csk_\S+)/))[1]!;
          await server.waitFor(/Countersign listening on/);
        },
      ],
      [/^KEY=csk_\.\.\.$/, async () => expect(env.KEY).toMatch(/^csk_/)],
      [
        /^curl -s localhost:8080\/admin\/v1\/users /,
        async (command) => expect(JSON.parse(await run(command.replace('localhost:8080', `localhost:${port}`)))).toMatchObject({ username: 'alice@contoso.com' }),
      ],
      [/^npx countersign user list$/, async (command) => expect(await run(command)).toContain('alice@contoso.com')],
      [/^npx countersign user import examples\/users\.csv --create-groups$/, async (command) => expect(await run(command)).toMatch(/3 rows: 3 created, 0 failed/)],
      [/^npx countersign admin-key create /, async (command) => expect(await run(command)).toMatch(/csk_/)],
      [
        /^npx countersign oath enroll alice@contoso\.com$/,
        async (command) => {
          const output = await run(command, async (running) => {
            secret = (await running.waitFor(/secret\s+([A-Z2-7]{32})\n/))[1]!;
            await running.waitFor(/Type the code the app shows now/);
            running.type(hotp({ secret: base32Decode(secret)!, algorithm: 'SHA1', digits: 6 }, timeStep(Date.now(), 30)));
          });
          expect(output).toMatch(/activated token .* for alice@contoso\.com/);
        },
      ],
      [/^npx countersign app create "Corporate VPN"$/, async (command) => expect(await run(command)).toMatch(/CI[A-Z0-9]{18}/)],
      [
        /^npx countersign auth alice@contoso\.com$/,
        async (command) => {
          // The code of the next time step: the one typed at activation is used up (a replay is refused).
          const output = await run(command, async (running) => {
            await running.waitFor(/Enter the code/);
            running.type(hotp({ secret: base32Decode(secret)!, algorithm: 'SHA1', digits: 6 }, timeStep(Date.now(), 30) + 1));
          });
          expect(output).toMatch(/allowed: .*SUCCESS_OATH_CODE_VERIFIED/);
        },
      ],
      [
        /^npx countersign device activation alice@contoso\.com$/,
        async (command) => {
          const output = await run(command);
          activation = /(countersign:\/\/activate\?\S+)/.exec(output)![1]!;
          expect(activation).toContain(encodeURIComponent(`http://127.0.0.1:${port}`));
        },
      ],
      [
        /^npx countersign-authenticator activate 'countersign:\/\/activate\?url=…&code=…'$/,
        async (command) => expect(await run(command.replace(/'countersign:\/\/[^']*'/, `'${activation}'`))).toMatch(/activated/i),
      ],
      [
        /^npx countersign-authenticator watch$/,
        async (command) => {
          const watch = start(command, cwd, env);
          background.push(watch.child);
          await watch.waitFor(/watching for pushes/);
          steps.push([/^npx countersign auth alice@contoso\.com --factor app$/, async (auth) => {
            const signIn = start(auth, cwd, env);
            const number = (await signIn.waitFor(/number: (\d{2})/))[1]!;
            await watch.waitFor(/number shown on the sign-in screen: $/);
            watch.type(number);
            await watch.waitFor(/approve, deny or fraud: $/);
            watch.type('approve');
            expect(await signIn.done, signIn.output()).toBe(0);
            expect(signIn.output()).toMatch(/allowed: .*SUCCESS_PHONE_APP_AUTHENTICATED/);
          }]);
        },
      ],
      [/^npx countersign location add Office /, async (command) => expect(await run(command)).toContain('Office')],
      [/^echo '\{"name":"MFA outside the office".*\| npx countersign policy add --file -$/, async (command) => expect(await run(command)).toContain('MFA outside the office')],
      [
        /^npx countersign gdpr export alice@contoso\.com --output alice\.json$/,
        async (command) => {
          await run(command);
          expect(JSON.parse(readFileSync(join(cwd, 'alice.json'), 'utf8'))).toMatchObject({ profile: { username: 'alice@contoso.com' } });
        },
      ],
      [/^npx countersign logs search alice@contoso\.com$/, async (command) => expect(await run(command)).toContain('alice@contoso.com')],
      [/^npx countersign gdpr delete alice@contoso\.com --yes$/, async (command) => expect(await run(command)).toMatch(/receipt/i)],
      [/^npx countersign retention run$/, async (command) => expect(await run(command)).toMatch(/deleted|purged|nothing/i)],
    ];

    const commands = readmeCommands();
    expect(commands.length).toBeGreaterThanOrEqual(18);
    for (const command of commands) {
      const step = steps.find(([pattern]) => pattern.test(command));
      expect(step, `README command without an expectation in this test: ${command}`).toBeDefined();
      await step![1](command);
    }
    expect(existsSync(join(cwd, 'data', 'countersign.db'))).toBe(true);
  }, 300_000);
});
