// The stand-in chat upstream as a process of its own (for the benchmark: its work must not share the gateway's
// event loop). Prints `{"url": …}` on stdout, serves until SIGTERM. Options as JSON in argv[2].

import { startChatUpstream, type ChatUpstreamOptions } from './chatUpstream';

void (async () => {
  const upstream = await startChatUpstream(JSON.parse(process.argv[2] ?? '{}') as ChatUpstreamOptions);
  process.stdout.write(`${JSON.stringify({ url: upstream.url, host: upstream.host })}\n`);
  process.once('SIGTERM', () => void upstream.stop());
})();
