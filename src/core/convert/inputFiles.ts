// Reading the files a converter is given: JSON files read and checked with a schema, a model folder's safetensors
// weights (one file or shards through model.safetensors.index.json) opened and checked against each other, and the
// output's folder checked before any work is done. Every problem is a ConvertError naming the file and key.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod';
import { ConvertError } from '../errors';
import { SafetensorsFile, type SafetensorsTensor } from './safetensors';

export const MODEL_FOLDER_HINT =
  'is it a Hugging Face model folder (save_pretrained output: config.json, model*.safetensors, tokenizer.json)?';
const INDEX_FILE = 'model.safetensors.index.json';

/** Reads and parses a JSON file; `what` says what the file is for when it is missing. */
export function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConvertError(file, `the file does not exist: ${what}`);
    }
    throw new ConvertError(file, `it cannot be read (${String(err)}).`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ConvertError(
      file,
      `it is not valid JSON (${err instanceof Error ? err.message : String(err)}).`,
    );
  }
}

/** The first issue of a failed parse of `file`, with its key. */
export function schemaError(file: string, error: z.ZodError): ConvertError {
  const issue = error.issues[0]!;
  const key = issue.path.join('.');
  return new ConvertError(file, `${key || '(file)'}: ${issue.message}.`, key || undefined);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The output's folder must exist: refused before any work, so nothing is converted for nothing. */
export function checkOutputFolder(outFile: string): void {
  const dir = path.dirname(path.resolve(outFile));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new ConvertError(outFile, `its folder ${dir} does not exist; create it first.`);
  }
}

export interface SourceTensor {
  file: SafetensorsFile;
  tensor: SafetensorsTensor;
}

export interface Weights {
  tensors: Map<string, SourceTensor>;
  close(): Promise<void>;
}

/** convert_hf_to_gguf.py's parts: model.safetensors.index.json's weight_map, else every model*.safetensors. */
export async function openWeights(hfDir: string): Promise<Weights> {
  const indexFile = path.join(hfDir, INDEX_FILE);
  let weightMap: Record<string, string> | undefined;
  let parts: string[];
  if (fs.existsSync(indexFile)) {
    const parsed = z
      .looseObject({ weight_map: z.record(z.string(), z.string()) })
      .safeParse(readJson(indexFile, ''));
    if (!parsed.success) throw schemaError(indexFile, parsed.error);
    weightMap = parsed.data.weight_map;
    parts = [...new Set(Object.values(weightMap))].sort();
    for (const part of parts) {
      if (path.basename(part) !== part || part === '..' || part === '.')
        throw new ConvertError(
          indexFile,
          `weight_map names ${JSON.stringify(part)}, not a file in the folder.`,
        );
    }
  } else {
    const names = fs.existsSync(hfDir) ? fs.readdirSync(hfDir) : [];
    parts = names.filter((f) => f.startsWith('model') && f.endsWith('.safetensors')).sort();
    if (parts.length === 0) {
      const bin = names.some((f) => f.startsWith('pytorch_model') && f.endsWith('.bin'));
      throw new ConvertError(
        hfDir,
        bin
          ? 'it holds pytorch_model*.bin weights; only safetensors can be read: save the model with ' +
              'save_pretrained(..., safe_serialization=True).'
          : `there are no model*.safetensors weights: ${MODEL_FOLDER_HINT}`,
      );
    }
  }

  const files: SafetensorsFile[] = [];
  const close = async () => {
    for (const f of files) await f.close();
  };
  try {
    const tensors = new Map<string, SourceTensor>();
    for (const part of parts) {
      const file = await SafetensorsFile.open(path.join(hfDir, part));
      files.push(file);
      for (const [name, tensor] of file.tensors) {
        const other = tensors.get(name);
        if (other) {
          throw new ConvertError(
            file.path,
            `the tensor is also in ${path.basename(other.file.path)}; keep only one copy of the weights.`,
            name,
          );
        }
        if (weightMap && weightMap[name] !== part) {
          throw new ConvertError(
            file.path,
            `${INDEX_FILE} ${weightMap[name] === undefined ? 'does not list the tensor' : `puts the tensor in ${weightMap[name]}`}; ` +
              'the index and the weight files do not match: save the model again.',
            name,
          );
        }
        tensors.set(name, { file, tensor });
      }
    }
    for (const [name, part] of Object.entries(weightMap ?? {})) {
      if (!tensors.has(name)) {
        throw new ConvertError(
          path.join(hfDir, part),
          `${INDEX_FILE} lists the tensor in this file, but it is not there: the file is incomplete; save the model again.`,
          name,
        );
      }
    }
    return { tensors, close };
  } catch (err) {
    await close();
    throw err;
  }
}
