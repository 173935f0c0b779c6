import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'out/', 'demo-workspace/', '.vscode-test/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      // The core is a library for the extension host, the CLI and tests alike: it must never pull in vscode.
      'no-restricted-imports': ['error', { paths: ['vscode'] }],
    },
  },
  {
    files: ['src/webview/**/*.ts'],
    languageOptions: { globals: globals.browser },
    rules: {
      // Page code is bundled for the browser: no vscode, no Node, and only types from the protocol and zod, so
      // zod's runtime stays out of the webview bundles.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            'vscode',
            { name: 'zod', allowTypeImports: true, message: 'Import only types in webview code.' },
            { name: '../protocol', allowTypeImports: true, message: 'Import only types in webview code.' },
          ],
          patterns: [{ group: ['node:*'], message: 'Webview code runs in a browser.' }],
        },
      ],
    },
  },
  {
    // Injected into the Chromium test pages as source text.
    files: ['test/webview/support/*.js'],
    languageOptions: { globals: globals.browser },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
);
