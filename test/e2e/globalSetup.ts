// Mocha global fixtures for the code-server suite: once per run, package the test agent and install it with
// the freshly packaged agent-learning.vsix (`npm run package`) into one extensions dir that every session reads.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { installExtensions, removeExtensionsDir } from './codeServer';
import { EXTENSIONS_DIR_ENV, MAIN_VSIX, packageAgentExtension } from './fixtures';

let workDir: string | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  if (!fs.existsSync(MAIN_VSIX)) {
    throw new Error(`${MAIN_VSIX} is missing: run \`npm run package\` first (npm run test:e2e does).`);
  }
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-e2e-vsix-'));
  const agentVsix = packageAgentExtension(workDir);
  // Agent Learning first: the test agent depends on it, and code-server cannot fetch it from a gallery.
  process.env[EXTENSIONS_DIR_ENV] = await installExtensions([MAIN_VSIX, agentVsix]);
}

export function mochaGlobalTeardown(): void {
  const dir = process.env[EXTENSIONS_DIR_ENV];
  if (dir) removeExtensionsDir(dir);
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
}
