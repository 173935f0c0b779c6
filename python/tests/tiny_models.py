"""Tiny random models for the real-library tests, made on the spot (nothing is downloaded).

    python -m tests.tiny_models OUT_DIR            # writes OUT_DIR/qwen2 and OUT_DIR/llama

Each is a 2-layer causal LM with grouped-query attention (4 query heads, 2 key/value heads, hidden 64), built by
the installed transformers from a config and saved with its own `save_pretrained`, so config.json has the current
format (transformers 5 writes rotary settings under `rope_parameters`). The Llama one has llama3 rope scaling.
Both get a byte-level BPE tokenizer trained with `tokenizers` on a small text, and a chat template: ChatML for
Qwen2, Llama 3's headers for Llama.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List

#: The text the tokenizer is trained on; the SFT datasets of the tests use the same words, so they tokenize short.
CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "def sub(a, b):\n    return a - b\n",
    "Write a function that adds two numbers.",
    "Write a function that subtracts two numbers.",
    "You are a careful coding assistant. Answer with code only.",
    "The quick brown fox jumps over the lazy dog. 0123456789",
    "class Stack:\n    def push(self, x):\n        self.items.append(x)\n",
]

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

LLAMA3_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

#: The pre-tokenizer split regexes of Qwen2 and Llama 3 (the ones llama.cpp implements and our converter knows).
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

VOCAB_SIZE = 384
COMMON = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    rms_norm_eps=1e-6,
    tie_word_embeddings=False,
)


def _tokenizer(split: str, specials: List[str], template: str, bos: str, eos: str, pad: str):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token=bos, eos_token=eos, pad_token=pad)
    tokenizer.chat_template = template
    return tokenizer


def build(kind: str, out: Path, seed: int = 0) -> Path:
    """Builds the tiny `kind` ("qwen2" or "llama") model into out/kind and returns that folder."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    if kind == "qwen2":
        tokenizer = _tokenizer(
            QWEN2_SPLIT,
            ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], CHATML_TEMPLATE, "<|endoftext|>", "<|im_end|>",
            "<|endoftext|>",
        )
        config = Qwen2Config(vocab_size=len(tokenizer), rope_theta=1_000_000.0, **COMMON)
    elif kind == "llama":
        tokenizer = _tokenizer(
            LLAMA3_SPLIT,
            ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
            LLAMA3_TEMPLATE, "<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>",
        )
        rope: Dict[str, object] = {
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64,
        }
        config = LlamaConfig(vocab_size=len(tokenizer), rope_theta=500_000.0, rope_scaling=rope, **COMMON)
    else:
        raise ValueError(f"unknown tiny model kind {kind!r} (qwen2 or llama)")
    config.bos_token_id = tokenizer.bos_token_id
    config.eos_token_id = tokenizer.eos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    folder = out / kind
    model.save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    return folder


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.tiny_models OUT_DIR", file=sys.stderr)
        return 2
    for kind in ("qwen2", "llama"):
        print(build(kind, Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
