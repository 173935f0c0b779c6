import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** A folder of src/core that may not import `forbidden` (gitignore-style patterns of relative imports). */
function coreLayer(folder, why, forbidden) {
  return [
    {
      files: [`src/core/${folder}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            paths: ['vscode'],
            patterns: [{ group: forbidden, message: `src/core/${folder}/ ${why} (see README, Layout).` }],
          },
        ],
      },
    },
  ];
}

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
    files: ['src/**/*.ts'],
    rules: {
      // zod's `z` export is an object holding all of zod, every locale included: the bundles kept all of it (0.55 MB
      // and 6 MiB of RSS in each process). The namespace import lets esbuild keep only what is used.
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "ImportDeclaration[source.value='zod'] > ImportSpecifier, ImportDeclaration[source.value='zod'] > ImportDefaultSpecifier",
          message: "Import zod as `import * as z from 'zod'`: its `z` and default exports bundle all of zod.",
        },
      ],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      // The core is a library for the extension host, the CLI and tests alike: it must never pull in vscode.
      'no-restricted-imports': ['error', { paths: ['vscode'] }],
    },
  },
  // The core's layering (README, "Layout"): each stage folder imports only the stages below it. `patterns` match
  // the import as written, so each rule lists the relative forms a file in that folder would use.
  ...coreLayer('convert', 'converts model files: it needs only errors, atomicFile and itself', [
    '../*',
    '!../errors',
    '!../workspace',
    '../workspace/*',
    '!../workspace/atomicFile',
  ]),
  ...coreLayer('web', 'fetches web knowledge: errors and workspace only', [
    '../*',
    '!../errors',
    '!../workspace',
  ]),
  ...coreLayer('store', 'stores: it never reaches up to automation, export, the web or the pipeline', [
    '../automation/*',
    '../dataset/*',
    '../web/*',
    '../convert/*',
    '../pipeline',
  ]),
  ...coreLayer('learning', 'is the learning logic: no automation, export, web, conversion or pipeline', [
    '../automation/*',
    '../dataset/*',
    '../web/*',
    '../convert/*',
    '../pipeline',
  ]),
  ...coreLayer('dataset', 'exports datasets: no automation, web, conversion or pipeline', [
    '../automation/*',
    '../web/*',
    '../convert/*',
    '../pipeline',
  ]),
  ...coreLayer('workspace', 'holds the workspace files: nothing from the stages that use them', [
    '../store/*',
    '../dataset/*',
    '../web/*',
    '../convert/*',
    '../pipeline',
  ]),
  {
    files: ['src/core/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: ['vscode'],
          patterns: [
            {
              group: ['**/extension/*', '**/cli/*', '**/webview/*'],
              message: 'The core never imports its hosts.',
            },
          ],
        },
      ],
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
