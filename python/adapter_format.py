"""The adapter folder train_lora.py writes: PEFT's LoRA files, plain LoRA only, on a llama/qwen2 block's seven
linear layers. Our GGUF converter (src/core/convert/loraConvert.ts) and llama.cpp take nothing else: llama.cpp scales an
adapter by alpha/r, which rsLoRA (alpha/sqrt(r)) and DoRA (magnitude vectors) break, and a GGUF adapter cannot
carry LoRA on embeddings or lm_head, nor modules_to_save copies."""

from __future__ import annotations

from typing import Any, Dict

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
LORA_DROPOUT = 0.05

ADAPTER_CONFIG_FILE = "adapter_config.json"
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"
#: The base model's config.json beside the adapter: the converter reads the architecture and head counts from it.
BASE_CONFIG_FILE = "config.json"
#: Held-out losses and run facts; written last, so its presence means the adapter beside it is complete.
EVAL_FILE = "eval.json"


def lora_settings(rank: int, alpha: float, dropout: float = LORA_DROPOUT) -> Dict[str, Any]:
    """peft.LoraConfig's arguments. Dropout only regularises training; the adapter's weights do not carry it."""
    return {
        "r": rank,
        "lora_alpha": alpha,
        "target_modules": list(TARGET_MODULES),
        "lora_dropout": dropout,
        "bias": "none",
        "task_type": "CAUSAL_LM",
        "use_rslora": False,
        "use_dora": False,
    }


def adapter_config(base_model: str, rank: int, alpha: float) -> Dict[str, Any]:
    """The adapter_config.json PEFT's save_pretrained writes for lora_settings(), in the keys the converter reads."""
    return {
        "peft_type": "LORA",
        "base_model_name_or_path": base_model,
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "modules_to_save": None,
        "rank_pattern": {},
        "alpha_pattern": {},
        **lora_settings(rank, alpha),
    }
