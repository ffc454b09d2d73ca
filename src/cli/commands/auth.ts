import { isIP } from 'node:net';
import { Command, Option } from 'commander';
import type { Runtime } from '../../main.js';
import type { AuthenticatedApplication } from '../../modules/applications/applications.js';
import type { AuthAnswer, PreauthAnswer } from '../../modules/auth/answers.js';
import type { AuthRequest } from '../../modules/auth/engine.js';
import { METHOD_NAMES, type MethodName, type MethodResponse } from '../../modules/methods/contract.js';
import { AppError, appError } from '../../shared/errors.js';
import { cliActor, withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { printJson } from '../output.js';
import { lineReader } from '../../shared/lines.js';

/** The application `auth` runs as when no --app is given; created on first use. */
export const CLI_APPLICATION = 'Countersign CLI';
const AUTH_TYPE = /^[A-Za-z0-9_.-]{1,32}$/;

interface AuthFlags {
  app?: string;
  code?: string;
  ip?: string;
  authType: string;
  factor: 'auto' | MethodName;
}

type Lines = ReturnType<typeof lineReader>;

async function ask(io: CliIo, lines: Lines, prompt: string): Promise<string> {
  io.stderr.write(`${prompt}: `);
  const line = await lines.next();
  if (line === null) {
    io.stderr.write('\n');
    throw appError('validation_failed', 'no answer given: standard input ended (the challenge stays open until it times out)');
  }
  return line.trim();
}

/** What to send back to a waiting challenge: a code, or the answers to security questions. */
async function responseTo(io: CliIo, lines: Lines, answer: AuthAnswer): Promise<MethodResponse> {
  const fallback = answer.fallback ?? [];
  const questions = answer.questions ?? [];
  const canAnswerQuestions = questions.length > 0 && (fallback.length === 0 || fallback.includes('questions'));
  const canGiveCode = fallback.length === 0 ? questions.length === 0 : fallback.includes('oath');
  if (canGiveCode) {
    const prompt = answer.prompt ?? 'Enter the code';
    const code = await ask(io, lines, canAnswerQuestions ? `${prompt} (leave empty to answer the security questions)` : prompt);
    if (code !== '' || !canAnswerQuestions) return { passcode: code };
  }
  if (!canAnswerQuestions) throw appError('validation_failed', `cannot answer this challenge from the terminal (${answer.status_msg})`);
  if (!canGiveCode && answer.prompt) io.stderr.write(`${answer.prompt}\n`);
  const answers: Record<string, string> = {};
  for (const question of questions) answers[question.id] = await ask(io, lines, question.text);
  return { answers };
}

/** The application to authenticate as: the one named, or the CLI's own, registered on first use. */
async function applicationFor(runtime: Runtime, name: string | undefined): Promise<AuthenticatedApplication> {
  if (name !== undefined) {
    const application = await runtime.applications.get(name);
    if (!application.enabled) throw appError('validation_failed', `application ${application.name} is disabled`);
    return { id: application.id, name: application.name };
  }
  for (let attempt = 0; ; attempt += 1) {
    try {
      const application = await runtime.applications.get(CLI_APPLICATION);
      return { id: application.id, name: application.name };
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== 'application_not_found') throw error;
    }
    try {
      // The secret is not needed: the CLI calls the engine in-process.
      const { application } = await runtime.applications.create({ name: CLI_APPLICATION }, cliActor());
      return { id: application.id, name: application.name };
    } catch (error) {
      // Another run created it meanwhile: read it again.
      if (!(error instanceof AppError) || error.code !== 'application_name_taken' || attempt > 0) throw error;
    }
  }
}

/** "SUCCESS_OATH_CODE_VERIFIED (successfully completed)", or the reason when there is no result code. */
function outcomeText(answer: Pick<AuthAnswer, 'result_code' | 'detail' | 'status_msg'>): string {
  const head = answer.result_code ?? answer.status_msg;
  return answer.detail && answer.detail !== head ? `${head} (${answer.detail})` : head;
}

function methodsText(preauth: PreauthAnswer): string {
  return preauth.methods.map((method) => (method.devices.length > 0 ? `${method.method} (${method.devices.map((device) => device.name).join(', ')})` : method.method)).join(', ');
}

async function authenticate(io: CliIo, runtime: Runtime, username: string, flags: AuthFlags, json: boolean): Promise<AuthAnswer | PreauthAnswer> {
  const application = await applicationFor(runtime, flags.app);
  const request: AuthRequest = { username, application, ip: flags.ip ?? null, authType: flags.authType, entryPoint: 'cli' };
  const { engine } = runtime;
  const preauth = await engine.preauth(request);
  if (preauth.result !== 'auth') return preauth;
  if (!json) io.stdout.write(`methods: ${methodsText(preauth)}\n`);
  const lines = lineReader(io.stdin);
  try {
    let answer = await engine.auth({ ...request, factor: flags.factor, ...(flags.code !== undefined ? { passcode: flags.code } : {}) });
    while (answer.result === 'waiting' && answer.txid) {
      if (!answer.prompt && !answer.fallback && !answer.questions) {
        // Nothing to type: an out-of-band method. Wait for its result.
        if (answer.number && !json) io.stderr.write(`number: ${answer.number} (type it into the authenticator app)\n`);
        answer = await engine.status(application, answer.txid, runtime.config.auth.challengeTimeoutSeconds * 1000);
        continue;
      }
      answer = await engine.respond(application, answer.txid, await responseTo(io, lines, answer));
    }
    return answer;
  } finally {
    lines.close();
  }
}

export function authCommand(io: CliIo, globals: () => GlobalOptions): Command {
  return new Command('auth')
    .description('try an authentication from the terminal, through the engine as an application would (entry point cli)')
    .argument('<username>', 'the user to authenticate')
    .option('--app <name>', `authenticate as this registered application (default: "${CLI_APPLICATION}", registered on first use)`)
    .option('--code <passcode>', 'the OATH code (PIN first in PIN mode); without it the code is asked for on the terminal')
    .option('--ip <address>', "the end user's IP address, as an application would pass it")
    .option('--auth-type <type>', 'kind of sign-in (part of the authentication cache keys)', 'cli')
    .addOption(new Option('--factor <method>', "the method to use; auto: the user's default, else the first registered").choices(['auto', ...METHOD_NAMES]).default('auto'))
    .action(async (username: string, flags: AuthFlags) => {
      if (flags.ip !== undefined && isIP(flags.ip) === 0) throw appError('validation_failed', `--ip: ${flags.ip} is not an IPv4 or IPv6 address`, { field: 'ip' });
      if (!AUTH_TYPE.test(flags.authType)) throw appError('validation_failed', '--auth-type: 1 to 32 letters, digits, ".", "_" or "-"', { field: 'auth_type' });
      const json = Boolean(globals().json);
      const answer = await withRuntime(io, globals(), (runtime) => authenticate(io, runtime, username, flags, json));
      const allowed = answer.result === 'allow';
      if (json) printJson(io, answer);
      else io.stdout.write(`${allowed ? 'allowed' : answer.result === 'enroll' ? 'enroll' : 'denied'}: ${outcomeText(answer)}\n`);
      // A denied authentication (or one that sends the user to register a method) is a result, not an error: one normal line and exit 1.
      if (!allowed) io.exitCode = 1;
    });
}
