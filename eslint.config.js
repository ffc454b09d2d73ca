import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    files: ['src/modules/**/*.ts', 'src/storage/**/*.ts', 'src/shared/**/*.ts'],
    rules: {
      // Dependencies point one way: modules and storage never import a protocol or the CLI.
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/protocols/**', '**/cli/**'], message: 'modules must not depend on protocols or the CLI' }] }],
    },
  },
  { files: ['bin/*.js', 'eslint.config.js', 'bench/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
