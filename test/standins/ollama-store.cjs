// The Ollama stand-in's models and blobs: FAKE_OLLAMA_DIR/models.json (rewritten atomically, so a restarted server
// finds its models) and FAKE_OLLAMA_DIR/blobs/sha256-<hex> (files the CLI uploads, as Ollama keeps them).

'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const DIGEST = /^sha256[:-]([0-9a-f]{64})$/;

class Store {
  constructor(dir) {
    this.file = path.join(dir, 'models.json');
    this.blobs = path.join(dir, 'blobs');
    fs.mkdirSync(this.blobs, { recursive: true });
    /** @type {Map<string, any>} by lower-case full name */
    this.models = new Map();
    if (fs.existsSync(this.file)) {
      const saved = JSON.parse(fs.readFileSync(this.file, 'utf8'));
      for (const m of saved.models ?? []) this.models.set(m.key, m);
    }
  }

  /** Newest first, as /api/tags lists them. */
  list() {
    return [...this.models.values()].sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt));
  }

  get(name) {
    return this.models.get(name.key);
  }

  put(model) {
    this.models.set(model.key, model);
    this.save();
  }

  delete(name) {
    const existed = this.models.delete(name.key);
    if (existed) this.save();
    return existed;
  }

  save() {
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify({ models: [...this.models.values()] }, null, 2)}\n`);
    fs.renameSync(tmp, this.file);
  }

  /** The blob file for `sha256:<hex>` (or `sha256-<hex>`); null for a malformed digest. */
  blobPath(digest) {
    const m = DIGEST.exec(String(digest));
    return m ? path.join(this.blobs, `sha256-${m[1]}`) : null;
  }

  hasBlob(digest) {
    const p = this.blobPath(digest);
    return p !== null && fs.existsSync(p);
  }

  /** Whether a layer with this digest is already stored: Ollama says "using existing layer" for those. */
  knows(digest) {
    if (this.hasBlob(digest)) return true;
    for (const m of this.models.values()) if (m.layers.some((l) => l.digest === digest)) return true;
    return false;
  }

  /** Streams a request body into the blob store, checking its sha256; resolves to the byte count. */
  async writeBlob(digest, body) {
    const target = this.blobPath(digest);
    const tmp = `${target}.${process.pid}.${Date.now()}.partial`;
    const hash = crypto.createHash('sha256');
    const out = fs.createWriteStream(tmp);
    let bytes = 0;
    try {
      for await (const chunk of body) {
        hash.update(chunk);
        bytes += chunk.length;
        if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
      }
      await new Promise((resolve, reject) => out.end((err) => (err ? reject(err) : resolve())));
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== digest.replace('sha256-', 'sha256:')) {
        fs.rmSync(tmp, { force: true });
        return { bytes, mismatch: got };
      }
      fs.renameSync(tmp, target);
      return { bytes, mismatch: null };
    } catch (err) {
      out.destroy();
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  }
}

module.exports = { Store, DIGEST };
