// The e2e API scenarios in a desktop VS Code that @vscode/test-electron downloads: for developers and hosted CI
// that can reach VS Code's download server. The project's CI machines cannot (see
// shared/notes/real-vscode-e2e.md); there `npm run test:e2e` runs the same scenarios in code-server.
//
//   npm run test:electron                    builds, downloads VS Code 1.100.3 into .vscode-test/ once, runs
//   VSCODE_VERSION=stable npm run test:electron
//   xvfb-run -a npm run test:electron        on Linux without a display
//
// Each scenario gets a fresh workspace and user-data-dir and its own VS Code; the suite (suite/index.ts) runs
// in that VS Code's extension host and calls Agent Learning's API through the same plan runner and checks as the
// code-server suite (test/e2e/scenarios.ts, test/e2e/agent-extension/planRunner.js).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { build } from 'esbuild';
import { ELECTRON_SCENARIOS } from './suite/scenarioNames';

const REPO_ROOT = path.resolve(__dirname, '../../..');

async function main(): Promise<number> {
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist/extension.js'))) {
    throw new Error('dist/extension.js is missing: run `npm run build` first (npm run test:electron does).');
  }
  // The extension host loads the suite with require(): bundle it to CommonJS (mocha and sql.js stay external,
  // resolved from the repository's node_modules).
  const suite = path.join(REPO_ROOT, 'out/e2e-electron/suite.js');
  await build({
    entryPoints: [path.join(__dirname, 'suite/index.ts')],
    outfile: suite,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    external: ['vscode', 'mocha', 'sql.js'],
    logLevel: 'warning',
  });

  let failed = 0;
  for (const scenario of ELECTRON_SCENARIOS) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `al-e2e-electron-${scenario}-`));
    const workspace = path.join(root, 'workspace');
    fs.mkdirSync(workspace);
    try {
      await runTests({
        version: process.env.VSCODE_VERSION ?? '1.100.3',
        extensionDevelopmentPath: REPO_ROOT,
        extensionTestsPath: suite,
        launchArgs: [
          workspace,
          '--user-data-dir',
          path.join(root, 'user-data'),
          '--disable-extensions',
          '--disable-workspace-trust',
          '--skip-welcome',
          '--skip-release-notes',
        ],
        extensionTestsEnv: {
          AGENT_LEARNING_E2E_SCENARIO: scenario,
          AGENT_LEARNING_E2E_NODE: process.execPath,
          AGENT_LEARNING_E2E_CLI: path.join(REPO_ROOT, 'dist/cli.js'),
        },
      });
      fs.rmSync(root, { recursive: true, force: true });
    } catch (err) {
      failed++;
      console.error(`Scenario ${scenario} failed (workspace kept: ${workspace}): ${String(err)}`);
    }
  }
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
