import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { LearningPipeline } from '../../../../src/core/pipeline';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../../support/workspace';

const DOCS = 'left-pad pads the left side of a string.\n';

describe('fetchWebKnowledge (through LearningPipeline)', () => {
  let ws: string;
  let server: http.Server;
  let port: number;
  let requests: string[];
  /** What the server answers; tests replace it. */
  let respond: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  let pipeline: LearningPipeline;

  beforeEach(async () => {
    ws = makeWorkspace();
    requests = [];
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(DOCS);
    };
    server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      respond(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    await pipeline?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    removeWorkspace(ws);
  });

  /** The pipeline's clock; tests move it forward to age the cache. */
  let clock: number;

  async function open(webKnowledge: object | undefined): Promise<LearningPipeline> {
    if (webKnowledge) writeAgentFile(ws, 'learning-config.json', { webKnowledge });
    clock = Date.parse('2025-01-01T00:00:00Z');
    pipeline = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: () => {}, now: () => clock });
    return pipeline;
  }

  function enabled(extra: object = {}): object {
    return { enabled: true, urlTemplate: `http://127.0.0.1:${port}/docs/{library}?q={query}`, ...extra };
  }

  it("returns the server's text and caches it under .agent/knowledge/", async () => {
    await open(enabled());

    const knowledge = await pipeline.fetchWebKnowledge({ name: 'pad' }, 'usage', 'left-pad');

    assert.equal(knowledge.text, DOCS);
    assert.equal(knowledge.fromCache, false);
    assert.equal(knowledge.error, undefined);
    assert.equal(requests.length, 1);
    const cached = fs.readdirSync(path.join(ws, '.agent', 'knowledge'));
    assert.equal(cached.length, 1);
    assert.match(fs.readFileSync(path.join(ws, '.agent', 'knowledge', cached[0]!), 'utf8'), /left-pad pads/);
  });

  it('answers a second call from the cache without asking the server', async () => {
    await open(enabled());
    await pipeline.fetchWebKnowledge({ name: 'pad' }, 'usage', 'left-pad');

    const second = await pipeline.fetchWebKnowledge({ name: 'pad' }, 'usage', 'left-pad');

    assert.equal(second.text, DOCS);
    assert.equal(second.fromCache, true);
    assert.equal(requests.length, 1);
  });

  it('returns empty text with an error, without throwing, when the server answers 500', async () => {
    respond = (_req, res) => {
      res.writeHead(500);
      res.end('boom');
    };
    await open(enabled());

    const knowledge = await pipeline.fetchWebKnowledge({}, 'usage', 'left-pad');

    assert.equal(knowledge.text, '');
    assert.match(knowledge.error ?? '', /500/);
    assert.equal(requests.length, 1);
    assert.ok(
      !fs.existsSync(path.join(ws, '.agent', 'knowledge')) ||
        fs.readdirSync(path.join(ws, '.agent', 'knowledge')).length === 0,
    );
  });

  it('returns empty text with an error, without throwing, when nothing listens on the port', async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server = http.createServer();
    await open(enabled());

    const knowledge = await pipeline.fetchWebKnowledge({}, 'usage', 'left-pad');

    assert.equal(knowledge.text, '');
    assert.ok(knowledge.error, 'the reason is given');
  });

  it('is off by default: empty text and no request', async () => {
    await open(undefined);

    const knowledge = await pipeline.fetchWebKnowledge({ name: 'pad' }, 'usage', 'left-pad');

    assert.equal(knowledge.text, '');
    assert.ok(knowledge.error, 'the reason is given');
    assert.equal(requests.length, 0);
    assert.equal(pipeline.getConfig().config.webKnowledge.enabled, false);
  });

  it('truncates the text to maxBytes', async () => {
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('x'.repeat(5000));
    };
    await open(enabled({ maxBytes: 100 }));

    const knowledge = await pipeline.fetchWebKnowledge({}, 'usage', 'big-lib');

    assert.equal(knowledge.text, 'x'.repeat(100));
  });

  it('cuts the text on a character boundary when maxBytes falls inside a character', async () => {
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('é'.repeat(100)); // two bytes each
    };
    await open(enabled({ maxBytes: 51 }));

    const knowledge = await pipeline.fetchWebKnowledge({}, 'usage', 'accents');

    assert.equal(knowledge.text, 'é'.repeat(25));
  });

  /** Answers with `chunk` forever (as fast as the client reads), counting the bytes the server got to send. */
  function endless(contentType: string, chunk: string): { sent: () => number } {
    let sent = 0;
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': contentType });
      const data = Buffer.from(chunk.repeat(Math.ceil(65_536 / chunk.length)));
      const pump = (): void => {
        while (!res.destroyed) {
          sent += data.length;
          if (!res.write(data)) {
            res.once('drain', pump);
            return;
          }
        }
      };
      pump();
    };
    return { sent: () => sent };
  }

  it('stops reading an endless text body at maxBytes, long before the timeout', async () => {
    const server = endless('text/plain', 'endless ');
    await open(enabled({ maxBytes: 100_000, timeoutMs: 2000 }));
    const rssBefore = process.memoryUsage.rss();

    const knowledge = await pipeline.fetchWebKnowledge({}, 'usage', 'endless');

    assert.equal(knowledge.error, undefined);
    assert.equal(knowledge.text, 'endless '.repeat(12_500));
    // What the server sent includes what the sockets buffered; reading on to the timeout came to gigabytes.
    assert.ok(server.sent() < 32_000_000, `the server sent ${server.sent()} bytes`);
    const grownBy = process.memoryUsage.rss() - rssBefore;
    assert.ok(grownBy < 200_000_000, `the process grew by ${grownBy} bytes`);
  });

  it('stops reading an endless HTML page once its text reaches maxBytes', async () => {
    const server = endless('text/html', '<div class="row"><span>cell</span></div>\n');
    await open(enabled({ maxBytes: 10_000, timeoutMs: 2000 }));

    const knowledge = await pipeline.fetchWebKnowledge({}, 'usage', 'endless');

    assert.equal(knowledge.error, undefined);
    assert.equal(Buffer.byteLength(knowledge.text), 10_000);
    assert.match(knowledge.text, /^cell \n cell \n/);
    assert.ok(server.sent() < 32_000_000, `the server sent ${server.sent()} bytes`);
  });

  it('refuses a registry document larger than maxDownloadBytes, naming the key, and caches nothing', async () => {
    const server = endless('application/json', '{"readme": "endless"}');
    await open(enabled({ maxDownloadBytes: 1_000_000, timeoutMs: 2000 }));

    const knowledge = await pipeline.fetchWebKnowledge({}, 'usage', 'endless');

    assert.equal(knowledge.text, '');
    assert.match(knowledge.error ?? '', /larger than webKnowledge\.maxDownloadBytes \(1000000 bytes\)/);
    assert.ok(server.sent() < 32_000_000, `the server sent ${server.sent()} bytes`);
    assert.ok(!fs.existsSync(path.join(ws, '.agent', 'knowledge')));
  });

  it("gives a hostile page's text: 420 KB of unclosed `<script` around the documentation", async () => {
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<h1>left-pad</h1><p>Pads strings.</p>${'<script'.repeat(60_000)}`);
    };
    await open(enabled());

    const knowledge = await pipeline.fetchWebKnowledge({}, 'usage', 'left-pad');

    assert.equal(knowledge.error, undefined);
    assert.equal(knowledge.text, 'left-pad Pads strings.');
  });

  it("gives a registry JSON document's readme", async () => {
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ name: 'left-pad', description: 'pads', readme: '# left-pad\nUsage: leftPad(s, n)' }),
      );
    };
    await open(enabled());

    const knowledge = await pipeline.fetchWebKnowledge({}, 'usage', 'left-pad');

    assert.equal(knowledge.text, '# left-pad\nUsage: leftPad(s, n)');
  });

  it('gives up after timeoutMs when the server does not answer, with an error', async () => {
    respond = () => {}; // never answers
    await open(enabled({ timeoutMs: 200 }));

    const knowledge = await pipeline.fetchWebKnowledge({}, 'usage', 'slow-lib');

    assert.equal(knowledge.text, '');
    assert.ok(knowledge.error, 'the reason is given');
    assert.equal(requests.length, 1);
  });

  it('fetches again once the cached copy is older than maxAgeHours', async () => {
    await open(enabled({ maxAgeHours: 24 }));
    await pipeline.fetchWebKnowledge({}, 'usage', 'left-pad');

    clock += 25 * 3_600_000;
    const knowledge = await pipeline.fetchWebKnowledge({}, 'usage', 'left-pad');

    assert.equal(knowledge.fromCache, false);
    assert.equal(requests.length, 2);
  });

  it('falls back to a stale cached copy, with an error, when the refetch fails', async () => {
    await open(enabled({ maxAgeHours: 24 }));
    await pipeline.fetchWebKnowledge({}, 'usage', 'left-pad');
    respond = (_req, res) => {
      res.writeHead(503);
      res.end();
    };

    clock += 25 * 3_600_000;
    const knowledge = await pipeline.fetchWebKnowledge({}, 'usage', 'left-pad');

    assert.equal(knowledge.text, DOCS);
    assert.equal(knowledge.fromCache, true);
    assert.match(knowledge.error ?? '', /503/);
  });

  it('keeps the cache within maxCacheBytes, dropping the oldest entries', async () => {
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('d'.repeat(400));
    };
    // One entry (about 550 bytes with its URL and timestamp) fits; two do not.
    await open(enabled({ maxCacheBytes: 800 }));
    await pipeline.fetchWebKnowledge({}, 'usage', 'first');

    await pipeline.fetchWebKnowledge({}, 'usage', 'second');
    const again = await pipeline.fetchWebKnowledge({}, 'usage', 'second');

    assert.equal(fs.readdirSync(path.join(ws, '.agent', 'knowledge')).length, 1);
    assert.equal(again.fromCache, true, 'the newest entry is the one kept');
    assert.equal(requests.length, 2);
  });

  it('URL-encodes the library and the query in the request', async () => {
    await open(enabled());

    await pipeline.fetchWebKnowledge({}, 'how to & why', '@scope/my lib');

    assert.deepEqual(requests, ['/docs/%40scope%2Fmy%20lib?q=how%20to%20%26%20why']);
  });
});
