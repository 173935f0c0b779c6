"""Loss only on assistant tokens: which tokens of a chat-templated conversation the assistant wrote.

Chat templates differ (Qwen's <|im_start|>, Llama 3's headers, default system prompts, BOS tokens), so instead of
searching for marker tokens we render prefixes of the conversation with the model's own template and diff their
token counts: an assistant turn starts where the template's generation prompt for it ends, and ends where the
conversation rendered through that turn ends. This needs nothing from the template but `apply_chat_template`, and
is testable without a tokenizer.

It holds only for templates that render a conversation's beginning the same whether or not more follows (the
prefix property). A template that rewrites earlier turns (Mistral's puts the system prompt into the last user
turn) breaks it, and the turn would start in the wrong place: such templates are refused (UnmaskableTemplate),
never masked wrongly. Text a template puts before the answer itself (the empty `<think></think>` block of Qwen3's
template) is found by decoding the turn and left out of the loss, so the model does not learn to skip thinking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from cli_errors import DatasetError
from sft_data import Example

#: The label PyTorch's cross-entropy (and so every Hugging Face causal LM) ignores.
IGNORE_INDEX = -100

Message = Dict[str, str]
#: render(messages, add_generation_prompt) → token ids of the messages formatted by the chat template.
Render = Callable[[Sequence[Message], bool], Sequence[int]]
#: decode(token ids) → text, to find where an assistant turn's own content starts.
Decode = Callable[[Sequence[int]], str]
Span = Tuple[int, int]
#: How much of an answer's start (whitespace collapsed) identifies it inside its rendered turn.
CONTENT_HEAD_CHARS = 24
#: The longest template text before an answer that is looked past (Qwen3's empty think block is 4-6 tokens).
MAX_PREAMBLE_TOKENS = 32


class UnmaskableTemplate(Exception):
    """The chat template breaks the prefix property, or does not render an answer as written: which tokens the
    assistant wrote cannot be told, so training would learn the wrong ones."""


@dataclass(frozen=True)
class Encoded:
    input_ids: List[int]
    labels: List[int]
    #: The conversation was longer than max_seq_length and was cut (its last answer lost its end).
    truncated: bool = False

    @property
    def trainable_tokens(self) -> int:
        """Tokens the loss sees: a causal LM predicts token i from tokens before it, so label 0 never counts."""
        return sum(1 for label in self.labels[1:] if label != IGNORE_INDEX)


def assistant_spans(
    messages: Sequence[Message], render: Render, decode: Optional[Decode] = None
) -> Tuple[List[int], List[Span]]:
    """The whole conversation's token ids and the [start, end) token spans of its assistant turns.

    A span covers the turn's content and the template's end-of-turn token(s), so the model learns to stop. Where a
    template tokenizes a turn differently once more follows it (rare), the span ends where the renderings agree,
    which only ever drops tokens from the loss, never adds prompt tokens to it. With `decode`, template text
    before the content (a think block) is left out too. Raises UnmaskableTemplate when the generation prompt's
    rendering is not where the whole conversation has it.
    """
    full = list(render(messages, False))
    spans: List[Span] = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = list(render(messages[:index], True))
        if full[: len(prompt)] != prompt:
            raise UnmaskableTemplate(
                f"the conversation rendered up to assistant message {index} (with the generation prompt) is not the "
                "start of the whole conversation rendered: the template rewrites earlier turns once more follow "
                "(as Mistral's moves the system prompt into the last user turn)"
            )
        start = len(prompt)
        through = list(render(messages[: index + 1], False))
        end = min(_common_prefix(through, full), len(through))
        if decode is not None and message["content"].strip() and end > start:
            start = _content_start(full, start, end, message["content"], decode, index)
        if end > start:
            spans.append((start, end))
    return full, spans


def _content_start(ids: Sequence[int], start: int, end: int, content: str, decode: Decode, index: int) -> int:
    """The first token position in [start, end) from which the turn reads as the answer itself: the tokens a
    template puts before it (`<think>\n\n</think>\n\n`) are not the assistant's to learn. Such preambles are a few
    tokens long, so only the first MAX_PREAMBLE_TOKENS positions are tried."""
    head = " ".join(content.split())[:CONTENT_HEAD_CHARS]
    for position in range(start, min(end, start + MAX_PREAMBLE_TOKENS + 1)):
        if " ".join(decode(ids[position:end]).split()).startswith(head):
            while position + 1 < end and not decode(ids[position : position + 1]).strip():
                position += 1  # the template's whitespace before the answer is not the answer's
            return position
    raise UnmaskableTemplate(
        f"assistant message {index} does not appear as written at the start of its rendered turn (the template "
        "changes answers, or puts more than a short preamble before them), so its tokens cannot be told from the "
        "template's"
    )


def encode(messages: Sequence[Message], render: Render, max_seq_length: int, decode: Optional[Decode] = None) -> Encoded:
    """Token ids and labels (IGNORE_INDEX outside assistant turns), truncated to max_seq_length tokens."""
    ids, spans = assistant_spans(messages, render, decode)
    labels = [IGNORE_INDEX] * len(ids)
    for start, end in spans:
        labels[start:end] = ids[start:end]
    return Encoded(
        input_ids=ids[:max_seq_length], labels=labels[:max_seq_length], truncated=len(ids) > max_seq_length
    )


def encode_examples(
    examples: Sequence[Example], render: Render, max_seq_length: int, path: str, decode: Optional[Decode] = None
) -> Tuple[List[Encoded], List[Example]]:
    """Encodes every example; returns those with assistant tokens within max_seq_length, and the ones without.

    A template that cannot format an example (some insist on alternating user/assistant turns) is a dataset
    problem, reported with the example's line.
    """
    kept: List[Encoded] = []
    dropped: List[Example] = []
    for example in examples:
        try:
            encoded = encode(example.messages, render, max_seq_length, decode)
        except UnmaskableTemplate:
            raise  # the template's fault, not this example's: the caller names the template
        except Exception as err:  # templates raise jinja2 errors, ValueError, TypeError...
            raise DatasetError(
                path, f"the base model's chat template cannot format this example: {err}", example.line
            ) from err
        if encoded.trainable_tokens > 0:
            kept.append(encoded)
        else:
            dropped.append(example)
    return kept, dropped


def pad_batch(batch: Sequence[Encoded], pad_id: int) -> Dict[str, List[List[int]]]:
    """Right-pads a batch to its longest example: padding is masked from attention and from the loss."""
    width = max(len(e.input_ids) for e in batch)
    out: Dict[str, List[List[int]]] = {"input_ids": [], "attention_mask": [], "labels": []}
    for e in batch:
        pad = width - len(e.input_ids)
        out["input_ids"].append(e.input_ids + [pad_id] * pad)
        out["attention_mask"].append([1] * len(e.input_ids) + [0] * pad)
        out["labels"].append(e.labels + [IGNORE_INDEX] * pad)
    return out


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n
