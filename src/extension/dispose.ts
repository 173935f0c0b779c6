// Ownership of disposables: a class registers what it creates and disposes it all once, as VS Code's own markdown
// extension does (extensions/markdown-language-features/src/util/dispose.ts).

import type * as vscode from 'vscode';

/** Disposes every item, last registered first, and empties the list. */
export function disposeAll(disposables: vscode.Disposable[]): void {
  while (disposables.length) disposables.pop()!.dispose();
}

export abstract class Disposable implements vscode.Disposable {
  private disposed = false;
  private readonly disposables: vscode.Disposable[] = [];

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeAll(this.disposables);
  }

  protected get isDisposed(): boolean {
    return this.disposed;
  }

  /** Keeps `value` until this is disposed; one registered after that is disposed at once. */
  protected _register<T extends vscode.Disposable>(value: T): T {
    if (this.disposed) value.dispose();
    else this.disposables.push(value);
    return value;
  }
}
