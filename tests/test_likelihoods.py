"""Per-example log-likelihoods against TFP's distributions."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tf_mmjsd import likelihoods
from tf_mmjsd.data.specs import ModalitySpec

tfd = tfp.distributions


def test_laplace_matches_tfp_summed_over_pixels():
  rng = np.random.default_rng(0)
  x = rng.random((3, 4, 4, 1)).astype(np.float32)
  loc = rng.random((3, 4, 4, 1)).astype(np.float32)
  got = likelihoods.laplace_log_prob(x, loc, 0.75).numpy()
  want = tfd.Independent(tfd.Laplace(loc, 0.75), 3).log_prob(x).numpy()
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_categorical_is_a_proper_categorical_on_logits():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(2, 8, 71)).astype(np.float32)
  ids = rng.integers(0, 71, size=(2, 8))
  x = tf.one_hot(ids, 71)
  got = likelihoods.categorical_log_prob(x, logits).numpy()
  want = tfd.Independent(tfd.Categorical(logits=logits), 1).log_prob(ids)
  np.testing.assert_allclose(got, want.numpy(), rtol=1e-5)
  assert (got < 0).all()


def test_log_prob_and_mean_dispatch_on_the_spec():
  spec = ModalitySpec("t", (8, 71), "categorical", "text")
  logits = tf.one_hot([[3] * 8], 71) * 10.0
  np.testing.assert_array_equal(
      likelihoods.mean(spec, logits).numpy().argmax(-1), [[3] * 8])
  image = ModalitySpec("i", (2, 2, 1), "laplace", "mlp", likelihood_scale=0.5)
  x = tf.zeros([1, 2, 2, 1])
  np.testing.assert_allclose(likelihoods.log_prob(image, x, x).numpy(),
                             [-4 * np.log(1.0)], atol=1e-6)
