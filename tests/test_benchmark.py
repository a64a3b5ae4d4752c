"""The benchmark runs both modes and reports consistent numbers."""

import pytest
import tensorflow as tf

from tf_mmjsd import benchmark


@pytest.mark.slow
@pytest.mark.parametrize("mode", benchmark.MODES)
def test_measure_reports_rates(mode, tiny_config):
  cfg = tiny_config()
  result = benchmark.measure(cfg, mode, steps=3, repeats=2, warmup=1,
                             log=lambda *_: None)
  rate = result["examples_per_second"]
  assert 0 < rate["min"] <= rate["median"] <= rate["max"]
  assert result["batch_size"] == 32 and result["replicas"] == 1
  assert result["roofline_fraction"] == pytest.approx(
      rate["median"] / result["roofline_examples_per_second"])
  assert result["roofline_examples_per_second"] == pytest.approx(
      result["matmul_flops_per_second"] / result["step_flops_per_example"])


def test_graph_flops_are_the_closed_form_counts():
  """2 per multiply-add of a matmul and of a convolution."""
  @tf.function
  def f(x, w, images, kernel):
    return tf.matmul(x, w), tf.nn.conv2d(images, kernel, 1, "VALID")

  graph = f.get_concrete_function(
      tf.TensorSpec([8, 5]), tf.TensorSpec([5, 3]),
      tf.TensorSpec([2, 6, 6, 4]), tf.TensorSpec([3, 3, 4, 7])).graph
  matmul = 2 * 8 * 5 * 3
  conv = 2 * (2 * 4 * 4 * 7) * (3 * 3 * 4)  # per output value: 3x3x4 MACs
  assert benchmark.graph_flops(graph) == matmul + conv


@pytest.mark.slow
def test_step_flops_are_per_example_and_mostly_the_networks(tiny_config):
  cfg = tiny_config()
  small, large = (benchmark.step_flops(cfg, b) for b in (16, 64))
  assert small == pytest.approx(large, rel=0.01)
  assert benchmark.matmul_rate(size=256, repeats=2) > 1e8  # 0.1 GFLOP/s


def test_unknown_mode_is_refused(tiny_config):
  with pytest.raises(ValueError, match="mode must be one of"):
    benchmark.measure(tiny_config(), "fast")
