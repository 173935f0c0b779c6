"""The SFT dataset: reading and validating the exporter's chat JSONL, the held-out split, and the batch order.

Each line is `{"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}`, the format
src/core/dataset/sftExport.ts writes and TRL, Unsloth and OpenAI fine-tuning read. Everything here is stdlib only, so a bad
dataset is reported (file and 1-based line) before torch is even imported.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from cli_errors import DatasetError

ROLES = ("system", "user", "assistant")
#: The held-out set never has fewer examples than this: the deploy gate (eval_gate.py) needs three for an interval.
MIN_EVAL_EXAMPLES = 3
#: The smallest dataset that can be split: MIN_EVAL_EXAMPLES held out and one to train on.
MIN_DATASET_SIZE = MIN_EVAL_EXAMPLES + 1

Message = Dict[str, str]


@dataclass(frozen=True)
class Example:
    line: int
    """1-based line in the JSONL file, for messages about this example."""
    messages: Tuple[Message, ...]


@dataclass(frozen=True)
class Split:
    train: List[Example]
    eval: List[Example]


def load_examples(path: Path | str, min_examples: int = MIN_DATASET_SIZE) -> List[Example]:
    """Reads and validates every line; raises DatasetError naming the file and the first bad line."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(path, "the dataset file does not exist; export the SFT dataset first.")
    if path.is_dir():
        raise DatasetError(path, "this is a folder; --data takes the JSONL file the exporter wrote.")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DatasetError(path, f"the dataset file cannot be read ({err.strerror or err}).") from err

    examples: List[Example] = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]  # a UTF-8 byte-order mark, as some editors write
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DatasetError(path, f"not valid UTF-8 (byte {err.start + 1} of the line).", number) from err
        if text.strip():
            examples.append(parse_example(text, path, number))

    if not examples:
        raise DatasetError(path, "the dataset is empty (no examples); export some high-reward runs first.")
    if len(examples) < min_examples:
        raise DatasetError(
            path,
            f"{len(examples)} example{'s' if len(examples) != 1 else ''}, but training needs at least {min_examples} "
            "(--min-examples); record more runs and export again.",
        )
    return examples


def parse_example(text: str, path: Path | str, line: int) -> Example:
    """One JSONL line → Example; raises DatasetError with the line number and what is wrong."""

    def bad(reason: str) -> DatasetError:
        return DatasetError(path, reason, line)

    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError as err:
        raise bad(f"not valid JSON ({err.msg} at column {err.colno}).") from err
    if not isinstance(value, dict):
        raise bad(f'expected an object {{"messages": [...]}}, found {_json_type(value)}.')
    if "messages" not in value:
        raise bad('the object has no "messages" key; each line must be {"messages": [{"role": ..., "content": ...}]}.')
    raw_messages = value["messages"]
    if not isinstance(raw_messages, list):
        raise bad(f'"messages" must be a list, found {_json_type(raw_messages)}.')
    if not raw_messages:
        raise bad('"messages" is empty.')

    messages: List[Message] = []
    for index, message in enumerate(raw_messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise bad(f"{where} must be an object with role and content, found {_json_type(message)}.")
        role = message.get("role")
        if role not in ROLES:
            found = "no role" if role is None else f"role {json.dumps(role)}"
            raise bad(f"{where} has {found}; the role must be one of {', '.join(ROLES)}.")
        content = message.get("content")
        if not isinstance(content, str):
            found = "no content" if content is None else f"content of type {_json_type(content)}"
            raise bad(f"{where} ({role}) has {found}; content must be a string.")
        # Only role and content reach the chat template: other keys (name, weight, ...) mean nothing here.
        messages.append({"role": role, "content": content})

    if not any(m["role"] == "assistant" and m["content"].strip() for m in messages):
        raise bad("no assistant message with content: there is nothing to learn from this example.")
    return Example(line=line, messages=tuple(messages))


def eval_count(total: int, fraction: float) -> int:
    """Held-out examples: `fraction` of the dataset rounded up, at least MIN_EVAL_EXAMPLES, leaving one to train."""
    wanted = max(MIN_EVAL_EXAMPLES, math.ceil(total * fraction - 1e-9))
    return max(0, min(wanted, total - 1))


def split_examples(examples: Sequence[Example], eval_fraction: float, seed: int) -> Split:
    """A deterministic held-out split for a seed; both halves keep the file's order."""
    if len(examples) < MIN_DATASET_SIZE:
        raise ValueError(f"cannot split {len(examples)} examples; at least {MIN_DATASET_SIZE} are needed")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    held_out = set(order[: eval_count(len(examples), eval_fraction)])
    return Split(
        train=[e for i, e in enumerate(examples) if i not in held_out],
        eval=[e for i, e in enumerate(examples) if i in held_out],
    )


def steps_per_epoch(train_examples: int, batch_size: int) -> int:
    return math.ceil(train_examples / batch_size)


def total_steps(train_examples: int, batch_size: int, epochs: int) -> int:
    """Optimizer steps for the whole run: one per batch, the last batch of an epoch may be short."""
    return epochs * steps_per_epoch(train_examples, batch_size)


def optimizer_steps(train_examples: int, batch_size: int, epochs: int, grad_accum: int = 1) -> int:
    """Optimizer steps with gradient accumulation: every `grad_accum` batches of an epoch (the last group may be
    short), so an epoch's tail is never carried into the next."""
    return epochs * math.ceil(steps_per_epoch(train_examples, batch_size) / grad_accum)


def epoch_batches(train_examples: int, batch_size: int, epochs: int, seed: int) -> List[List[int]]:
    """The index batches of every epoch, in order: each epoch reshuffled, deterministically for a seed."""
    batches: List[List[int]] = []
    for epoch in range(epochs):
        order = list(range(train_examples))
        random.Random(f"{seed}/{epoch}").shuffle(order)
        batches += [order[i : i + batch_size] for i in range(0, train_examples, batch_size)]
    return batches


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
