import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliSandbox } from './helpers/cli.js';

type Sandbox = ReturnType<typeof cliSandbox>;

describe('countersign question', () => {
  let cli: Sandbox;
  beforeEach(() => {
    cli = cliSandbox();
  });
  afterEach(() => cli.dispose());

  const add = async (text: string): Promise<string> => {
    const result = await cli.run(['--json', 'question', 'add', text]);
    expect(result.code, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as { id: string }).id;
  };

  it('adds, lists, disables, enables and removes questions', async () => {
    const added = await cli.run(['question', 'add', 'Name of your first pet?']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/text\s+Name of your first pet\?/);
    expect(added.stdout).toMatch(/active\s+true/);
    const id = /^id\s+(\S+)$/m.exec(added.stdout)![1]!;

    expect((await cli.run(['question', 'list'])).stdout).toMatch(new RegExp(`^ID\\s+ACTIVE\\s+USERS\\s+TEXT\\n${id}\\s+yes\\s+0\\s+Name of your first pet\\?\\n$`));
    expect((await cli.run(['question', 'disable', id])).stdout).toMatch(/active\s+false/);
    expect((await cli.run(['question', 'list'])).stdout).toBe('ID  ACTIVE  USERS  TEXT\n');
    expect((await cli.run(['question', 'list', '--all'])).stdout).toMatch(new RegExp(`${id}\\s+no\\s+0`));
    expect((await cli.run(['question', 'enable', id])).stdout).toMatch(/active\s+true/);
    expect((await cli.run(['question', 'update', id, 'Your first pet?'])).stdout).toMatch(/text\s+Your first pet\?/);
    expect((await cli.run(['question', 'remove', id])).stdout).toBe(`deleted security question ${id}\n`);
    expect(await cli.run(['question', 'remove', id])).toMatchObject({ code: 1, stderr: `countersign: error: security question ${id} does not exist\n` });
    expect(await cli.run(['question', 'add', ' '])).toMatchObject({ code: 1, stderr: 'countersign: error: text: must be 1 to 256 printable characters\n' });
  });

  it('registers answers from options or standard input, shows only the questions, and clears them', async () => {
    const ids = [await add('Pet?'), await add('City?'), await add('School?')];
    expect((await cli.run(['user', 'add', 'ivy'])).code).toBe(0);

    const registered = await cli.run(['question', 'register', 'ivy', '--answer', `${ids[0]}=Biscuit`, '--answer', `${ids[1]}=Lisbon`, '--answer', `${ids[2]}=a=b`]);
    expect(registered.code, registered.stderr).toBe(0);
    expect(registered.stdout).toMatch(/^QUESTION ID\s+TEXT\s+REGISTERED\n/);
    expect(registered.stdout).not.toMatch(/biscuit|lisbon/i);
    expect((await cli.run(['question', 'list'])).stdout).toMatch(new RegExp(`${ids[0]}\\s+yes\\s+1\\s+Pet\\?`));

    const fromStdin = await cli.run(['--json', 'question', 'register', 'ivy', '--stdin'], `${ids[0]}=Rex\n\n${ids[1]}=Porto\r\n${ids[2]}=Central High\n`);
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect((JSON.parse(fromStdin.stdout) as { items: { question_id: string }[] }).items.map((item) => item.question_id)).toEqual(ids);

    const shown = await cli.run(['--json', 'question', 'registered', 'ivy']);
    expect(JSON.parse(shown.stdout)).toMatchObject({ items: [{ question_id: ids[0], text: 'Pet?' }, { text: 'City?' }, { text: 'School?' }] });
    expect(shown.stdout).not.toMatch(/rex|porto|central|argon/i);

    expect(await cli.run(['question', 'remove', ids[0]!])).toMatchObject({ code: 1, stderr: expect.stringMatching(/has answers from 1 user\(s\): deactivate it instead/) });
    expect((await cli.run(['question', 'clear', 'ivy'])).stdout).toBe('removed 3 security answer(s) of ivy\n');
    expect((await cli.run(['question', 'registered', 'ivy'])).stdout).toBe('QUESTION ID  TEXT  REGISTERED\n');
  });

  it('fails with one clear line that never repeats an answer', async () => {
    const ids = [await add('Pet?'), await add('City?'), await add('School?')];
    await cli.run(['user', 'add', 'ivy']);
    const malformed = await cli.run(['question', 'register', 'ivy', '--answer', 'Biscuit']);
    expect(malformed).toMatchObject({ code: 1, stderr: 'countersign: error: --answer #1: expected <question-id>=<answer>\n' });
    const tooFew = await cli.run(['question', 'register', 'ivy', '--answer', `${ids[0]}=Biscuit`]);
    expect(tooFew.stderr).toBe('countersign: error: answers: exactly 3 answers are required, one per question (got 1)\n');
    const short = await cli.run(['question', 'register', 'ivy', '--answer', `${ids[0]}=Biscuit`, '--answer', `${ids[1]}=Lisbon`, '--answer', `${ids[2]}=Q`]);
    expect(short.stderr).toMatch(/^countersign: error: answers\[2\]\.answer: answer must have at least 2 letters or digits/);
    expect(`${malformed.stderr}${tooFew.stderr}${short.stderr}`).not.toMatch(/biscuit|lisbon/i);
    expect(await cli.run(['question', 'register', 'nobody', '--answer', `${ids[0]}=Biscuit`, '--answer', `${ids[1]}=Lisbon`, '--answer', `${ids[2]}=Porto`])).toMatchObject({
      code: 1,
      stderr: 'countersign: error: user nobody does not exist\n',
    });
  });
});
