import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LAYERS = 'import-x/no-restricted-paths';
const CONFIG_TYPES = '@typescript-eslint/no-restricted-imports';

/**
 * Each layer rule of eslint.config.js (docs/architecture.md, "Layers") is
 * shown to bite: a small text in a file of the layer imports across the
 * boundary and `npm run lint` would refuse it; the import the layer may make
 * next to it passes, so a rule that refused everything would fail here too.
 * The files need not exist (their imports must: the rules work on resolved
 * paths), so types are not checked.
 */
const cases: { layer: string; file: string; code: string; refused: string | null }[] = [
  { layer: 'shared', file: 'src/shared/probe.ts', code: "import type { Db } from '../storage/database.js';\nexport type X = Db;\n", refused: LAYERS },
  { layer: 'shared', file: 'src/shared/probe.ts', code: "import { AppError } from './errors.js';\nexport const x = AppError;\n", refused: null },
  { layer: 'storage', file: 'src/storage/probe.ts', code: "import type { Config } from '../config/schema.js';\nexport type X = Config;\n", refused: LAYERS },
  { layer: 'storage', file: 'src/storage/probe.ts', code: "import { Directory } from '../modules/directory/directory.js';\nexport const x = Directory;\n", refused: LAYERS },
  { layer: 'storage', file: 'src/storage/probe.ts', code: "import { AppError } from '../shared/errors.js';\nexport const x = AppError;\n", refused: null },
  { layer: 'config', file: 'src/config/probe.ts', code: "import { Templates } from '../modules/telephony/templates.js';\nexport const x = Templates;\n", refused: LAYERS },
  { layer: 'config', file: 'src/config/probe.ts', code: "import { openStorage } from '../storage/database.js';\nexport const x = openStorage;\n", refused: LAYERS },
  { layer: 'config', file: 'src/config/probe.ts', code: "import { AppError } from '../shared/errors.js';\nexport const x = AppError;\n", refused: null },
  { layer: 'modules', file: 'src/modules/audit/probe.ts', code: "import { buildHttpApp } from '../../protocols/http/app.js';\nexport const x = buildHttpApp;\n", refused: LAYERS },
  { layer: 'modules', file: 'src/modules/audit/probe.ts', code: "import { buildProgram } from '../../cli/program.js';\nexport const x = buildProgram;\n", refused: LAYERS },
  { layer: 'modules', file: 'src/modules/audit/probe.ts', code: "import type { Runtime } from '../../main.js';\nexport type X = Runtime;\n", refused: LAYERS },
  { layer: 'modules', file: 'src/modules/audit/probe.ts', code: "import { loadConfig } from '../../config/load.js';\nexport const x = loadConfig;\n", refused: CONFIG_TYPES },
  { layer: 'modules', file: 'src/modules/audit/probe.ts', code: "import { ConfigSchema } from '../../config/schema.js';\nexport const x = ConfigSchema;\n", refused: CONFIG_TYPES },
  { layer: 'modules', file: 'src/modules/audit/probe.ts', code: "import type { Config } from '../../config/schema.js';\nimport type { Db } from '../../storage/database.js';\nexport type X = [Config, Db];\n", refused: null },
  { layer: 'protocols', file: 'src/protocols/http/routes/probe.ts', code: "import type { UserRow } from '../../../storage/schema.js';\nexport type X = UserRow;\n", refused: LAYERS },
  { layer: 'protocols', file: 'src/protocols/http/routes/probe.ts', code: "import { buildProgram } from '../../../cli/program.js';\nexport const x = buildProgram;\n", refused: LAYERS },
  { layer: 'protocols', file: 'src/protocols/http/routes/probe.ts', code: "import { isUnstorableText } from '../../../storage/errors.js';\nimport type { Runtime } from '../../../main.js';\nexport const x: [unknown, Runtime?] = [isUnstorableText];\n", refused: null },
  { layer: 'cli', file: 'src/cli/commands/probe.ts', code: "const app = () => import('../../protocols/http/app.js');\nexport const x = app;\n", refused: LAYERS },
  { layer: 'cli', file: 'src/cli/commands/serve.ts', code: "import { sendProblem } from '../../protocols/http/problem.js';\nexport const x = sendProblem;\n", refused: LAYERS },
  { layer: 'cli', file: 'src/cli/commands/serve.ts', code: "const app = () => import('../../protocols/http/app.js');\nexport const x = app;\n", refused: null },
  { layer: 'cli', file: 'src/cli/commands/probe.ts', code: "import { buildRuntime } from '../../main.js';\nimport { openStorage } from '../../storage/database.js';\nexport const x = [buildRuntime, openStorage];\n", refused: null },
  { layer: 'authenticator', file: 'src/authenticator/probe.ts', code: "import { openStorage } from '../storage/database.js';\nexport const x = openStorage;\n", refused: LAYERS },
  { layer: 'authenticator', file: 'src/authenticator/probe.ts', code: "import { buildRuntime } from '../main.js';\nexport const x = buildRuntime;\n", refused: LAYERS },
  { layer: 'authenticator', file: 'src/authenticator/probe.ts', code: "import { signParts } from '../modules/methods/app/protocol.js';\nexport const x = signParts;\n", refused: null },
  { layer: 'main.ts', file: 'src/main.ts', code: "import { buildProgram } from './cli/program.js';\nexport const x = buildProgram;\n", refused: LAYERS },
  { layer: 'main.ts', file: 'src/main.ts', code: "import { buildHttpApp } from './protocols/http/app.js';\nimport { loadConfig } from './config/load.js';\nexport const x = [buildHttpApp, loadConfig];\n", refused: null },
];

describe('the layer rules of npm run lint', () => {
  let eslint: ESLint;
  beforeAll(() => {
    eslint = new ESLint({ cwd: ROOT, overrideConfig: [{ files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked }] });
  });

  it('import files that exist, so that a rule that never resolves cannot pass unnoticed', () => {
    const targets = new Set(cases.flatMap(({ file, code }) => [...code.matchAll(/'(\.[^']+)\.js'/g)].map((match) => fileURLToPath(new URL(`${match[1]}.ts`, new URL(file, `file://${ROOT}/`))))));
    expect([...targets].filter((target) => !existsSync(target))).toEqual([]);
  });

  const named = cases.map((test) => ({ ...test, name: `${test.file} ${test.refused ? 'may not import' : 'may import'} ${[...test.code.matchAll(/'(\.[^']+)'/g)].map((match) => match[1]).join(' and ')}` }));
  it.each(named)('$layer: $name', async ({ file, code, refused }) => {
    const [result] = await eslint.lintText(code, { filePath: `${ROOT}/${file}` });
    const layerErrors = result!.messages.filter((message) => message.ruleId === LAYERS || message.ruleId === CONFIG_TYPES || message.fatal);
    if (refused === null) expect(layerErrors).toEqual([]);
    else expect(layerErrors.map((message) => message.ruleId)).toEqual([refused]);
  });
});
