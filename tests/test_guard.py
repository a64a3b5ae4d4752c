"""NonFiniteGuard: a step with a NaN or infinite term or gradient applies no
update, in both modes, on one device and on two replicas."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tf_mmjsd import guard as guard_lib
from tf_mmjsd import run_checkpoints, training
from tf_mmjsd.config import ExperimentConfig
from tf_mmjsd.data.specs import parse_modality

SPECS = (parse_modality("a:6:laplace:mlp"), parse_modality("b:4:laplace:mlp"))


def _model(mode, max_consecutive=2):
  config = ExperimentConfig(modalities=SPECS, latent_dim=3, batch_size=8,
                            learning_rate=1e-2, on_nonfinite=mode,
                            max_consecutive_skips=max_consecutive)
  strategy = tf.distribute.get_strategy()
  model = training.build(config, strategy)
  return model, training.make_train_function(model, strategy)


def _batches(bad_at, n=6):
  rng = np.random.default_rng(0)
  a = rng.random((n, 8, 6), np.float32)
  a[list(bad_at), 3, 2] = np.nan  # one NaN value in example 3
  b = rng.random((n, 8, 4), np.float32)
  ds = tf.data.Dataset.from_tensor_slices({"inputs": {"a": a, "b": b}})
  return iter(ds)


def _weights(model):
  return {k: v.numpy().copy()
          for k, v in run_checkpoints.variables_by_path(model).items()}


def _changed(before, after):
  return any(not np.array_equal(before[k], after[k]) for k in before)


def test_skip_batch_skips_bad_steps_counts_them_and_stops_after_n_in_a_row():
  model, train = _model("skip_batch", max_consecutive=2)
  batches = _batches(bad_at=(1, 3, 4))
  log = []
  for _ in range(6):
    before = _weights(model)
    train(batches, tf.constant(1))
    log.append((_changed(before, _weights(model)),
                int(model.guard.skipped.numpy()), model.guard.failure()))
  assert [changed for changed, _, _ in log] == [True, False, True, False,
                                                False, False]
  assert [skipped for _, skipped, _ in log] == [0, 1, 1, 2, 3, 3]
  assert log[3][2] is None  # one bad batch in a row: training goes on
  step, names = log[4][2]  # the second in a row stops the run
  assert step == 4 and "rec_a" in names and "loss" in names
  assert guard_lib.GRADIENTS in names
  # The stopped loop takes no more batches: the step count stays.
  assert int(model.step.numpy()) == 5
  # The running means never saw the NaN terms.
  assert np.isfinite(float(model.trackers["loss"].result()))


def test_stop_records_the_first_bad_step_and_updates_nothing_after_it():
  model, train = _model("stop")
  batches = _batches(bad_at=(2,))
  train(batches, tf.constant(2))
  assert model.guard.failure() is None
  before = _weights(model)
  adam_before = [v.numpy().copy() for v in model.optimizer.variables]
  train(batches, tf.constant(3))  # the bad batch, then two good ones
  assert not _changed(before, _weights(model))
  assert all(np.array_equal(a, v.numpy())
             for a, v in zip(adam_before, model.optimizer.variables))
  step, names = model.guard.failure()
  assert step == 2 and "rec_a" in names
  assert int(model.step.numpy()) == 3  # the call ended after the bad step


def test_the_skipped_count_is_training_state_and_old_checkpoints_restore(
    tmp_path):
  model, train = _model("skip_batch", max_consecutive=5)
  train(_batches(bad_at=(0, 1)), tf.constant(3))
  assert int(model.guard.skipped.numpy()) == 2
  path = run_checkpoints.checkpoint_of(model, model.optimizer).save(
      str(tmp_path / "new" / "ckpt"))
  # A checkpoint of the state before the guard existed.
  old_state = {k: v for k, v in model.state_variables.items()
               if k != "skipped_batches"}
  old = tf.train.Checkpoint(model=run_checkpoints.variables_by_path(model),
                            state=old_state, optimizer=model.optimizer)
  old_path = old.save(str(tmp_path / "old" / "ckpt"))
  fresh, _ = _model("skip_batch")
  run_checkpoints.restore(fresh, path, fresh.optimizer)
  assert int(fresh.guard.skipped.numpy()) == 2
  again, _ = _model("skip_batch")
  run_checkpoints.restore(again, old_path, again.optimizer)
  assert int(again.guard.skipped.numpy()) == 0
  assert int(again.step.numpy()) == 3


def test_modes_are_validated():
  with pytest.raises(ValueError, match="mode must be one of"):
    guard_lib.NonFiniteGuard("ignore", ["loss"])
  with pytest.raises(ValueError, match="max_consecutive"):
    guard_lib.NonFiniteGuard("skip_batch", ["loss"], max_consecutive=0)


MIRRORED = textwrap.dedent("""
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tf_mmjsd import distribution, run_checkpoints, training
    from tf_mmjsd.config import ExperimentConfig
    from tf_mmjsd.data.specs import parse_modality

    specs = (parse_modality("a:6:laplace:mlp"),
             parse_modality("b:4:laplace:mlp"))
    config = ExperimentConfig(modalities=specs, latent_dim=3, batch_size=8,
                              on_nonfinite="skip_batch")
    strategy = distribution.make_strategy("mirrored")
    model = training.build(config, strategy)
    train = training.make_train_function(model, strategy)
    rng = np.random.default_rng(0)
    a = rng.random((3, 8, 6), np.float32)
    a[1, 6, 0] = np.inf  # row 6 of the global batch: replica 1 only
    b = rng.random((3, 8, 4), np.float32)
    data = distribution.distribute(
        strategy, 8, lambda p, k, n: tf.data.Dataset.from_tensor_slices(
            {"inputs": {"a": a, "b": b}}).unbatch().batch(n))
    iterator = iter(data)
    def weights():
      by_path = run_checkpoints.variables_by_path(model)
      return [v.numpy() for v in by_path.values()]
    moved = []
    for _ in range(3):
      before = weights()
      train(iterator, tf.constant(1))
      moved.append(any(not np.array_equal(x, y)
                       for x, y in zip(before, weights())))
    per_replica = [[float(np.max(np.abs(v.numpy()))) for v in
                    strategy.experimental_local_results(w)]
                   for w in model.trainable_variables[:2]]
    print("replicas", strategy.num_replicas_in_sync, "moved", moved,
          "skipped", int(model.guard.skipped.numpy()))
    assert all(len(set(r)) == 1 for r in per_replica), per_replica
    print("OK")
""")


@pytest.mark.process
def test_two_replicas_skip_together_when_one_sees_an_infinity():
  out = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True,
                       text=True, timeout=600)
  assert out.returncode == 0, out.stdout + out.stderr[-3000:]
  assert "replicas 2 moved [True, False, True] skipped 1" in out.stdout, (
      out.stdout)
  assert "OK" in out.stdout
