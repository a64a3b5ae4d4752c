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


def test_evaluation_rate_fits_a_line_per_part_and_projects_it(
    tiny_config, monkeypatch):
  """Parts of 2 s + 10 s per 1,000 examples and of a fixed 3 s: the fit
  gives them back, and the projection follows (sample quality capped at
  quality_examples)."""
  from tf_mmjsd.evaluation import suite  # pylint: disable=g-import-not-at-top
  evaluated = []

  class Timed:

    def __init__(self, model, config, *args, **kwargs):
      del model, args, kwargs
      self.n = config.eval_examples
      assert config.likelihood_examples == config.quality_examples == self.n

    def evaluate(self):
      evaluated.append(self.n)
      return {"seconds": {"likelihood": 2 + 0.01 * self.n,
                          "sample_quality": 2 + 0.01 * self.n,
                          "figures": 3.0}}, {}

  monkeypatch.setattr(suite, "Evaluator", Timed)
  config = tiny_config(small=True, quality_examples=5000)
  result = benchmark.evaluation_rate(config, sizes=(50, 150),
                                     log=lambda *_: None)
  assert evaluated == [50, 50, 150]  # a warm-up first
  assert result["parts"]["likelihood"] == {
      "fixed_s": 2.0, "per_1000_s": 10.0, "examples_per_s": 100}
  assert result["parts"]["figures"]["per_1000_s"] == 0.0
  mst = result["projected_s"]["MNIST-SVHN-Text"]
  assert mst["examples"] == 200_000
  assert mst["likelihood"] == pytest.approx(2 + 2000)
  assert mst["sample_quality"] == pytest.approx(2 + 50)  # 5,000 examples
  assert mst["total"] == pytest.approx(2002 + 52 + 3)


def test_evaluation_rate_needs_the_test_examples_it_times(tiny_config):
  from tf_mmjsd import errors  # pylint: disable=g-import-not-at-top
  with pytest.raises(errors.UsageError, match="synthetic_test_size"):
    benchmark.evaluation_rate(tiny_config(small=True), sizes=(100, 300),
                              log=lambda *_: None)
