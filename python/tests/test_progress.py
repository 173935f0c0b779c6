import io
import json
import math

from progress import ProgressReporter, format_duration
from tests.fixtures import TempDirTestCase


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class ProgressReporterTest(TempDirTestCase):
    def test_appends_one_json_line_per_step_with_step_total_loss_and_eta(self):
        clock = FakeClock()
        out = io.StringIO()
        file = self.tmp / "progress" / "coder.jsonl"
        reporter = ProgressReporter(30, file, out=out, clock=clock)
        reporter.start()
        clock.now += 2.0
        reporter.step(1, 2.5)
        clock.now += 2.0
        reporter.step(2, 2.25)
        lines = [json.loads(line) for line in file.read_text().splitlines()]
        self.assertEqual(
            lines,
            [
                {"step": 1, "total": 30, "loss": 2.5, "eta_s": 58.0},
                {"step": 2, "total": 30, "loss": 2.25, "eta_s": 56.0},
            ],
        )
        for line in lines:
            self.assertEqual(set(line), {"step", "total", "loss", "eta_s"})
            self.assertIsInstance(line["step"], int)
            self.assertIsInstance(line["eta_s"], float)
        self.assertIn("step 2/30 (6%)  loss 2.2500  eta 56s", out.getvalue())

    def test_starts_a_fresh_file_each_run(self):
        file = self.tmp / "p.jsonl"
        file.write_text('{"step": 9, "total": 9, "loss": 1.0, "eta_s": 0.0}\n')
        ProgressReporter(3, file, out=io.StringIO(), clock=FakeClock()).step(1, 1.0)
        self.assertEqual(len(file.read_text().splitlines()), 1)

    def test_reaches_zero_eta_on_the_last_step(self):
        clock = FakeClock()
        reporter = ProgressReporter(2, None, out=io.StringIO(), clock=clock)
        reporter.start()
        clock.now += 1
        reporter.step(1, 1.0)
        clock.now += 1
        self.assertEqual(reporter.step(2, 0.5)["eta_s"], 0.0)

    def test_refuses_a_non_finite_loss_rather_than_write_invalid_json(self):
        reporter = ProgressReporter(2, self.tmp / "p.jsonl", out=io.StringIO(), clock=FakeClock())
        for bad in (math.nan, math.inf):
            with self.assertRaises(ValueError):
                reporter.step(1, bad)
        self.assertEqual((self.tmp / "p.jsonl").read_text(), "")

    def test_formats_durations_for_people(self):
        self.assertEqual(format_duration(42.4), "42s")
        self.assertEqual(format_duration(125), "2m05s")
        self.assertEqual(format_duration(3 * 3600 + 7 * 60), "3h07m")
