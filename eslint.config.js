import js from '@eslint/js';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/ and what each may not import (docs/architecture.md,
 * "Layers"). Paths are resolved, so `../../config/load.js` from a module and
 * `./config/load.js` from main.ts are the same file; a type-only import
 * counts like any other, except where a rule below says so.
 */
const LAYER_ZONES = [
  { target: 'src/shared', from: ['src/storage', 'src/config', 'src/modules', 'src/protocols', 'src/cli', 'src/authenticator', 'src/main.ts'], message: 'shared/ is used by every layer and imports only shared/.' },
  { target: 'src/storage', from: ['src/config', 'src/modules', 'src/protocols', 'src/cli', 'src/authenticator', 'src/main.ts'], message: 'storage/ imports only shared/ and storage/: it is given what it needs (StorageOptions), and modules call it, never the other way round.' },
  { target: 'src/config', from: ['src/storage', 'src/modules', 'src/protocols', 'src/cli', 'src/authenticator', 'src/main.ts'], message: 'config/ imports only shared/: a file a setting names is checked by the module that owns its format, at start-up (main.ts).' },
  { target: 'src/modules', from: ['src/protocols', 'src/cli', 'src/authenticator', 'src/main.ts'], message: 'modules never depend on a front end (protocols, the CLI) or on the composition root: they receive what they need in their constructor.' },
  { target: 'src/protocols', from: ['src/cli', 'src/authenticator'], message: 'a protocol is a front end of its own: it calls modules, not the CLI.' },
  { target: 'src/protocols', from: 'src/storage/schema.ts', message: 'protocols see what modules return, not storage rows: use the module\'s type (or let the compiler infer it).' },
  // The CLI's serve command starts the HTTP front end (lazily, so other commands start without Fastify): that one import is allowed.
  { target: 'src/cli/**/!(serve).ts', from: ['src/protocols', 'src/authenticator'], message: 'the CLI is a front end beside the protocols, not on top of them (only serve starts the HTTP app).' },
  { target: 'src/cli/**/serve.ts', from: 'src/protocols', except: ['./http/app.ts'], message: 'serve starts the HTTP front end through its builder (protocols/http/app.ts) only.' },
  { target: 'src/cli/**/serve.ts', from: 'src/authenticator', message: 'the CLI does not use the authenticator client.' },
  { target: 'src/authenticator', from: ['src/storage', 'src/config', 'src/protocols', 'src/cli', 'src/main.ts'], message: 'the authenticator is a client of its own: it shares only shared/ and the modules\' pure protocol code (signatures, OTP) with the server.' },
  { target: 'src/main.ts', from: ['src/cli', 'src/authenticator'], message: 'the composition root builds the runtime the CLI starts; it does not import the programs that call it.' },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-control-regex': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/main.ts', 'src/authenticator/main.ts', 'src/**/*.test.ts'],
    rules: {
      // Only the process entry point reads the environment; everything else gets config.
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read configuration from Config, not process.env' }],
    },
  },
  {
    // Dependencies point one way: the layer rules, checked on resolved paths. Unit tests beside the code may reach across.
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Imports name the built file (`./x.js`); the source beside it is `x.ts`.
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json', '.node'], extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: LAYER_ZONES }],
      // An import the resolver cannot follow would pass the layer rules unchecked.
      'import-x/no-unresolved': 'error',
    },
  },
  {
    files: ['src/modules/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      // Modules get their configuration in their constructor: they may name its types, never load it.
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: ['**/config/*'], allowTypeImports: true, message: 'modules receive configuration in their constructor: import its types only (import type).' }] }],
    },
  },
  { files: ['bin/*.js', 'eslint.config.js', 'bench/*.mjs', 'test/helpers/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
