"""The transformers side of test/loop/llamaCpp.test.ts: tiny models, a PEFT adapter, merge_lora.py's merge, and
the next-token log-probabilities transformers computes from them, for llama.cpp to be compared against.

    python -m tests.reference_logprobs OUT_DIR

For each of qwen2 and llama (tests/tiny_models.py) it writes OUT_DIR/<kind>/base (the tiny model), <kind>/adapter
(a PEFT LoRA adapter with random, non-zero A and B on all seven projections, the base's config.json beside it as
train_lora.py leaves it) and <kind>/merged (merge_lora.py's float32 output), and OUT_DIR/reference.json:
{kind: {"ids": [...], "base" | "adapter" | "merged": [[log-prob of every vocabulary token] per position]}}, computed
in float64 so that the reference itself adds no rounding to the comparison.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict, List

from adapter_format import BASE_CONFIG_FILE, lora_settings
from tests import tiny_models

RANK = 8
ALPHA = 16
#: k_proj gets its own rank, so PEFT scales it by alpha/4 and the others by alpha/8: llama.cpp must see the same
#: scales from the one lora_alpha the GGUF adapter carries (it divides by each tensor's own rank).
RANK_PATTERN = {"k_proj": 4}
#: tiny_models' weights come from transformers' init (std 0.02, norms 1, biases 0): attention is then almost uniform
#: and the norms and biases are invisible, so a wrong q/k permutation, rope or norm would barely move a log-prob.
#: Scaling the matrices to std 0.1 and giving norms and biases random values makes every tensor matter.
WEIGHT_SCALE = 5.0
NORM_SPREAD = 0.3
BIAS_SPREAD = 0.3

MESSAGES = [
    {"role": "system", "content": "You are a careful coding assistant. Answer with code only."},
    {"role": "user", "content": "Write a function that adds two numbers."},
    {"role": "assistant", "content": "def add(a, b):\n    return a + b\n"},
]


def distinct_weights(folder: Path, seed: int) -> None:
    """Rewrites the model in `folder` with weights in which every tensor changes the output (see WEIGHT_SCALE)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            if "norm" in name:
                p.copy_(1 + NORM_SPREAD * noise)
            elif name.endswith(".bias"):
                p.copy_(BIAS_SPREAD * noise)
            else:
                p.mul_(WEIGHT_SCALE)
    model.save_pretrained(str(folder), safe_serialization=True)


def random_adapter(base: Path, out: Path, seed: int) -> None:
    """A PEFT adapter whose B is not zero (init_lora_weights=False), saved as train_lora.py saves one."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    config = LoraConfig(**lora_settings(RANK, ALPHA), rank_pattern=RANK_PATTERN, init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(str(out), safe_serialization=True)
    peft_model.get_base_model().config.to_json_file(str(out / BASE_CONFIG_FILE), use_diff=False)


def merge(base: Path, adapter: Path, out: Path) -> None:
    import merge_lora

    code = merge_lora.main([
        "--base-model", str(base), "--adapter", str(adapter), "--output", str(out), "--allow-cpu",
        "--dtype", "float32",
    ])  # fmt: skip
    if code != 0:
        raise RuntimeError(f"merge_lora.py exited with {code}")


def log_probs(model, ids: List[int]) -> List[List[float]]:
    import torch

    with torch.no_grad():
        logits = model.double().eval()(torch.tensor([ids])).logits[0]
        return torch.log_softmax(logits, dim=-1).tolist()


def reference(kind: str, out: Path, seed: int) -> Dict[str, object]:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = out / kind
    base = tiny_models.build(kind, folder, seed=seed)
    base = base.rename(folder / "base")
    distinct_weights(base, seed)
    adapter = folder / "adapter"
    random_adapter(base, adapter, seed)
    merged = folder / "merged"
    merge(base, adapter, merged)

    tokenizer = AutoTokenizer.from_pretrained(str(base))
    text = tokenizer.apply_chat_template(MESSAGES, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]

    def load(path: Path):
        return AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)

    return {
        "ids": ids,
        "base": log_probs(load(base), ids),
        "adapter": log_probs(PeftModel.from_pretrained(load(base), str(adapter)), ids),
        "merged": log_probs(load(merged), ids),
    }


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.reference_logprobs OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    result = {kind: reference(kind, out, seed) for seed, kind in enumerate(("qwen2", "llama"))}
    (out / "reference.json").write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
