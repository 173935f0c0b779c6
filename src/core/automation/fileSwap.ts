// Changes to files and folders that land whole or not at all: a deploy's staged files, a finished training's folder.

import * as fs from 'node:fs';

/** Renames and writes that can be undone together: a deploy either lands whole or leaves the files as they were. */
export class FileSwap {
  private readonly undo: (() => void)[] = [];
  private readonly held: string[] = [];

  move(from: string, to: string): void {
    this.hold(to);
    fs.renameSync(from, to);
    this.undo.push(() => fs.renameSync(to, from));
  }

  write(file: string, text: string): void {
    this.hold(file);
    // `wx`: a new file, never through a link raced into the place `hold` just emptied.
    fs.writeFileSync(file, text, { flag: 'wx' });
    this.undo.push(() => fs.rmSync(file, { force: true }));
  }

  commit(): void {
    for (const h of this.held) fs.rmSync(h, { recursive: true, force: true });
  }

  rollback(): void {
    for (const u of this.undo.splice(0).reverse()) u();
  }

  /** Whatever is at `target` is set aside, restored by rollback, deleted by commit. */
  private hold(target: string): void {
    if (!exists(target)) return;
    const aside = `${target}.undo-${this.held.length}`;
    fs.rmSync(aside, { recursive: true, force: true });
    fs.renameSync(target, aside);
    this.held.push(aside);
    this.undo.push(() => fs.renameSync(aside, target));
  }
}

/** Puts folder `from` in the place of `to`; the old `to` is removed only once the new one is there. */
export function replaceDir(from: string, to: string): void {
  const old = `${to}.old`;
  fs.rmSync(old, { recursive: true, force: true });
  if (exists(to)) fs.renameSync(to, old);
  fs.renameSync(from, to);
  fs.rmSync(old, { recursive: true, force: true });
}

/** Whether anything is at `file`, a link too, dangling or not (`existsSync` follows links: a dangling one is "absent"). */
function exists(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch {
    return false;
  }
}
