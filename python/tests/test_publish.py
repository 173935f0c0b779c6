from publish import publish, staging_dir
from tests.fixtures import TempDirTestCase


class PublishTest(TempDirTestCase):
    def test_moves_the_staged_files_in_and_keeps_other_files(self):
        output = self.tmp / "lora" / "coder"
        output.mkdir(parents=True)
        (output / "adapter.gguf").write_text("converted earlier")
        (output / "eval.json").write_text("old")
        staging = staging_dir(output)
        self.assertEqual(staging.parent, output.parent)
        (staging / "adapter_config.json").write_text("new config")
        (staging / "eval.json").write_text("new")
        publish(staging, output, last="eval.json")
        self.assertEqual((output / "eval.json").read_text(), "new")
        self.assertEqual((output / "adapter_config.json").read_text(), "new config")
        self.assertEqual((output / "adapter.gguf").read_text(), "converted earlier")
        self.assertFalse(staging.exists())

    def test_removes_stale_weight_files_the_new_set_lacks(self):
        output = self.tmp / "merged"
        output.mkdir()
        for name in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "README.md"):
            (output / name).write_text("old")
        staging = staging_dir(output)
        (staging / "model.safetensors").write_text("new")
        publish(staging, output, stale=("model*.safetensors",))
        self.assertEqual(sorted(p.name for p in output.iterdir()), ["README.md", "model.safetensors"])

    def test_creates_the_output_folder(self):
        output = self.tmp / "a" / "b"
        staging = staging_dir(output)
        (staging / "x").write_text("1")
        publish(staging, output)
        self.assertEqual((output / "x").read_text(), "1")
