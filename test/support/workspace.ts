// A throwaway workspace folder with `.agent/` for tests that drive the pipeline through real files.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function makeWorkspace(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'al-'));
}

export function removeWorkspace(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes `.agent/<name>` (creating `.agent/`); objects are written as pretty JSON. */
export function writeAgentFile(workspace: string, name: string, content: string | object): string {
  const file = path.join(workspace, '.agent', name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}
