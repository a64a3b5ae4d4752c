"""Per-example log-likelihoods against TFP's distributions."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tf_mmjsd import likelihoods
from tf_mmjsd.likelihoods import bernoulli, categorical, laplace, normal
from tf_mmjsd.data.specs import ModalitySpec

tfd = tfp.distributions


def test_laplace_matches_tfp_summed_over_pixels():
  rng = np.random.default_rng(0)
  x = rng.random((3, 4, 4, 1)).astype(np.float32)
  loc = rng.random((3, 4, 4, 1)).astype(np.float32)
  got = laplace.log_prob(x, loc, 0.75).numpy()
  want = tfd.Independent(tfd.Laplace(loc, 0.75), 3).log_prob(x).numpy()
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_categorical_is_a_proper_categorical_on_logits():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(2, 8, 71)).astype(np.float32)
  ids = rng.integers(0, 71, size=(2, 8))
  x = tf.one_hot(ids, 71)
  got = categorical.log_prob(x, logits).numpy()
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


def test_normal_matches_tfp_with_fixed_and_per_dimension_scales():
  rng = np.random.default_rng(2)
  x = rng.normal(size=(3, 5)).astype(np.float32)
  loc = rng.normal(size=(3, 5)).astype(np.float32)
  got = normal.log_prob(x, loc, 0.5).numpy()
  want = tfd.Independent(tfd.Normal(loc, 0.5), 1).log_prob(x).numpy()
  np.testing.assert_allclose(got, want, rtol=1e-5)
  scale = np.linspace(0.1, 2.0, 5).astype(np.float32)
  got = normal.log_prob(x, loc, scale).numpy()
  want = tfd.Independent(tfd.Normal(loc, scale), 1).log_prob(x).numpy()
  np.testing.assert_allclose(got, want, rtol=1e-5)
  # By hand: one dimension, x = loc + s -> -1/2 - log s - log(2 pi) / 2.
  one = normal.log_prob(tf.constant([[1.5]]), tf.constant([[1.0]]),
                                    0.5).numpy()
  np.testing.assert_allclose(one, [-0.5 - np.log(0.5) - 0.5 * np.log(2 * np.pi)],
                             rtol=1e-6)


def test_bernoulli_on_logits_matches_tfp_and_its_mean_is_the_sigmoid():
  rng = np.random.default_rng(3)
  logits = rng.normal(size=(4, 3, 3, 1)).astype(np.float32) * 3
  x = (rng.random((4, 3, 3, 1)) < 0.5).astype(np.float32)
  got = bernoulli.log_prob(x, logits).numpy()
  want = tfd.Independent(tfd.Bernoulli(logits=logits), 3).log_prob(x)
  np.testing.assert_allclose(got, want.numpy(), rtol=1e-5)
  # By hand: logit 0 is a fair coin, log(1/2) per dimension.
  np.testing.assert_allclose(
      bernoulli.log_prob(tf.ones([1, 6]), tf.zeros([1, 6])),
      [6 * np.log(0.5)], rtol=1e-6)
  spec = ModalitySpec("b", (3, 3, 1), "bernoulli", "conv")
  np.testing.assert_allclose(likelihoods.mean(spec, logits),
                             1 / (1 + np.exp(-logits)), rtol=1e-5)


def test_laplace_takes_a_per_dimension_scale():
  x = tf.constant([[1.0, 1.0]])
  loc = tf.zeros([1, 2])
  scale = tf.constant([0.5, 2.0])
  want = (-1 / 0.5 - np.log(1.0)) + (-1 / 2.0 - np.log(4.0))
  np.testing.assert_allclose(laplace.log_prob(x, loc, scale),
                             [want], rtol=1e-6)


def test_a_learned_scale_lives_in_the_decoder_and_gets_gradients():
  from tf_mmjsd import networks  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.data.specs import parse_modality  # pylint: disable=g-import-not-at-top
  spec = parse_modality("labs:4:normal:mlp:scale=learned@0.2:hidden=8")
  dec = networks.build_decoder(spec, 3)
  np.testing.assert_allclose(dec.likelihood_scale, [0.2] * 4, rtol=1e-6)
  x = tf.constant(np.random.default_rng(4).normal(size=(16, 4)), tf.float32)
  with tf.GradientTape() as tape:
    params = dec(tf.zeros([16, 3]))
    nll = -tf.reduce_mean(likelihoods.log_prob(spec, x, params,
                                               dec.likelihood_scale))
  grad = tape.gradient(nll, dec.log_scale)
  # x ~ N(0, 1) is wider than 0.2: the likelihood wants larger scales.
  assert grad.shape == (4,) and (grad.numpy() < 0).all()
  # Near and below the floor the scale keeps a gradient (1e-3 + exp(s)):
  # at log-scale -8 a max() floor gave exactly 0.
  dec.log_scale.assign(tf.fill([4], -8.0))
  np.testing.assert_allclose(dec.likelihood_scale, [1e-3 + np.exp(-8.0)] * 4,
                             rtol=1e-5)
  with tf.GradientTape() as tape:
    nll = -tf.reduce_mean(likelihoods.log_prob(spec, x, dec(tf.zeros([16, 3])),
                                               dec.likelihood_scale))
  grad = tape.gradient(nll, dec.log_scale).numpy()
  assert (grad < 0).all() and np.isfinite(grad).all()
  fixed = networks.build_decoder(parse_modality("v:4:normal:mlp:scale=0.3"), 3)
  assert fixed.likelihood_scale is None
  assert not any("log_scale" in v.path for v in fixed.weights)


def test_every_registered_likelihood_has_its_maths_and_properties():
  assert tuple(likelihoods.LIKELIHOODS) == ("laplace", "normal", "bernoulli",
                                            "categorical")
  for name, entry in likelihoods.LIKELIHOODS.items():
    assert likelihoods.of(name) is entry
    spec = ModalitySpec("m", (3, 4) if entry.one_hot else (5,), name, "mlp")
    x = tf.one_hot([[0, 1, 2]], 4) if entry.one_hot else tf.fill([1, 5], 0.5)
    log_p = entry.log_prob(spec, x, tf.zeros_like(x))
    assert log_p.shape == (1,) and np.isfinite(log_p.numpy()).all()
    assert entry.mean(spec, tf.zeros_like(x)).shape == x.shape
  assert [n for n, e in likelihoods.LIKELIHOODS.items() if e.scaled] == [
      "laplace", "normal"]
  with np.testing.assert_raises_regex(ValueError, "likelihood must be one"):
    likelihoods.of("poisson")
