// The `gateway` section of learning-config.json: where the local OpenAI/Ollama-compatible gateway listens, whom it
// lets in, where it forwards, and how it names the runs it records. Kept apart so config.ts only references it.

import { z } from 'zod';
import { COMPLEXITIES } from '../learning/runResult';
import { ROLE_PATTERN } from './names';

/**
 * 11434 is Ollama's, and 11435 is where people commonly run a second Ollama or another proxy; 11444 is near enough
 * to be remembered with Ollama's, unassigned by IANA and below every OS's ephemeral range.
 */
export const DEFAULT_GATEWAY_PORT = 11444;

const httpUrl = z
  .string()
  .refine((s) => /^https?:\/\/[^\s]+$/.test(s), 'must be an http:// or https:// URL without spaces');

export const gatewayConfigSchema = z
  .object({
    /** 0: any free port (the one chosen is logged). */
    port: z.number().int().min(0).max(65535).default(DEFAULT_GATEWAY_PORT),
    /**
     * The address to bind. Loopback by default: anything else lets other machines spend the upstream's key, so it
     * takes a deliberate change here (and `allowedHosts` for the names they use).
     */
    bindAddress: z.string().min(1).default('127.0.0.1'),
    /** Host header names accepted besides the loopback names (DNS-rebinding defence). */
    allowedHosts: z.array(z.string().min(1)).default([]),
    /** Browser origins (`https://example.com`) allowed to call the gateway; a request with any other Origin gets 403. */
    allowedOrigins: z.array(z.string().min(1)).default([]),
    /** Largest request body accepted (bytes); larger ones get 413. Images arrive base64-encoded, hence 32 MiB. */
    maxBodyBytes: z
      .number()
      .int()
      .positive()
      .default(32 * 1024 * 1024),
    /** Role and task of a run whose model alias and headers name none. */
    defaultRole: z.string().regex(ROLE_PATTERN, 'must be a role name such as coder').default('coder'),
    defaultTask: z.string().min(1).max(200).default('gateway'),
    /** An OpenAI-compatible upstream for `/v1/*`; unset: the Ollama host's own OpenAI-compatible API. */
    openaiBaseUrl: httpUrl.optional(),
    /** The environment variable that holds the OpenAI-compatible upstream's API key (never the key itself). */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .default('AGENT_LEARNING_UPSTREAM_API_KEY'),
    /** The `auto` alias: the router's complexity tier and cost cap (USD per 1,000 tokens; unset: modelRouter's). */
    tier: z.enum(COMPLEXITIES).default('medium'),
    maxCostPerToken: z.number().min(0).optional(),
    /** Opt-in: add the prompt bandit's variant text to the system message, and record the variant's id. */
    promptVariants: z.boolean().default(false),
  })
  .strict();

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
