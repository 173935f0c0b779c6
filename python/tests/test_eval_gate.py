import math
import unittest

from eval_gate import MIN_GATE_EXAMPLES, deploy_gate, t95


class DeployGateTest(unittest.TestCase):
    def test_a_consistent_fall_passes_with_its_bound(self):
        gate = deploy_gate([2.0, 2.1, 1.9, 2.0], [1.5, 1.6, 1.45, 1.5])
        self.assertTrue(gate.passed)
        self.assertAlmostEqual(gate.mean_change, -0.4875)
        self.assertLess(gate.upper_bound, 0)
        self.assertIn("fell by 0.4875", gate.reason)

    def test_a_fall_carried_by_one_example_is_noise(self):
        # The mean falls (as `after < before` alone would accept) but two of three examples got worse.
        gate = deploy_gate([2.0, 2.0, 2.0], [0.5, 2.1, 2.2])
        self.assertLess(gate.mean_change, 0)
        self.assertFalse(gate.passed)
        self.assertIn("less than its noise", gate.reason)

    def test_two_examples_never_pass(self):
        gate = deploy_gate([3.0, 3.0], [1.0, 1.0])
        self.assertFalse(gate.passed)
        self.assertEqual(gate.upper_bound, math.inf)
        self.assertIn(f"at least {MIN_GATE_EXAMPLES}", gate.reason)
        self.assertIsNone(gate.as_json()["upper_bound_95"])

    def test_a_rise_fails_saying_so(self):
        gate = deploy_gate([1.0, 1.0, 1.0], [1.1, 1.2, 1.1])
        self.assertFalse(gate.passed)
        self.assertIn("did not fall", gate.reason)

    def test_t_table(self):
        self.assertEqual(t95(1), 6.314)
        self.assertEqual(t95(30), 1.697)
        self.assertEqual(t95(200), 1.645)
        with self.assertRaises(ValueError):
            deploy_gate([1.0], [1.0, 2.0])


if __name__ == "__main__":
    unittest.main()
