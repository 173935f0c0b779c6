import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  compareVersions,
  deployMethodFor,
  normaliseHost,
  OllamaClient,
} from '../../../../src/core/automation/ollama';
import { startOllama, type OllamaStandin } from '../../../support/ollamaStandin';

describe('Ollama client and versions', () => {
  it('reads OLLAMA_HOST forms as the ollama CLI does', () => {
    assert.equal(normaliseHost('127.0.0.1:11434'), 'http://127.0.0.1:11434');
    assert.equal(normaliseHost('http://localhost:8080/'), 'http://localhost:8080');
    assert.equal(normaliseHost('ollama.internal'), 'http://ollama.internal:11434');
    assert.equal(normaliseHost('https://ollama.example.com'), 'https://ollama.example.com');
    assert.equal(normaliseHost('0.0.0.0'), 'http://127.0.0.1:11434');
  });

  it('chooses the adapter path up to 0.34.0 and the merged path from 0.34.1', () => {
    assert.equal(deployMethodFor('0.34.0'), 'adapter');
    assert.equal(deployMethodFor('0.5.12'), 'adapter');
    assert.equal(deployMethodFor('0.34.1'), 'merged');
    assert.equal(deployMethodFor('0.35.0-rc1'), 'merged');
    assert.equal(deployMethodFor('1.0'), 'merged');
    assert.equal(compareVersions('0.34', '0.34.0'), 0);
    assert.equal(compareVersions('v0.10.2', '0.9.9'), 1);
  });

  it('says how to start Ollama when it is not reachable', async () => {
    const client = new OllamaClient('127.0.0.1:9', fetch, 2000);
    await assert.rejects(client.version(), /not reachable at http:\/\/127\.0\.0\.1:9.*ollama serve/s);
  });
});

describe('OllamaClient against a server', function () {
  this.timeout(30_000);

  describe('the Ollama stand-in', () => {
    let ollama: OllamaStandin;
    let client: OllamaClient;

    before(async () => {
      ollama = await startOllama('0.34.1');
      client = new OllamaClient(ollama.host);
      const pulled = await fetch(`http://${ollama.host}/api/pull`, {
        method: 'POST',
        body: JSON.stringify({ model: 'qwen2.5-coder:7b', stream: false }),
      });
      assert.equal(pulled.status, 200);
    });

    after(() => ollama.stop());

    it("reads the server's version", async () => {
      assert.equal(await client.version(), '0.34.1');
    });

    it('shows a model with the digest /api/tags lists for it, its architecture, template and quantization', async () => {
      const listed = (await client.tags()).find((m) => m.name === 'qwen2.5-coder:7b');
      assert.ok(listed?.digest);

      const shown = await client.show('qwen2.5-coder:7b');

      assert.equal(shown?.digest, listed.digest);
      assert.equal(shown?.arch, 'qwen2');
      assert.equal(shown?.quantization, 'Q4_K_M');
      assert.match(shown?.template ?? '', /<\|im_start\|>/);
    });

    it('shows a model Ollama does not have as undefined, not as an error', async () => {
      assert.equal(await client.show('nothing:here'), undefined);
    });
  });

  describe('another program on the port', () => {
    let server: http.Server;
    let host: string;
    let answer: (res: http.ServerResponse) => void;

    before(async () => {
      server = http.createServer((_req, res) => answer(res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('says the server is not Ollama when /api/version answers with an error page', async () => {
      answer = (res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');

      await assert.rejects(
        new OllamaClient(host).version(),
        /answered GET \/api\/version with 404 404 page not found, so it is not Ollama: is another program using that port\?/,
      );
    });

    it('says the server is not Ollama when /api/version answers JSON without a version, or no JSON at all', async () => {
      answer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      await assert.rejects(
        new OllamaClient(host).version(),
        /with JSON without a version, so it is not Ollama/,
      );

      answer = (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>router login</html>');
      await assert.rejects(
        new OllamaClient(host).version(),
        /with 200 and a body that is not JSON, so it is not Ollama/,
      );
    });
  });
});
