"""Mixed precision: networks compute low, posteriors and losses stay float32."""

import numpy as np
import pytest
import tensorflow as tf

from tf_mmjsd import benchmark, training
from tf_mmjsd.config import ExperimentConfig
from tf_mmjsd.data.mst import specs as mnist_svhn_text_specs


@pytest.mark.slow
@pytest.mark.parametrize("policy, low", [("mixed_bfloat16", "bfloat16"),
                                         ("mixed_float16", "float16")])
def test_mixed_precision_keeps_the_objective_float32(policy, low):
  config = ExperimentConfig(modalities=mnist_svhn_text_specs(), batch_size=16,
                            latent_dim=6, style_dim=2, mixed_precision=policy)
  strategy = tf.distribute.get_strategy()
  model = training.build(config, strategy)
  # The global policy is back to float32 for whatever is built next.
  assert tf.keras.mixed_precision.global_policy().name == "float32"
  for m in model.names:
    encoder, decoder = model.encoders[m], model.decoders[m]
    assert encoder.body[0].compute_dtype == low
    assert encoder.content_loc.compute_dtype == "float32"
    assert encoder.style_log_var.compute_dtype == "float32"
    assert decoder.body[0].compute_dtype == low
    assert decoder.body[-1].compute_dtype == "float32"
  assert (type(model.optimizer).__name__ == "LossScaleOptimizer") == (
      policy == "mixed_float16")
  batch = benchmark._fixed_batch(config, 16)  # pylint: disable=protected-access
  terms = model.compute_terms(batch, training=True)
  assert {t.dtype for t in terms.values()} == {tf.float32}
  train = training.make_train_function(model, strategy)
  before = [v.numpy() for v in model.trainable_variables]
  train(iter(tf.data.Dataset.from_tensors(batch).repeat()), tf.constant(30))
  assert int(model.step.numpy()) == 30
  assert np.isfinite(float(model.trackers["loss"].result()))
  assert all(np.isfinite(v.numpy()).all() for v in model.trainable_variables)
  # float16 skips the updates whose scaled gradients overflow while the loss
  # scale comes down, then trains.
  assert 0 < int(model.optimizer.iterations.numpy()) <= 30
  assert any(np.abs(v.numpy() - b).max() > 0
             for v, b in zip(model.trainable_variables, before))
