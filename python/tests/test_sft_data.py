import json
import unittest

from cli_errors import DatasetError, ExitCode
from sft_data import epoch_batches, eval_count, load_examples, split_examples, total_steps
from tests.fixtures import TempDirTestCase, dataset_lines, example


class LoadExamplesTest(TempDirTestCase):
    def assert_bad_line(self, bad: str, line: int, *fragments: str) -> DatasetError:
        lines = dataset_lines(12)
        lines.insert(line - 1, bad)
        path = self.write("sft.jsonl", lines)
        with self.assertRaises(DatasetError) as caught:
            load_examples(path, 3)
        err = caught.exception
        self.assertEqual(err.line, line)
        self.assertEqual(err.exit_code, ExitCode.BAD_INPUT)
        self.assertTrue(str(err).startswith(f"{path}:{line}: "), str(err))
        for fragment in fragments:
            self.assertIn(fragment, str(err))
        return err

    def test_reads_the_exporters_format_in_file_order(self):
        examples = load_examples(self.dataset(12), 10)
        self.assertEqual(len(examples), 12)
        self.assertEqual([e.line for e in examples], list(range(1, 13)))
        self.assertEqual(examples[3].messages[1], {"role": "user", "content": "task 3"})
        self.assertEqual(examples[3].messages[2]["role"], "assistant")

    def test_skips_blank_lines_and_a_byte_order_mark_but_keeps_true_line_numbers(self):
        lines = dataset_lines(4)
        path = self.tmp / "sft.jsonl"
        path.write_bytes(b"\xef\xbb\xbf" + "\n\n".join(lines).encode() + b"\n\n   \n")
        examples = load_examples(path, 3)
        self.assertEqual([e.line for e in examples], [1, 3, 5, 7])

    def test_keeps_only_role_and_content(self):
        record = example()
        record["messages"][1]["name"] = "alice"
        path = self.write("sft.jsonl", [json.dumps(record)] * 3)
        self.assertEqual(load_examples(path, 3)[0].messages[1], {"role": "user", "content": "Write a function"})

    def test_a_missing_file_is_named(self):
        with self.assertRaises(DatasetError) as caught:
            load_examples(self.tmp / "nope.jsonl")
        self.assertIn("nope.jsonl: the dataset file does not exist", str(caught.exception))
        self.assertIsNone(caught.exception.line)

    def test_a_folder_is_not_a_dataset(self):
        with self.assertRaises(DatasetError) as caught:
            load_examples(self.tmp)
        self.assertIn("folder", str(caught.exception))

    def test_an_empty_file_says_it_is_empty(self):
        for content in ("", "\n\n  \n"):
            path = self.tmp / "sft.jsonl"
            path.write_text(content)
            with self.assertRaises(DatasetError) as caught:
                load_examples(path)
            self.assertIn("the dataset is empty", str(caught.exception))

    def test_too_few_examples_names_the_minimum(self):
        with self.assertRaises(DatasetError) as caught:
            load_examples(self.dataset(7), 10)
        self.assertIn("7 examples, but training needs at least 10 (--min-examples)", str(caught.exception))

    def test_malformed_json_names_the_line_and_column(self):
        self.assert_bad_line('{"messages": [', 5, "not valid JSON", "column")

    def test_invalid_utf8_names_the_line(self):
        lines = dataset_lines(5)
        path = self.tmp / "sft.jsonl"
        path.write_bytes("\n".join(lines[:2]).encode() + b"\n\xff\xfe\n" + "\n".join(lines[2:]).encode())
        with self.assertRaises(DatasetError) as caught:
            load_examples(path, 3)
        self.assertEqual(caught.exception.line, 3)
        self.assertIn("UTF-8", str(caught.exception))

    def test_a_line_that_is_not_an_object(self):
        self.assert_bad_line("[1, 2]", 2, "expected an object", "a list")

    def test_a_line_without_messages(self):
        self.assert_bad_line('{"prompt": "x", "completion": "y"}', 1, 'no "messages" key')

    def test_messages_must_be_a_non_empty_list(self):
        self.assert_bad_line('{"messages": "hi"}', 4, '"messages" must be a list', "a string")
        self.assert_bad_line('{"messages": []}', 4, '"messages" is empty')

    def test_a_message_must_be_an_object(self):
        self.assert_bad_line('{"messages": ["hi"]}', 6, "messages[0] must be an object")

    def test_roles_are_system_user_or_assistant(self):
        bad = json.dumps({"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}]})
        self.assert_bad_line(bad, 8, 'messages[1] has role "tool"', "system, user, assistant")
        self.assert_bad_line('{"messages": [{"content": "x"}]}', 8, "messages[0] has no role")

    def test_content_must_be_a_string(self):
        bad = json.dumps({"messages": [{"role": "user", "content": ["x"]}, {"role": "assistant", "content": "y"}]})
        self.assert_bad_line(bad, 3, "messages[0] (user) has content of type a list")
        self.assert_bad_line('{"messages": [{"role": "assistant"}]}', 3, "(assistant) has no content")

    def test_every_example_needs_an_assistant_message_with_content(self):
        only_user = json.dumps({"messages": [{"role": "user", "content": "x"}]})
        self.assert_bad_line(only_user, 10, "no assistant message")
        empty = json.dumps(example(answer="  "))
        self.assert_bad_line(empty, 11, "no assistant message")


class SplitTest(unittest.TestCase):
    def examples(self, n):
        from sft_data import Example

        return [Example(line=i + 1, messages=({"role": "assistant", "content": str(i)},)) for i in range(n)]

    def test_holds_out_a_tenth_but_at_least_three_and_leaves_one_to_train(self):
        cases = {4: 3, 10: 3, 30: 3, 31: 4, 100: 10, 105: 11, 500: 50}
        for total, held in cases.items():
            self.assertEqual(eval_count(total, 0.1), held, total)
        self.assertEqual(eval_count(4, 0.9), 3)
        self.assertEqual(eval_count(10, 0.5), 5)

    def test_is_deterministic_for_a_seed_and_keeps_file_order(self):
        examples = self.examples(50)
        a = split_examples(examples, 0.1, 42)
        b = split_examples(examples, 0.1, 42)
        self.assertEqual(a, b)
        self.assertEqual(len(a.eval), 5)
        self.assertEqual(len(a.train), 45)
        self.assertEqual(sorted(e.line for e in a.train + a.eval), list(range(1, 51)))
        self.assertEqual([e.line for e in a.eval], sorted(e.line for e in a.eval))
        self.assertNotEqual(split_examples(examples, 0.1, 7).eval, a.eval)

    def test_refuses_fewer_than_three_examples(self):
        with self.assertRaises(ValueError):
            split_examples(self.examples(2), 0.1, 1)


class StepsTest(unittest.TestCase):
    def test_one_optimizer_step_per_batch_including_a_short_last_one(self):
        self.assertEqual(total_steps(10, 2, 3), 15)
        self.assertEqual(total_steps(11, 2, 3), 18)
        self.assertEqual(total_steps(1, 4, 1), 1)

    def test_batches_cover_every_example_once_per_epoch_reshuffled_deterministically(self):
        batches = epoch_batches(11, 2, 3, 42)
        self.assertEqual(len(batches), total_steps(11, 2, 3))
        per_epoch = len(batches) // 3
        epochs = [sorted(i for b in batches[k * per_epoch : (k + 1) * per_epoch] for i in b) for k in range(3)]
        self.assertTrue(all(e == list(range(11)) for e in epochs))
        self.assertNotEqual(batches[:per_epoch], batches[per_epoch : 2 * per_epoch])
        self.assertEqual(batches, epoch_batches(11, 2, 3, 42))


if __name__ == "__main__":
    unittest.main()
