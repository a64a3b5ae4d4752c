"""Strategies, TF_CONFIG, and steps that do not depend on how they run.

The equivalence checks run in a subprocess because logical CPU devices
must be configured before TensorFlow initialises. The training noise is
stateless and laid out by global-batch row (noise.py), so one device, two
replicas, XLA and several steps per call must all compute the same
training run.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from tf_mmjsd import distribution

SCRIPT = textwrap.dedent("""
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tf_mmjsd import distribution, run_checkpoints, training
    from tf_mmjsd.config import ExperimentConfig
    from tf_mmjsd.data.pipeline import Pipeline
    from tf_mmjsd.data.mst import specs as mnist_svhn_text_specs
    from tf_mmjsd.data.split import Split
    from tf_mmjsd.data.mst.digit_text import DigitText

    specs = mnist_svhn_text_specs()
    rng = np.random.default_rng(0)
    n, batch, steps = 96, 32, 3
    split = Split(
        pools={"mnist": rng.integers(0, 256, (n, 28, 28, 1), np.uint8),
               "svhn": rng.integers(0, 256, (n, 32, 32, 3), np.uint8)},
        indices={"mnist": np.arange(n), "svhn": rng.permutation(n)},
        labels=rng.integers(0, 10, n).astype(np.int32),
        derived={"text": DigitText()},
        masks={"mnist": np.arange(n) % 4 != 1, "svhn": np.arange(n) % 4 != 2,
               "text": np.arange(n) % 4 != 3})
    pipe = Pipeline(split, specs)

    def run(name, **settings):
      config = ExperimentConfig(modalities=specs, batch_size=batch,
                                style_dim=2, latent_dim=6, **settings)
      strategy = distribution.make_strategy(name)
      model = training.build(config, strategy)
      train = training.make_train_function(model, strategy,
                                           config.jit_compile)
      data = distribution.distribute(
          strategy, batch, lambda p, k, b: pipe.train_dataset(
              batch, steps, 0, 0, pipeline=p, num_pipelines=k,
              replica_batch=b))
      iterator = iter(data)
      per_call = config.steps_per_execution
      for _ in range(steps // per_call):
        train(iterator, tf.constant(per_call))
      weights = run_checkpoints.variables_by_path(model)
      print(name, settings, "replicas", strategy.num_replicas_in_sync,
            "step", int(model.step.numpy()))
      return (float(model.trackers["loss"].result()),
              {k: v.numpy() for k, v in weights.items()})

    base_loss, base = run("default")
    for name, settings, tol in [("default", {"steps_per_execution": 3}, 0),
                                ("default", {"jit_compile": True}, 1e-4),
                                ("mirrored", {}, 1e-4)]:
      loss, weights = run(name, **settings)
      moved = max(float(np.max(np.abs(weights[k] - base[k])))
                  for k in base)
      print(f"  mean loss {loss:.6f} (one device {base_loss:.6f}); "
            f"largest weight difference {moved:.2e}")
      assert abs(loss - base_loss) <= tol * abs(base_loss), (loss, base_loss)
      assert moved <= 10 * tol + 1e-7, moved
    print("OK")
""")


@pytest.mark.process
def test_one_device_two_replicas_xla_and_multi_step_calls_agree():
  out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True,
                       text=True, timeout=600)
  assert out.returncode == 0, out.stdout + out.stderr[-3000:]
  assert "mirrored {} replicas 2 step 3" in out.stdout, out.stdout
  assert "OK" in out.stdout


GOOD = {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
        "task": {"type": "worker", "index": 1}}


def test_a_valid_tf_config_parses():
  cluster, task_type, index = distribution.parse_tf_config(json.dumps(GOOD))
  assert cluster == GOOD["cluster"] and (task_type, index) == ("worker", 1)


@pytest.mark.parametrize("text, message", [
    ("", "needs the TF_CONFIG environment variable"),
    ("{cluster: 1}", "not valid JSON"),
    (json.dumps({"task": GOOD["task"]}), 'no "cluster"'),
    (json.dumps({**GOOD, "cluster": {"ps": ["a:1"]}}), "unknown jobs"),
    (json.dumps({**GOOD, "cluster": {"worker": "a:1"}}), "non-empty list"),
    (json.dumps({**GOOD, "cluster": {"worker": ["a:1", "b"]}}),
     "'b' is not \"host:port\""),
    (json.dumps({**GOOD, "cluster": {"worker": ["a:99999"]}}),
     "is not \"host:port\""),
    (json.dumps({"cluster": GOOD["cluster"]}), 'no "task"'),
    (json.dumps({**GOOD, "task": {"type": "chief", "index": 0}}),
     "not a job of the cluster"),
    (json.dumps({**GOOD, "task": {"type": "worker", "index": 2}}),
     "index 2 is out of range"),
])
def test_malformed_tf_config_is_named(text, message):
  with pytest.raises(distribution.DistributionError, match=message):
    distribution.parse_tf_config(text)


def test_unknown_strategy_is_refused():
  with pytest.raises(distribution.DistributionError, match="must be one of"):
    distribution.make_strategy("parameter_server")


def test_batch_must_split_over_replicas():
  class TwoReplicas:
    num_replicas_in_sync = 2
  distribution.check_batch(64, TwoReplicas())
  with pytest.raises(distribution.DistributionError, match="divisible"):
    distribution.check_batch(63, TwoReplicas())
