import { Command } from 'commander';
import type { AnswerInput, RegisteredQuestionView, SecurityQuestionView } from '../../modules/methods/questions/questions.js';
import { appError } from '../../shared/errors.js';
import { cliActor, withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { details, printJson, table } from '../output.js';

function printQuestion(io: CliIo, json: boolean | undefined, question: SecurityQuestionView): void {
  if (json) return printJson(io, question);
  io.stdout.write(
    details([['id', question.id], ['text', question.text], ['active', question.active], ['registered users', question.registered_users], ['created', question.created_at]]),
  );
}

function printRegistered(io: CliIo, json: boolean | undefined, items: RegisteredQuestionView[]): void {
  if (json) return printJson(io, { items });
  io.stdout.write(table(['question id', 'text', 'registered'], items.map((item) => [item.question_id, item.text, item.registered_at])));
}

/**
 * Parses "<question-id>=<answer>". The id holds no "=", so the first one
 * splits; the answer may contain more. Errors name the position, never the answer.
 */
export function parseAnswer(text: string, index: number): AnswerInput {
  const split = text.indexOf('=');
  if (split <= 0) throw appError('validation_failed', `--answer #${index + 1}: expected <question-id>=<answer>`, { field: `answers[${index}]` });
  return { question_id: text.slice(0, split).trim(), answer: text.slice(split + 1) };
}

async function readStdin(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
  return text;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function questionCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const question = new Command('question').description('manage security questions and users\' answers');
  const run = <T>(work: Parameters<typeof withRuntime<T>>[2]) => withRuntime(io, globals(), work);

  question
    .command('list')
    .description('list security questions')
    .option('--all', 'include inactive questions')
    .action(async (flags: { all?: boolean }) => {
      const items = await run((rt) => rt.securityQuestions.listQuestions({ includeInactive: flags.all ?? false }));
      if (globals().json) return printJson(io, { items });
      io.stdout.write(table(['id', 'active', 'users', 'text'], items.map((item) => [item.id, item.active ? 'yes' : 'no', item.registered_users, item.text])));
    });

  question
    .command('add <text>')
    .description('add a security question')
    .action(async (text: string) => printQuestion(io, globals().json, await run((rt) => rt.securityQuestions.addQuestion(text, cliActor()))));

  question
    .command('update <id> <text>')
    .description('reword a security question (answers already given stay)')
    .action(async (id: string, text: string) => printQuestion(io, globals().json, await run((rt) => rt.securityQuestions.updateQuestion(id, { text }, cliActor()))));

  question
    .command('disable <id>')
    .description('retire a question: no longer offered for registration; users who answered it keep it')
    .action(async (id: string) => printQuestion(io, globals().json, await run((rt) => rt.securityQuestions.updateQuestion(id, { active: false }, cliActor()))));

  question
    .command('enable <id>')
    .description('offer a retired question for registration again')
    .action(async (id: string) => printQuestion(io, globals().json, await run((rt) => rt.securityQuestions.updateQuestion(id, { active: true }, cliActor()))));

  question
    .command('remove <id>')
    .description('delete a security question (refused while users have answered it, unless --force)')
    .option('--force', "delete it even when users answered it, removing their answers")
    .action(async (id: string, flags: { force?: boolean }) => {
      await run((rt) => rt.securityQuestions.removeQuestion(id, cliActor(), { force: flags.force ?? false }));
      if (globals().json) printJson(io, { deleted: id });
      else io.stdout.write(`deleted security question ${id}\n`);
    });

  question
    .command('register <username>')
    .description("register a user's answers, replacing earlier ones (answers are stored hashed)")
    .option('--answer <id=answer>', 'a question id and its answer; repeat for each question (visible in shell history: prefer --stdin)', collect, [])
    .option('--stdin', 'read one <question-id>=<answer> per line from standard input')
    .action(async (username: string, flags: { answer: string[]; stdin?: boolean }) => {
      const lines = flags.stdin ? (await readStdin(io.stdin)).split(/\r?\n/).filter((line) => line.trim() !== '') : [];
      const answers = [...flags.answer, ...lines].map(parseAnswer);
      printRegistered(io, globals().json, await run((rt) => rt.securityQuestions.register(username, answers, cliActor())));
    });

  question
    .command('registered <username>')
    .description('show which questions a user answered (never the answers)')
    .action(async (username: string) => printRegistered(io, globals().json, await run((rt) => rt.securityQuestions.registered(username))));

  question
    .command('clear <username>')
    .description("remove a user's answers")
    .action(async (username: string) => {
      const removed = await run((rt) => rt.securityQuestions.clear(username, cliActor()));
      if (globals().json) printJson(io, { username, answers_removed: removed });
      else io.stdout.write(`removed ${removed} security answer(s) of ${username}\n`);
    });

  return question;
}
