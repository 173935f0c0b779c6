// The `gateway` section of learning-config.json: the port the local OpenAI/Ollama-compatible gateway listens on and
// how it names the runs it records. Where it forwards, the address it binds and whom it lets in are the user's
// settings (GatewayAccess), never the workspace's. Kept apart so config.ts only references it.

import * as z from 'zod';
import { InvalidInputError } from '../errors';
import { COMPLEXITIES } from '../learning/runResult';
import { ROLE_PATTERN } from './names';

/**
 * 11434 is Ollama's, and 11435 is where people commonly run a second Ollama or another proxy; 11444 is near enough
 * to be remembered with Ollama's, unassigned by IANA and below every OS's ephemeral range.
 */
export const DEFAULT_GATEWAY_PORT = 11444;

/**
 * Settings that decide where requests and the upstream key go, and who may connect: the user's, never a repository's
 * (a cloned repository could otherwise send the key and every conversation to its own server). Refused here with
 * where to set them instead.
 */
const USER_ONLY: Record<string, { vscode: string; cli: string }> = {
  openaiBaseUrl: {
    vscode: 'agentLearning.gateway.openaiBaseUrl',
    cli: '--openai-base-url or AGENT_LEARNING_UPSTREAM_URL',
  },
  bindAddress: { vscode: 'agentLearning.gateway.bindAddress', cli: '--bind' },
  allowedHosts: { vscode: 'agentLearning.gateway.allowedHosts', cli: '--allow-host' },
  allowedOrigins: { vscode: 'agentLearning.gateway.allowedOrigins', cli: '--allow-origin' },
  apiKeyEnv: {
    vscode: '"Agent Learning: Set Gateway Upstream API Key"',
    cli: 'the AGENT_LEARNING_UPSTREAM_API_KEY environment variable',
  },
};

function userOnly(key: string) {
  const where = USER_ONLY[key]!;
  return z
    .never({
      error:
        `is not read from the workspace's config (a repository must not choose where your requests and key go); ` +
        `set it in your user settings (${where.vscode}) or, for agent-learning serve, with ${where.cli}`,
    })
    .optional()
    .describe(
      `Not read from the workspace's config (a repository must not choose where your requests and key go): ` +
        `set it with ${where.vscode} in VS Code, or ${where.cli} for agent-learning serve.`,
    );
}

export const gatewayConfigSchema = z
  .object({
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(DEFAULT_GATEWAY_PORT)
      .describe('TCP port the gateway listens on (0–65535); 0: any free port (the one chosen is logged).'),
    // Images arrive base64-encoded, hence 32 MiB.
    maxBodyBytes: z
      .number()
      .int()
      .positive()
      .default(32 * 1024 * 1024)
      .describe('Largest request body accepted, in bytes; a larger one gets HTTP 413.'),
    defaultRole: z
      .string()
      .regex(ROLE_PATTERN, 'must be a role name such as coder')
      .default('coder')
      .describe('Role of a run whose model alias and headers name none.'),
    defaultTask: z
      .string()
      .min(1)
      .max(200)
      .default('gateway')
      .describe('Task of a run whose model alias and headers name none (1–200 characters).'),
    tier: z
      .enum(COMPLEXITIES)
      .default('medium')
      .describe("The complexity tier the router uses for the 'auto' model alias."),
    maxCostPerToken: z
      .number()
      .min(0)
      .optional()
      .describe("The 'auto' alias's cost cap in USD per 1,000 tokens; unset: modelRouter.maxCostPerToken."),
    promptVariants: z
      .boolean()
      .default(false)
      .describe(
        "Opt-in: add the prompt bandit's variant text to the system message, and record the variant's id.",
      ),
    openaiBaseUrl: userOnly('openaiBaseUrl'),
    bindAddress: userOnly('bindAddress'),
    allowedHosts: userOnly('allowedHosts'),
    allowedOrigins: userOnly('allowedOrigins'),
    apiKeyEnv: userOnly('apiKeyEnv'),
  })
  .strict();

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

/** The settings that only the user sets (VS Code user settings; `serve`'s flags and environment). */
export interface GatewayAccess {
  /** An OpenAI-compatible upstream for `/v1/*`; unset: the Ollama host's own OpenAI-compatible API. */
  openaiBaseUrl?: string;
  /**
   * The address to bind. Loopback by default: anything else lets other machines spend the upstream's key, so it
   * takes a deliberate change (and `allowedHosts` for the names they use).
   */
  bindAddress: string;
  /** Host header names accepted besides the loopback names (DNS-rebinding defence). */
  allowedHosts: string[];
  /** Browser origins (`https://example.com`) allowed to call the gateway; a request with any other Origin gets 403. */
  allowedOrigins: string[];
}

export const DEFAULT_GATEWAY_ACCESS: GatewayAccess = Object.freeze({
  bindAddress: '127.0.0.1',
  allowedHosts: [],
  allowedOrigins: [],
});

/**
 * The origin (`scheme://host[:port]`, lower-case, default port left out) of an http(s) URL, or an InvalidInputError
 * naming `key`.
 */
export function httpOrigin(url: string, key: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidInputError(key, `${JSON.stringify(url)} is not a URL; expected http://… or https://…`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new InvalidInputError(key, `${JSON.stringify(url)}: expected an http:// or https:// URL`);
  if (parsed.username || parsed.password)
    throw new InvalidInputError(key, 'must not hold a user name or password; the key is set apart');
  return parsed.origin;
}
