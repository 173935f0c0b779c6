// The deployed tuned models and the router's aliases as chat models in VS Code's model picker (the language-model
// chat provider API, VS Code 1.104+). Each request goes through the gateway's routing, forwarding and recording
// (GatewayHost.complete), so it becomes a run with source `chat`, as a gateway run would. On an older VS Code, or
// in an untrusted workspace, the models are absent and the output channel says why, once.

import * as vscode from 'vscode';
import { describe } from '../core/errors';
import {
  CHAT_VENDOR,
  chatHeaders,
  chatModels,
  chatRequestBody,
  estimateTokens,
  toolCallsOf,
  whyNoChatModels,
  type ChatMessageLike,
  type ChatModel,
} from '../core/gateway/chatModels';
import { Disposable } from './dispose';
import type { GatewayHost } from './gatewayHost';
import type { LearningService } from './learningService';

// The provider API as @types/vscode 1.104 declares it: engines.vscode stays ^1.100.0 (the rest of the extension
// runs there), so the types come from here and the function is looked up at run time.
interface ChatInformation {
  readonly id: string;
  readonly name: string;
  readonly family: string;
  readonly tooltip?: string;
  readonly detail?: string;
  readonly version: string;
  readonly maxInputTokens: number;
  readonly maxOutputTokens: number;
  readonly capabilities: { readonly imageInput?: boolean; readonly toolCalling?: boolean | number };
}

interface ChatRequestMessage {
  readonly role: vscode.LanguageModelChatMessageRole;
  readonly content: readonly unknown[];
  readonly name: string | undefined;
}

interface ChatResponseOptions {
  readonly modelOptions?: { readonly [name: string]: unknown };
  readonly tools?: readonly vscode.LanguageModelChatTool[];
  readonly toolMode: vscode.LanguageModelChatToolMode;
}

type ResponsePart = vscode.LanguageModelTextPart | vscode.LanguageModelToolCallPart;

interface ChatProvider {
  readonly onDidChangeLanguageModelChatInformation?: vscode.Event<void>;
  provideLanguageModelChatInformation(
    options: { readonly silent: boolean },
    token: vscode.CancellationToken,
  ): vscode.ProviderResult<ChatInformation[]>;
  provideLanguageModelChatResponse(
    model: ChatInformation,
    messages: readonly ChatRequestMessage[],
    options: ChatResponseOptions,
    progress: vscode.Progress<ResponsePart>,
    token: vscode.CancellationToken,
  ): Thenable<void>;
  provideTokenCount(
    model: ChatInformation,
    text: string | ChatRequestMessage,
    token: vscode.CancellationToken,
  ): Thenable<number>;
}

type RegisterProvider = (vendor: string, provider: ChatProvider) => vscode.Disposable;

/** `vscode.lm.registerLanguageModelChatProvider` where this VS Code has it (1.104+). */
function registerFunction(): RegisterProvider | undefined {
  const lm = vscode.lm as unknown as { registerLanguageModelChatProvider?: RegisterProvider };
  return typeof lm.registerLanguageModelChatProvider === 'function'
    ? lm.registerLanguageModelChatProvider.bind(vscode.lm)
    : undefined;
}

export class ChatModelProvider extends Disposable implements ChatProvider {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeLanguageModelChatInformation = this.changed.event;
  private registered = false;
  /** The reason last written, so it is said once. */
  private told: string | undefined;
  /** The ids last offered, joined. */
  private lastListed = '';

  constructor(
    private readonly service: LearningService,
    private readonly gateway: GatewayHost,
    private readonly output: vscode.OutputChannel,
  ) {
    super();
    // A deploy, a rollback, a new role or a switch of folder changes the list; a run alone does not, and VS Code
    // asks for the whole list again at each event.
    this._register(
      service.onDidChange(() => {
        if (!this.registered) return;
        const ids = this.listed();
        if (ids === this.lastListed) return;
        this.lastListed = ids;
        this.changed.fire();
      }),
    );
    this._register(vscode.workspace.onDidGrantWorkspaceTrust(() => this.register()));
  }

  /** Registers the models where the API exists and the workspace is trusted; otherwise says why they are absent. */
  register(): void {
    if (this.registered) return;
    const register = registerFunction();
    const absent = whyNoChatModels(vscode.version, register !== undefined, vscode.workspace.isTrusted);
    if (!register || absent !== undefined) {
      if (absent !== undefined && absent !== this.told) this.output.appendLine(absent);
      this.told = absent;
      return;
    }
    this.registered = true;
    this._register(register(CHAT_VENDOR, this));
    this.output.appendLine(
      '💬 Chat models: the router and the deployed tuned models are in the chat model picker.',
    );
  }

  private models(): ChatModel[] {
    // Listing models is no request to record: without .agent/ the defaults stand and no pipeline is opened.
    const pipeline = this.service.hasPipeline ? this.service.pipeline : undefined;
    const config = pipeline?.getConfig().config;
    return chatModels({
      variants: pipeline?.modelVariants() ?? [],
      prefix: config?.autoDeploy.modelNamePrefix ?? CHAT_VENDOR,
      roles: pipeline?.roles() ?? [],
      defaultRole: config?.gateway.defaultRole ?? 'coder',
    });
  }

  private listed(): string {
    try {
      return this.models()
        .map((m) => m.id)
        .join('\n');
    } catch {
      return this.lastListed;
    }
  }

  provideLanguageModelChatInformation(): ChatInformation[] {
    try {
      const models = this.models();
      this.lastListed = models.map((m) => m.id).join('\n');
      return models.map(({ role: _role, ...info }) => info);
    } catch (err) {
      this.output.appendLine(`❌ Chat models: could not list them: ${describe(err)}`);
      return [];
    }
  }

  async provideLanguageModelChatResponse(
    info: ChatInformation,
    messages: readonly ChatRequestMessage[],
    options: ChatResponseOptions,
    progress: vscode.Progress<ResponsePart>,
    token: vscode.CancellationToken,
  ): Promise<void> {
    const model = this.models().find((m) => m.id === info.id);
    if (!model) throw new Error(`Agent Learning: the chat model ${info.id} is no longer offered.`);
    const abort = new AbortController();
    const cancel = token.onCancellationRequested(() => abort.abort());
    let streamed = false;
    try {
      const body = chatRequestBody(model.id, messages as readonly ChatMessageLike[], {
        tools: options.tools,
        toolMode: options.toolMode,
        modelOptions: options.modelOptions,
      });
      const completion = await this.gateway.complete(body, {
        source: 'chat',
        signal: abort.signal,
        headers: chatHeaders(model),
        onText: (text) => {
          streamed = true;
          progress.report(new vscode.LanguageModelTextPart(text));
        },
      });
      const content = completion.message.content;
      // An upstream that answered in one piece (no event stream) streamed nothing: its text now.
      if (!streamed && typeof content === 'string' && content !== '')
        progress.report(new vscode.LanguageModelTextPart(content));
      for (const call of toolCallsOf(completion.message)) {
        progress.report(new vscode.LanguageModelToolCallPart(call.callId, call.name, call.input));
      }
    } catch (err) {
      if (abort.signal.aborted) return;
      this.output.appendLine(`❌ Chat models: ${model.id}: ${describe(err)}`);
      throw new Error(`Agent Learning (${model.id}): ${describe(err)}`, { cause: err });
    } finally {
      cancel.dispose();
    }
  }

  async provideTokenCount(_model: ChatInformation, text: string | ChatRequestMessage): Promise<number> {
    if (typeof text === 'string') return estimateTokens(text);
    return estimateTokens(JSON.stringify(text.content));
  }
}
