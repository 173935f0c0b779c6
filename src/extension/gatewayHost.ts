// The gateway inside VS Code: started when `agentLearning.gateway.enabled` is on (or by the Start/Stop command),
// recording into the current folder's pipeline, its upstream key in SecretStorage (with the origin it was entered
// for), where it forwards and whom it lets in from user settings only, its state in the status bar.

import * as vscode from 'vscode';
import { describe } from '../core/errors';
import type { Completion } from '../core/gateway/capture';
import {
  Gateway,
  type CompleteOptions,
  type GatewayOptions,
  type GatewayRecorder,
  type UpstreamKey,
} from '../core/gateway/gateway';
import { normaliseHost, DEFAULT_OLLAMA_HOST } from '../core/automation/ollama';
import type { GatewayAccess } from '../core/workspace/gatewayConfig';
import { accessFromSettings, parseStoredKey, storedKey } from './gatewayAccess';
import { Disposable } from './dispose';
import type { LearningService } from './learningService';

/** The SecretStorage key of the OpenAI-compatible upstream's API key (JSON: the key and its origin). */
const API_KEY_SECRET = 'agentLearning.gateway.apiKey';

export class GatewayHost extends Disposable {
  private gateway: Gateway | undefined;
  /** complete()'s: never listens. */
  private inProcess: Gateway | undefined;
  /** `agentLearning.ollamaHost` as last read, and for which folder (undefined: not read since it last changed). */
  private ollamaHostRead:
    { folder: vscode.WorkspaceFolder | undefined; host: string | undefined } | undefined;
  private apiKey: UpstreamKey | undefined;
  /** The user-level gateway settings as last read; cleared when they change. */
  private accessRead: GatewayAccess | undefined;
  private readonly keyLoaded: Promise<void>;
  private readonly item = this._register(
    vscode.window.createStatusBarItem('agentLearning.gateway', vscode.StatusBarAlignment.Right, 99),
  );

  constructor(
    private readonly service: LearningService,
    private readonly secrets: vscode.SecretStorage,
    private readonly output: vscode.OutputChannel,
  ) {
    super();
    this.item.name = 'Agent Learning Gateway';
    this.item.command = 'agentLearning.toggleGateway';
    this._register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('agentLearning.gateway')) this.accessRead = undefined;
        if (e.affectsConfiguration('agentLearning.ollamaHost')) this.ollamaHostRead = undefined;
        if (e.affectsConfiguration('agentLearning.gateway.enabled')) void this.applySetting();
        else if (e.affectsConfiguration('agentLearning.gateway.bindAddress') && this.gateway)
          void this.restart();
      }),
    );
    this._register(secrets.onDidChange((e) => e.key === API_KEY_SECRET && void this.loadKey()));
    this.keyLoaded = this.loadKey().catch(() => undefined);
    this.update();
  }

  /** Starts the gateway when the setting says so; called once the service has a folder. */
  async applySetting(): Promise<void> {
    const enabled = vscode.workspace.getConfiguration('agentLearning').get<boolean>('gateway.enabled', false);
    if (enabled) await this.start();
    else await this.stop();
  }

  async toggle(): Promise<void> {
    if (this.gateway) await this.stop();
    else await this.start();
  }

  async start(): Promise<void> {
    if (this.gateway || !this.service.folder) return;
    if (!vscode.workspace.isTrusted) {
      // The gateway records into the workspace and runs its config's routing; the key and upstream are the user's.
      void vscode.window.showWarningMessage(
        'Agent Learning: the gateway starts only in a trusted workspace (it records and routes by its config).',
      );
      return;
    }
    let access: GatewayAccess;
    try {
      access = this.access();
    } catch (err) {
      void vscode.window.showErrorMessage(`Agent Learning: the gateway did not start: ${describe(err)}`);
      return;
    }
    await this.loadKey();
    try {
      // Made here: a host that is not a URL (agentLearning.ollamaHost) is reported like any other failure to start.
      const gateway = new Gateway(this.gatewayOptions(access));
      await gateway.start();
      this.gateway = gateway;
    } catch (err) {
      void vscode.window.showErrorMessage(`Agent Learning: ${describe(err)}`);
    }
    this.update();
  }

  /**
   * For VS Code's chat models: a completion through the gateway's routing, forwarding and recording (in the current
   * folder's pipeline, which it opens), whether or not the HTTP gateway is listening.
   */
  async complete(request: Record<string, unknown>, options: CompleteOptions): Promise<Completion> {
    await this.keyLoaded;
    this.inProcess ??= new Gateway(this.gatewayOptions(this.access()));
    return this.inProcess.complete(request, options);
  }

  /** The gateway's recorder, upstreams, key and log, shared by the listening gateway and complete(). */
  private gatewayOptions(access: GatewayAccess): GatewayOptions {
    const service = this.service;
    // Through the service at each call, so a switch of folder records into the new folder's pipeline. Starting
    // the gateway is a request to record: it opens the pipeline, creating .agent/ if need be.
    const recorder: GatewayRecorder = {
      recordRun: (...args) => service.openPipeline().recordRun(...args),
      selectModel: (...args) => service.openPipeline().selectModel(...args),
      selectPrompt: (role) => service.openPipeline().selectPrompt(role),
      getConfig: () => service.openPipeline().getConfig(),
      roles: () => service.openPipeline().roles(),
    };
    let last = access;
    return {
      recorder,
      // Read again after each change of the setting, like `access`: the next request goes to the new host.
      ollamaHost: () => this.ollamaHost(),
      // Read again after each change of the settings, so a change applies at once (not at each request: reading
      // them costs a request tens of microseconds); an invalid URL typed meanwhile keeps the last good one.
      access: () => {
        if (this.accessRead) return this.accessRead;
        try {
          last = this.accessRead = this.access();
        } catch {
          // Reported when the gateway next starts.
        }
        return last;
      },
      apiKey: () => this.apiKey,
      onKeyWithheld: (origin) => void this.offerKey(origin),
      log: (line) => this.output.appendLine(line),
    };
  }

  async stop(): Promise<void> {
    const gateway = this.gateway;
    this.gateway = undefined;
    this.update();
    await gateway?.stop();
  }

  /**
   * Asks for the OpenAI-compatible upstream's key and keeps it in SecretStorage with the origin it is for (`origin`,
   * or that of agentLearning.gateway.openaiBaseUrl now): the gateway sends it to that origin only. Empty: remove it.
   */
  async setApiKey(origin?: string): Promise<void> {
    let target = origin;
    if (target === undefined) {
      try {
        target = this.upstreamOrigin(this.access());
      } catch (err) {
        void vscode.window.showErrorMessage(`Agent Learning: ${describe(err)}`);
        return;
      }
    }
    const key = await vscode.window.showInputBox({
      title: `API key for ${target} (the gateway sends it there only)`,
      prompt:
        'Kept in VS Code’s secret storage; never written to .agent/ or the log. Sent only to this origin ' +
        '(agentLearning.gateway.openaiBaseUrl in your user settings). Leave empty to remove it.',
      password: true,
      ignoreFocusOut: true,
    });
    if (key === undefined) return;
    if (key === '') await this.secrets.delete(API_KEY_SECRET);
    else await this.secrets.store(API_KEY_SECRET, storedKey(key, target));
    await this.loadKey();
  }

  override dispose(): void {
    void this.stop();
    this.inProcess?.dispose();
    super.dispose();
  }

  private async loadKey(): Promise<void> {
    this.apiKey = parseStoredKey(await this.secrets.get(API_KEY_SECRET));
  }

  private async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** The user-level values only: a workspace's .vscode/settings.json must not choose where the key goes. */
  private access(): GatewayAccess {
    const config = vscode.workspace.getConfiguration('agentLearning.gateway');
    return accessFromSettings((key) => {
      const value = config.inspect(key);
      return value?.globalValue ?? value?.defaultValue;
    });
  }

  /** The current folder's `agentLearning.ollamaHost`, read again once it or the folder changed. */
  private ollamaHost(): string | undefined {
    const folder = this.service.folder;
    if (!this.ollamaHostRead || this.ollamaHostRead.folder !== folder) {
      const host = vscode.workspace.getConfiguration('agentLearning', folder).get<string>('ollamaHost');
      this.ollamaHostRead = { folder, host: host || undefined };
    }
    return this.ollamaHostRead.host;
  }

  /** Where `/v1` requests go: the user's openaiBaseUrl, else the Ollama host's own OpenAI-compatible API. */
  private upstreamOrigin(access: GatewayAccess): string {
    return new URL(access.openaiBaseUrl ?? `${normaliseHost(this.ollamaHost() || DEFAULT_OLLAMA_HOST)}/v1`)
      .origin;
  }

  /** The key was entered for another origin than the one requests now go to: it was not sent; offer to set it. */
  private async offerKey(origin: string): Promise<void> {
    const action = `Set Key for ${origin}`;
    const picked = await vscode.window.showWarningMessage(
      `Agent Learning: the gateway's API key was entered for another upstream, so it was not sent to ${origin} ` +
        '(agentLearning.gateway.openaiBaseUrl). Enter the key for this origin to send it there.',
      action,
    );
    if (picked === action) await this.setApiKey(origin);
  }

  private update(): void {
    const url = this.gateway?.url;
    if (url) {
      this.item.text = `$(radio-tower) Gateway :${this.gateway!.port}`;
      this.item.tooltip = `Agent Learning gateway on ${url} (OpenAI: ${url}/v1, Ollama: ${url}). Click to stop.`;
      this.item.show();
    } else if (vscode.workspace.getConfiguration('agentLearning').get<boolean>('gateway.enabled', false)) {
      this.item.text = '$(debug-disconnect) Gateway off';
      this.item.tooltip = 'The Agent Learning gateway is not running. Click to start it.';
      this.item.show();
    } else {
      this.item.hide();
    }
  }
}
