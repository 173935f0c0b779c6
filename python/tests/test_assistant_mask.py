import unittest

from assistant_mask import IGNORE_INDEX, Encoded, assistant_spans, encode, encode_examples, pad_batch
from cli_errors import DatasetError
from sft_data import Example


class Vocab:
    """Word-level token ids, assigned on first sight, so tests read tokens back as text."""

    def __init__(self):
        self.ids = {}
        self.words = []

    def encode(self, tokens):
        out = []
        for t in tokens:
            if t not in self.ids:
                self.ids[t] = len(self.words)
                self.words.append(t)
            out.append(self.ids[t])
        return out

    def decode(self, ids):
        return [self.words[i] for i in ids]


def qwen_like(vocab):
    """ChatML as Qwen2.5 renders it, with its default system message when there is none."""

    def render(messages, add_generation_prompt):
        tokens = []
        if not messages or messages[0]["role"] != "system":
            tokens += ["<|im_start|>", "system", "\n", "You", "are", "helpful", "<|im_end|>", "\n"]
        for m in messages:
            tokens += ["<|im_start|>", m["role"], "\n", *m["content"].split(), "<|im_end|>", "\n"]
        if add_generation_prompt:
            tokens += ["<|im_start|>", "assistant", "\n"]
        return vocab.encode(tokens)

    return render


def ends_differently(vocab):
    """A template whose last message ends with <eos> but whose inner ones end with <eot>: prefix renderings are
    not prefixes of the whole conversation at the turn's last token."""

    def render(messages, add_generation_prompt):
        tokens = ["<bos>"]
        for i, m in enumerate(messages):
            last = i == len(messages) - 1 and not add_generation_prompt
            tokens += [f"[{m['role']}]", *m["content"].split(), "<eos>" if last else "<eot>"]
        if add_generation_prompt:
            tokens += ["[assistant]"]
        return vocab.encode(tokens)

    return render


def trained(vocab, encoded):
    return [vocab.decode([i])[0] for i, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE_INDEX]


CONVERSATION = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "add two numbers"},
    {"role": "assistant", "content": "def add(a, b): return a + b"},
    {"role": "user", "content": "now three"},
    {"role": "assistant", "content": "def add3(a, b, c): return a + b + c"},
]


class AssistantMaskTest(unittest.TestCase):
    def test_labels_only_the_assistant_turns_and_their_end_of_turn(self):
        vocab = Vocab()
        encoded = encode(CONVERSATION, qwen_like(vocab), 10_000)
        expected = []
        for m in CONVERSATION:
            if m["role"] == "assistant":
                expected += m["content"].split() + ["<|im_end|>", "\n"]
        self.assertEqual(trained(vocab, encoded), expected)
        self.assertEqual(len(encoded.labels), len(encoded.input_ids))

    def test_labels_equal_the_input_ids_where_they_are_not_ignored(self):
        vocab = Vocab()
        encoded = encode(CONVERSATION, qwen_like(vocab), 10_000)
        for token, label in zip(encoded.input_ids, encoded.labels):
            self.assertIn(label, (IGNORE_INDEX, token))

    def test_never_trains_on_the_prompt_even_when_the_template_varies_the_end_of_turn(self):
        vocab = Vocab()
        ids, spans = assistant_spans(CONVERSATION, ends_differently(vocab))
        words = vocab.decode(ids)
        self.assertEqual(words[spans[0][0] : spans[0][1]], "def add(a, b): return a + b".split())
        self.assertEqual(words[spans[1][0] : spans[1][1]], "def add3(a, b, c): return a + b + c".split() + ["<eos>"])
        for start, end in spans:
            self.assertNotIn("[user]", words[start:end])

    def test_a_default_system_message_is_never_trained(self):
        vocab = Vocab()
        encoded = encode(CONVERSATION[1:3], qwen_like(vocab), 10_000)
        self.assertEqual(trained(vocab, encoded), "def add(a, b): return a + b".split() + ["<|im_end|>", "\n"])

    def test_truncates_ids_and_labels_together(self):
        vocab = Vocab()
        render = qwen_like(vocab)
        full = encode(CONVERSATION, render, 10_000)
        cut = encode(CONVERSATION, render, 40)
        self.assertEqual(len(cut.input_ids), 40)
        self.assertEqual(cut.input_ids, full.input_ids[:40])
        self.assertEqual(cut.labels, full.labels[:40])

    def test_trainable_tokens_skip_the_first_position(self):
        self.assertEqual(Encoded([1, 2, 3], [1, IGNORE_INDEX, 3]).trainable_tokens, 1)
        self.assertEqual(Encoded([1, 2], [IGNORE_INDEX, IGNORE_INDEX]).trainable_tokens, 0)


class EncodeExamplesTest(unittest.TestCase):
    def test_drops_examples_whose_answer_is_truncated_away(self):
        vocab = Vocab()
        short = Example(1, ({"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}))
        long = Example(2, ({"role": "user", "content": "word " * 50}, {"role": "assistant", "content": "ok"}))
        kept, dropped = encode_examples([short, long], qwen_like(vocab), 30, "sft.jsonl")
        self.assertEqual(len(kept), 1)
        self.assertEqual(dropped, [long])

    def test_a_template_error_is_a_dataset_error_on_the_examples_line(self):
        def strict(messages, add_generation_prompt):
            if messages and messages[0]["role"] == "assistant":
                raise ValueError("Conversation roles must alternate user/assistant/user/assistant/...")
            return [1, 2, 3]

        example = Example(7, ({"role": "assistant", "content": "hello"},))
        with self.assertRaises(DatasetError) as caught:
            encode_examples([example], strict, 100, "sft.jsonl")
        self.assertEqual(caught.exception.line, 7)
        self.assertIn("sft.jsonl:7: the base model's chat template cannot format this example", str(caught.exception))
        self.assertIn("must alternate", str(caught.exception))


class PadBatchTest(unittest.TestCase):
    def test_right_pads_with_masked_attention_and_ignored_labels(self):
        batch = pad_batch([Encoded([5, 6, 7], [IGNORE_INDEX, 6, 7]), Encoded([8], [8])], pad_id=0)
        self.assertEqual(batch["input_ids"], [[5, 6, 7], [8, 0, 0]])
        self.assertEqual(batch["attention_mask"], [[1, 1, 1], [1, 0, 0]])
        self.assertEqual(batch["labels"], [[IGNORE_INDEX, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]])


if __name__ == "__main__":
    unittest.main()


class TemplatePropertyTest(unittest.TestCase):
    """Templates the prefix-rendering method cannot mask are refused; a think block before the answer is not
    trained."""

    conversation = (
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "Write f"},
        {"role": "assistant", "content": "def f ( ) : return 1"},
    )

    def test_a_mistral_style_template_that_moves_the_system_prompt_is_refused(self):
        from assistant_mask import UnmaskableTemplate

        vocab = Vocab()

        def mistral_like(messages, add_generation_prompt):
            # Mistral's template puts the system message into the LAST user turn: the prompt rendered up to the
            # assistant turn is then not the start of the whole conversation once more turns follow.
            system = next((m["content"] for m in messages if m["role"] == "system"), None)
            users = [i for i, m in enumerate(messages) if m["role"] == "user"]
            tokens = ["<s>"]
            for i, m in enumerate(messages):
                if m["role"] == "user":
                    extra = system.split() + ["\n\n"] if system and i == users[-1] else []
                    tokens += ["[INST]", *extra, *m["content"].split(), "[/INST]"]
                elif m["role"] == "assistant":
                    tokens += [*m["content"].split(), "</s>"]
            return vocab.encode(tokens)

        two_turns = (*self.conversation, {"role": "user", "content": "Now g"}, {"role": "assistant", "content": "g"})
        with self.assertRaises(UnmaskableTemplate) as caught:
            assistant_spans(two_turns, mistral_like)
        self.assertIn("rewrites earlier turns", str(caught.exception))
        examples = [Example(line=1, messages=two_turns)]
        with self.assertRaises(UnmaskableTemplate):  # not a DatasetError about line 1: the template is at fault
            encode_examples(examples, mistral_like, 100, "d.jsonl")

    def test_an_empty_think_block_before_the_answer_is_not_trained(self):
        vocab = Vocab()

        def qwen3_like(messages, add_generation_prompt):
            tokens = []
            for i, m in enumerate(messages):
                tokens += ["<|im_start|>", m["role"], "\n"]
                if m["role"] == "assistant":
                    tokens += ["<think>", "\n\n", "</think>", "\n\n"]
                tokens += [*m["content"].split(), "<|im_end|>", "\n"]
            if add_generation_prompt:
                tokens += ["<|im_start|>", "assistant", "\n"]
            return vocab.encode(tokens)

        def decode(ids):
            return " ".join(vocab.decode(ids))

        ids, spans = assistant_spans(self.conversation, qwen3_like, decode)
        (start, end) = spans[0]
        self.assertEqual(vocab.decode(ids[start:end]), ["def", "f", "(", ")", ":", "return", "1", "<|im_end|>", "\n"])
        # Without decode (the old behaviour) the think block would have been trained:
        _, old = assistant_spans(self.conversation, qwen3_like)
        self.assertEqual(vocab.decode(ids[old[0][0] : old[0][0] + 1]), ["<think>"])

    def test_a_template_that_changes_the_answer_is_refused(self):
        from assistant_mask import UnmaskableTemplate

        vocab = Vocab()

        def shouting(messages, add_generation_prompt):
            tokens = []
            for m in messages:
                words = m["content"].upper().split() if m["role"] == "assistant" else m["content"].split()
                tokens += [f"[{m['role']}]", *words, "<eot>"]
            if add_generation_prompt:
                tokens += ["[assistant]"]
            return vocab.encode(tokens)

        with self.assertRaises(UnmaskableTemplate) as caught:
            assistant_spans(self.conversation, shouting, lambda ids: " ".join(vocab.decode(ids)))
        self.assertIn("does not appear as written", str(caught.exception))

    def test_chatml_is_unchanged_by_the_checks(self):
        vocab = Vocab()
        render = qwen_like(vocab)
        decode = lambda ids: " ".join(vocab.decode(ids))  # noqa: E731
        self.assertEqual(assistant_spans(self.conversation, render), assistant_spans(self.conversation, render, decode))
