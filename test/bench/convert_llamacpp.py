"""convert-model side by side with llama.cpp's own convert_hf_to_gguf.py (issue #10): time and peak memory.

    npm run bench:convert-llamacpp       # builds dist/, then runs this with the tests' Python (test/python/setup.sh)
    BENCH_LAYERS=28 BENCH_REPS=3 BENCH_OUTTYPES=f16,q8_0 .venv/bin/python test/bench/convert_llamacpp.py

The model: a random Hugging Face folder with Qwen2.5-1.5B's shapes (hidden 1536, intermediate 8960, 12 heads / 2
key-value heads, vocab 151936, tied embeddings, bf16 in one model.safetensors) with BENCH_LAYERS of its 28 layers;
config.json is written by the installed transformers' Qwen2Config, the tokenizer is a byte-level BPE with Qwen2's
split regex, 151,643 tokens built from 151,387 synthetic merges and Qwen2.5's 22 special tokens (nothing is
downloaded but llama.cpp's converter).

llama.cpp's converter comes from the llama-cpp-python source distribution on PyPI (pinned below, sha256 checked),
fetched once with pip into ${AGENT_LEARNING_CACHE:-~/.cache/agent-learning}/llama-cpp-python-VERSION: only
convert_hf_to_gguf.py, its conversion/ package, gguf-py/ and the licence are kept. It runs with this Python (the
tests' environment has every module it imports: torch, transformers, numpy, PyYAML). It names BPE pre-tokenizers by
hashing a test string's tokenization, which a synthetic vocabulary cannot match; the converter runs unchanged in a
child process of this script whose only patch is that an unrecognised hash falls back to "qwen2" when the tokenizer's
split regex is Qwen2's, which is how our converter names it.

Each conversion (ours: `node dist/cli.js convert-model`; theirs: `convert_hf_to_gguf.py` with its defaults) is a
child process, so the time is the whole command's (interpreter start-up included) and the peak memory is its peak
RSS (wait4's ru_maxrss, forked from a small launcher). Theirs does not fsync its output and ours does; the time of
both includes an fsync of the output after the process exits, so both count until the file is on disk. Per output
type and repetition, both run back to back, the order alternating across repetitions; the ratio is ours / theirs per
pair, then the median. The first pair of each type is compared: the same tensors (names, types, shapes), how many
hold identical bytes, and the metadata keys that differ. Target: ours ≤ 1.0× llama.cpp's time. BENCH_NO_WRITE=1
leaves BENCHMARKS.md alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import runpy
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from bench_report import commit, machine, publish, wrap  # noqa: E402 (test/bench is sys.path[0])

LLAMA_CPP_PYTHON = "0.3.36"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
SENTENCEPIECE = "sentencepiece==0.2.3"  # llama.cpp's requirements-convert_legacy_llama.txt: >=0.1.98,<0.3.0
SECTION_START = "<!-- convert-llamacpp-bench:start -->"
SECTION_END = "<!-- convert-llamacpp-bench:end -->"
TIME_LIMIT_S = 1800  # per conversion: a hung converter ends the benchmark instead of holding the machine

FULL_LAYERS = 28
SHAPE = dict(
    hidden_size=1536, intermediate_size=8960, num_attention_heads=12, num_key_value_heads=2, vocab_size=151936,
    max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1_000_000.0, tie_word_embeddings=True,
)  # fmt: skip
BASE_VOCAB = 151643
SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
]  # fmt: skip
CHUNK = 1 << 24  # elements generated and written at a time (32 MB of bf16)


# ---------------------------------------------------------------------------------------------------------- model


def tensor_shapes(layers: int) -> List[Tuple[str, Tuple[int, ...]]]:
    h, i, v = SHAPE["hidden_size"], SHAPE["intermediate_size"], SHAPE["vocab_size"]
    kv = h // SHAPE["num_attention_heads"] * SHAPE["num_key_value_heads"]
    shapes: List[Tuple[str, Tuple[int, ...]]] = [("model.embed_tokens.weight", (v, h))]
    for n in range(layers):
        p = f"model.layers.{n}."
        shapes += [
            (p + "input_layernorm.weight", (h,)), (p + "self_attn.q_proj.weight", (h, h)),
            (p + "self_attn.q_proj.bias", (h,)), (p + "self_attn.k_proj.weight", (kv, h)),
            (p + "self_attn.k_proj.bias", (kv,)), (p + "self_attn.v_proj.weight", (kv, h)),
            (p + "self_attn.v_proj.bias", (kv,)), (p + "self_attn.o_proj.weight", (h, h)),
            (p + "post_attention_layernorm.weight", (h,)), (p + "mlp.gate_proj.weight", (i, h)),
            (p + "mlp.up_proj.weight", (i, h)), (p + "mlp.down_proj.weight", (h, i)),
        ]  # fmt: skip
    return shapes + [("model.norm.weight", (h,))]


def write_weights(path: Path, layers: int) -> int:
    """model.safetensors, tensor by tensor in chunks (never a whole tensor in memory): bf16 values of a normal
    distribution (σ 0.02), truncated from float32. Returns the parameter count."""
    import numpy as np

    shapes = tensor_shapes(layers)
    header: Dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes:
        size = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-len(text) % 8)
    rng = np.random.default_rng(7)
    params = 0
    with path.open("wb") as f:
        f.write(len(text).to_bytes(8, "little") + text.encode())
        for _, shape in shapes:
            left = int(np.prod(shape))
            params += left
            while left > 0:
                n = min(left, CHUNK)
                values = rng.standard_normal(n, dtype=np.float32)
                values *= 0.02
                f.write((values.view(np.uint32) >> 16).astype(np.uint16).tobytes())
                left -= n
    return params


def write_tokenizer(folder: Path) -> None:
    """A byte-level BPE with Qwen2's pre-tokenizer and size: the 256 byte symbols, then merges of every pair of
    them, then of those pairs with a byte, until there are BASE_VOCAB tokens; Qwen2.5's special tokens after."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from tests import tiny_models

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: n for n, symbol in enumerate(alphabet)}
    merges: List[Tuple[str, str]] = []
    pairs = [(a, b) for a in alphabet for b in alphabet]
    for a, b in pairs:
        merges.append((a, b))
        vocab[a + b] = len(vocab)
    for a, b in pairs:
        for c in alphabet:
            if len(vocab) == BASE_VOCAB:
                break
            merges.append((a + b, c))
            vocab[a + b + c] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(tiny_models.QWEN2_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = tiny_models.CHATML_TEMPLATE
    tokenizer.save_pretrained(str(folder))


def build_model(folder: Path, layers: int) -> int:
    from transformers import Qwen2Config

    folder.mkdir(parents=True)
    config = Qwen2Config(num_hidden_layers=layers, dtype="bfloat16", **SHAPE)
    config.architectures = ["Qwen2ForCausalLM"]
    config.bos_token_id = config.pad_token_id = BASE_VOCAB  # <|endoftext|>
    config.eos_token_id = BASE_VOCAB + 2  # <|im_end|>
    config.save_pretrained(str(folder))
    write_tokenizer(folder)
    return write_weights(folder / "model.safetensors", layers)


# --------------------------------------------------------------------------------------------- llama.cpp's side


def cache_root() -> Path:
    return Path(os.environ.get("AGENT_LEARNING_CACHE") or Path.home() / ".cache" / "agent-learning")


def fetch_llamacpp() -> Path:
    """llama.cpp's converter from the pinned llama-cpp-python sdist, fetched once into the cache."""
    dest = cache_root() / f"llama-cpp-python-{LLAMA_CPP_PYTHON}"
    if (dest / ".complete").exists():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llama-cpp-python-", dir=dest.parent) as download:
        print(f"fetching llama-cpp-python=={LLAMA_CPP_PYTHON}'s source distribution (~77 MB) with pip", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--no-binary", ":all:", f"llama-cpp-python=={LLAMA_CPP_PYTHON}", "-d", download],
            check=True,
        )  # fmt: skip
        sdist = Path(download) / f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != SDIST_SHA256:
            raise RuntimeError(f"{sdist.name} has sha256 {digest}, expected {SDIST_SHA256}")
        prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/"
        with tarfile.open(sdist) as tar:
            for member in tar:
                rel = member.name[len(prefix) :] if member.name.startswith(prefix) else ""
                keep = rel in ("convert_hf_to_gguf.py", "LICENSE") or rel.startswith(("conversion/", "gguf-py/gguf/"))
                if not member.isfile() or not keep or ".." in Path(rel).parts:
                    continue
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                target.write_bytes(source.read())
    # Qwen2's set_vocab tries SentencePiece first and imports it before finding no tokenizer.model; the tests'
    # environment has no sentencepiece, so it goes beside the converter, not into that environment.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--only-binary", ":all:", "--target", str(dest / "site-packages"), SENTENCEPIECE],
        check=True,
    )  # fmt: skip
    (dest / ".complete").write_text(f"{LLAMA_CPP_PYTHON} {SDIST_SHA256} {SENTENCEPIECE}\n")
    return dest


def llamacpp_child(llama_dir: Path, argv: List[str]) -> None:
    """In the child: llama.cpp's convert_hf_to_gguf.py as its __main__, with the one fallback described above."""
    sys.path[0:0] = [str(llama_dir), str(llama_dir / "gguf-py")]
    sys.path.append(str(llama_dir / "site-packages"))
    from conversion import base  # type: ignore[import-not-found]

    from tests import tiny_models

    recognise = base.TextModel.get_vocab_base_pre

    def get_vocab_base_pre(self: Any, tokenizer: Any) -> str:
        try:
            return recognise(self, tokenizer)
        except NotImplementedError:
            pre = json.loads((Path(self.dir_model) / "tokenizer.json").read_text(encoding="utf-8"))["pre_tokenizer"]
            splits = [p["pattern"].get("Regex") for p in pre.get("pretokenizers", []) if p["type"] == "Split"]
            if splits == [tiny_models.QWEN2_SPLIT]:
                return "qwen2"
            raise

    base.TextModel.get_vocab_base_pre = get_vocab_base_pre
    script = llama_dir / "convert_hf_to_gguf.py"
    sys.argv = [str(script), *argv]
    runpy.run_path(str(script), run_name="__main__")


# ------------------------------------------------------------------------------------------------------ measuring


#: Runs argv[2:] in a forked child and writes its peak RSS (KiB) to argv[1]. A child's ru_maxrss starts from its
#: parent's RSS at the fork (Linux keeps the high-water mark across exec), so the conversions are forked from this
#: small interpreter, not from the benchmark's process, which holds transformers and the model's tokenizer.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measure(command: Sequence[str], out: Path, log: Path) -> Tuple[float, int]:
    """(seconds until the output is on disk, peak RSS in bytes) of one conversion in a child process."""
    rusage = log.with_suffix(".maxrss")
    started = time.monotonic()
    with log.open("wb") as sink:
        launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, str(rusage), *command]
        child = subprocess.Popen(launcher, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = child.wait(timeout=TIME_LIMIT_S)
        except BaseException:  # the time limit, Ctrl-C or SIGTERM: the conversion goes too, not only its launcher
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            raise
    if code != 0:
        raise RuntimeError(f"{command[0]} … exited with {code}:\n{log.read_text(errors='replace')[-3000:]}")
    fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.monotonic() - started, int(rusage.read_text()) * 1024


def compare(ours: Path, theirs: Path, llama_dir: Path) -> Dict[str, Any]:
    """The two files side by side with gguf-py's reader: tensors (all must match in name, type and shape; how many
    hold identical bytes) and metadata values (general.* aside, which names the source and the tool)."""
    sys.path.insert(0, str(llama_dir / "gguf-py"))
    import numpy as np
    from gguf import GGUFReader  # type: ignore[import-not-found]

    a, b = GGUFReader(ours), GGUFReader(theirs)
    ta, tb = {t.name: t for t in a.tensors}, {t.name: t for t in b.tensors}
    if set(ta) != set(tb):
        only_a, only_b = sorted(set(ta) - set(tb)), sorted(set(tb) - set(ta))
        raise RuntimeError(f"tensor names differ: ours only {only_a}, theirs only {only_b}")
    identical, differing = 0, []
    for name, t in ta.items():
        u = tb[name]
        if t.tensor_type != u.tensor_type or list(t.shape) != list(u.shape):
            ours_t, theirs_t = f"{t.tensor_type.name} {list(t.shape)}", f"{u.tensor_type.name} {list(u.shape)}"
            raise RuntimeError(f"{name}: ours {ours_t}, theirs {theirs_t}")
        if np.array_equal(t.data.view(np.uint8), u.data.view(np.uint8)):
            identical += 1
        else:
            differing.append(name)
    keys_a = {k for k in a.fields if not k.startswith(("general.", "GGUF."))}
    keys_b = {k for k in b.fields if not k.startswith(("general.", "GGUF."))}
    values = sorted(k for k in keys_a & keys_b if a.fields[k].contents() != b.fields[k].contents())
    return {
        "tensors": len(ta),
        "identical": identical,
        "differing": differing,
        "only_ours": sorted(keys_a - keys_b),
        "only_theirs": sorted(keys_b - keys_a),
        "values_differ": values,
    }


# ----------------------------------------------------------------------------------------------------- reporting


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def section(info: Dict[str, Any], rows: List[Dict[str, Any]], runs: List[Dict[str, Any]]) -> str:
    gb, mb = (lambda b: f"{b / 1e9:.2f} GB"), (lambda b: f"{b / 1e6:.0f} MB")
    prose = [
        f"`npm run bench:convert-llamacpp` (`test/bench/convert_llamacpp.py`; `BENCH_LAYERS`, `BENCH_REPS`, "
        f"`BENCH_OUTTYPES`): a random Qwen2.5-1.5B-shaped folder ({info['layers']} of its {FULL_LAYERS} layers, "
        f"{info['params'] / 1e9:.2f}B parameters, {gb(info['input_bytes'])} of bf16, the full 151,936-entry "
        f"vocabulary with synthetic merges) converted by ours (`node dist/cli.js convert-model`) and by llama.cpp's "
        f"`convert_hf_to_gguf.py` from llama-cpp-python {LLAMA_CPP_PYTHON}'s sdist (run with Python "
        f"{info['python']}, torch {info['torch']}, transformers {info['transformers']}, numpy {info['numpy']}; "
        f"ours with Node {info['node']}). Each conversion is its own process: seconds until the output is fsynced "
        f"(start-up included), peak RSS from wait4. {info['reps']} repetitions per type, the order alternating; "
        f"ratio = ours / llama.cpp per pair, median.",
        f"- Commit: `{info['commit']}` · date {info['date']} · benchmark took {info['minutes']:.1f} min",
        f"- Machine: {info['machine']}; shared with other jobs while it ran (load average {info['load_before']} "
        f"before, {info['load_after']} after), so absolute times are high and noisy; the paired ratio is the figure "
        "to read.",
        "- llama.cpp's converter cannot name the synthetic tokenizer's pre-tokenizer (it hashes the tokenization of "
        "a test string, and the hash of a synthetic vocabulary is unknown); the benchmark runs it unchanged except "
        'that an unknown hash falls back to "qwen2" when the split regex is Qwen2\'s (what ours does). Its Qwen2 '
        f"vocabulary code imports sentencepiece first, so {SENTENCEPIECE} is installed beside it (not into the "
        "tests' environment).",
    ]
    lines = [
        "## Model conversion against llama.cpp's convert_hf_to_gguf.py",
        "",
        wrap(prose[0]),
        "",
        *[wrap(p) for p in prose[1:]],
        "",
        "| type | ours s | llama.cpp s | time ratio | target ≤ 1.0× | ours peak RSS | llama.cpp peak RSS "
        "| RSS ratio | output | identical tensors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['type']} | {r['ours_s']:.1f} | {r['theirs_s']:.1f} | {r['ratio']:.2f}× | "
            f"{'met' if r['ratio'] <= 1.0 else 'missed'} | {mb(r['ours_rss'])} | {mb(r['theirs_rss'])} | "
            f"{r['rss_ratio']:.2f}× | {gb(r['bytes'])} | {r['identical']} of {r['tensors']} |"
        )
    lines += ["", "Every pair (seconds, peak RSS):", ""]
    for run in runs:
        lines.append(
            f"- {run['type']} #{run['rep'] + 1} ({run['first']} first): ours {run['ours_s']:.1f} s / "
            f"{mb(run['ours_rss'])}, llama.cpp {run['theirs_s']:.1f} s / {mb(run['theirs_rss'])} → "
            f"{run['ours_s'] / run['theirs_s']:.2f}×"
        )
    compared = "; ".join(
        f"{r['type']}: {r['identical']} of {r['tensors']} tensors byte-identical"
        + (", the same metadata keys and values" if r["same_metadata"] else "")
        for r in rows
    )
    lines += ["", wrap(f"The first pair of each type read back with gguf-py's reader (`general.*` aside): {compared}.")]
    lines += [wrap(r["note"]) for r in rows if r["note"]]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------- main


def main() -> int:
    layers = int(os.environ.get("BENCH_LAYERS", FULL_LAYERS))
    reps = int(os.environ.get("BENCH_REPS", 3))
    out_types = os.environ.get("BENCH_OUTTYPES", "f16,q8_0").split(",")
    cli = ROOT / "dist" / "cli.js"
    if not cli.exists():
        print("convert_llamacpp.py: no dist/cli.js; run `npm run build` first.", file=sys.stderr)
        return 2
    node = shutil.which("node") or "node"
    # SIGTERM ends the run through the finally below, so the multi-GB temp folder goes too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    info: Dict[str, Any] = {
        "layers": layers, "reps": reps, "machine": machine(), "commit": commit(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "load_before": f"{os.getloadavg()[0]:.1f}",
        "python": platform.python_version(), "node": subprocess.run([node, "--version"], capture_output=True,
        text=True).stdout.strip(),
    }  # fmt: skip
    llama_dir = fetch_llamacpp()
    import numpy
    import torch
    import transformers

    info.update(torch=torch.__version__, transformers=transformers.__version__, numpy=numpy.__version__)
    tmp = Path(tempfile.mkdtemp(prefix="al-bench-llamacpp-"))
    try:
        hf = tmp / "qwen2.5-1.5b-shaped"
        t0 = time.monotonic()
        info["params"] = build_model(hf, layers)
        info["input_bytes"] = sum(f.stat().st_size for f in hf.iterdir())
        print(
            f"model: {layers} of {FULL_LAYERS} layers, {info['params'] / 1e9:.2f}B params, "
            f"{info['input_bytes'] / 1e9:.2f} GB (written in {time.monotonic() - t0:.0f} s); {info['machine']}",
            flush=True,
        )
        rows, runs = [], []
        for out_type in out_types:
            pairs = []
            check: Dict[str, Any] = {}
            size = 0
            for rep in range(reps):
                ours, theirs = tmp / f"ours-{out_type}.gguf", tmp / f"theirs-{out_type}.gguf"
                commands = {
                    "ours": [node, str(cli), "convert-model", str(hf), "--out", str(ours), "--outtype", out_type],
                    "llama.cpp": [sys.executable, str(Path(__file__).resolve()), "--llamacpp-child", str(llama_dir),
                                  str(hf), "--outfile", str(theirs), "--outtype", out_type],
                }  # fmt: skip
                order = ["ours", "llama.cpp"] if rep % 2 == 0 else ["llama.cpp", "ours"]
                result: Dict[str, Tuple[float, int]] = {}
                for who in order:
                    out = ours if who == "ours" else theirs
                    result[who] = measure(commands[who], out, tmp / f"{who}.log")
                run = {
                    "type": out_type, "rep": rep, "first": order[0],
                    "ours_s": result["ours"][0], "ours_rss": result["ours"][1],
                    "theirs_s": result["llama.cpp"][0], "theirs_rss": result["llama.cpp"][1],
                }  # fmt: skip
                print(
                    f"{out_type} #{rep + 1} ({order[0]} first): ours {run['ours_s']:.1f} s, "
                    f"{run['ours_rss'] / 1e6:.0f} MB; llama.cpp {run['theirs_s']:.1f} s, "
                    f"{run['theirs_rss'] / 1e6:.0f} MB",
                    flush=True,
                )
                if rep == 0:
                    size = ours.stat().st_size
                    check = compare(ours, theirs, llama_dir)
                    print(f"  {json.dumps(check)}", flush=True)
                runs.append(run)
                pairs.append(run)
                ours.unlink()
                theirs.unlink()
            note = ""
            if check["differing"]:
                note += (
                    f"{out_type}: {len(check['differing'])} tensors differ in their bytes "
                    f"(e.g. {', '.join(check['differing'][:3])}). "
                )
            for label, keys in (
                ("only ours writes", check["only_ours"]),
                ("only llama.cpp writes", check["only_theirs"]),
                ("values differ for", check["values_differ"]),
            ):
                if keys:
                    note += f"{out_type} metadata: {label} {', '.join(f'`{k}`' for k in keys)}. "
            rows.append(
                {
                    "type": out_type,
                    "ours_s": median([p["ours_s"] for p in pairs]),
                    "theirs_s": median([p["theirs_s"] for p in pairs]),
                    "ratio": median([p["ours_s"] / p["theirs_s"] for p in pairs]),
                    "ours_rss": median([p["ours_rss"] for p in pairs]),
                    "theirs_rss": median([p["theirs_rss"] for p in pairs]),
                    "rss_ratio": median([p["ours_rss"] / p["theirs_rss"] for p in pairs]),
                    "bytes": size,
                    "tensors": check["tensors"],
                    "identical": check["identical"],
                    "same_metadata": not (check["only_ours"] or check["only_theirs"] or check["values_differ"]),
                    "note": note.strip(),
                }
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info["minutes"] = (time.monotonic() - started) / 60
    info["load_after"] = f"{os.getloadavg()[0]:.1f}"
    publish(section(info, rows, runs), SECTION_START, SECTION_END, "convert-llamacpp")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--llamacpp-child"]:
        llamacpp_child(Path(sys.argv[2]), sys.argv[3:])
    else:
        sys.exit(main())
