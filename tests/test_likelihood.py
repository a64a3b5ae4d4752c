"""Importance-weighted log-likelihoods against a closed-form model."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tf_mmjsd import fusion, methods
from tf_mmjsd.data.mst import specs as mnist_svhn_text_specs
from tf_mmjsd.evaluation import likelihood
from tf_mmjsd.model import MultimodalVAE

tfd = tfp.distributions


def _linear_gaussian(seed=0, latent=3, data=5, sigma=0.5, full=False):
  """z ~ N(0, I), x | z ~ N(W z + b, sigma^2 I): log p(x) in closed form."""
  rng = np.random.default_rng(seed)
  w, b = rng.normal(size=(data, latent)), rng.normal(size=data)
  x = rng.multivariate_normal(b, w @ w.T + sigma ** 2 * np.eye(data))
  exact = tfd.MultivariateNormalFullCovariance(
      b, w @ w.T + sigma ** 2 * np.eye(data)).log_prob(x).numpy()
  post_cov = np.linalg.inv(np.eye(latent) + w.T @ w / sigma ** 2)
  post_mean = post_cov @ w.T @ (x - b) / sigma ** 2

  def log_joint(samples):
    z = samples[0]  # [K, B, latent]
    prior = tfd.MultivariateNormalDiag(tf.zeros(latent, tf.float64))
    lik = tfd.MultivariateNormalDiag(tf.einsum("dl,kbl->kbd", w, z) + b,
                                     scale_diag=sigma * tf.ones(data,
                                                                tf.float64))
    return prior.log_prob(z) + lik.log_prob(x)

  spread = post_cov if full else np.sqrt(np.diag(post_cov))
  return exact, post_mean, spread, log_joint


def _estimates(num_samples, repeats=4000, seed=0):
  """`repeats` independent estimates of log p(x) with a poor proposal."""
  exact, mean, scale, log_joint = _linear_gaussian(seed)
  proposal = tfd.MultivariateNormalDiag(
      loc=np.tile(mean + 0.5 * scale, (repeats, 1)),
      scale_diag=np.tile(1.5 * scale, (repeats, 1)))
  tf.random.set_seed(seed)
  return exact, likelihood.importance_weighted(
      [proposal], log_joint, num_samples).numpy()


def test_estimate_is_a_lower_bound_that_converges_with_k():
  gaps = []
  for k in (1, 12, 100, 1000):
    exact, est = _estimates(k)
    assert est.shape == (4000,)
    stderr = est.std() / np.sqrt(len(est))
    gap = exact - est.mean()
    assert gap > -3 * stderr, (k, gap, stderr)  # a bound in expectation
    gaps.append(gap)
  assert gaps[0] > 0.1  # K = 1 (the ELBO) is visibly loose here
  assert gaps[0] > gaps[1] > gaps[2] > gaps[3] - 1e-3
  assert abs(gaps[3]) < 0.01


def test_the_exact_posterior_gives_the_exact_value_with_one_sample():
  exact, post_mean, post_cov, log_joint = _linear_gaussian(1, full=True)
  proposal = tfd.MultivariateNormalFullCovariance(
      np.tile(post_mean, (3, 1)), np.tile(post_cov, (3, 1, 1)))
  est = likelihood.importance_weighted([proposal], log_joint, 1).numpy()
  np.testing.assert_allclose(est, exact, rtol=1e-9)


def test_log_mean_exp_runs_over_the_samples_of_one_example():
  # log p(x_b, z) = log q(z) + c_b makes every weight of example b equal to
  # c_b, so the estimate must be exactly c_b; averaging weights across
  # examples (the original code's mistake) would blend the c_b.
  offsets = tf.constant([-50.0, 0.0, 30.0])
  proposal = tfd.MultivariateNormalDiag(tf.zeros([3, 2]))
  est = likelihood.importance_weighted(
      [proposal], lambda s: proposal.log_prob(s[0]) + offsets, 12)
  np.testing.assert_allclose(est.numpy(), offsets.numpy(), atol=1e-4)


def test_model_log_likelihood_per_example_and_tighter_with_more_samples():
  tf.random.set_seed(0)
  model = MultimodalVAE(mnist_svhn_text_specs(), style_dim=2)
  rng = np.random.default_rng(0)
  inputs = {"mnist": rng.random((64, 28, 28, 1)).astype(np.float32),
            "svhn": rng.random((64, 32, 32, 3)).astype(np.float32),
            "text": tf.one_hot(rng.integers(0, 71, (64, 8)), 71)}
  one = likelihood.log_likelihood(model, inputs, ("svhn",), "mixture", 1)
  many = likelihood.log_likelihood(model, inputs, ("svhn",), "mixture", 50)
  poe = likelihood.log_likelihood(model, inputs, ("mnist", "text"), "poe", 4)
  for est in (one, many, poe):
    assert est.shape == (64,) and np.isfinite(est.numpy()).all()
  assert float(tf.reduce_mean(many)) > float(tf.reduce_mean(one))


@pytest.mark.parametrize("method", methods.names())
def test_a_subset_indicator_gives_the_proposal_of_the_subset(tiny_config,
                                                            method):
  """The evaluation traces one likelihood function per fusion and passes
  the subset as a [M] indicator: the masked fusion of every posterior must
  be the subset's own posterior, for every method (JMVAE's joint encoder
  only for the whole set)."""
  config = tiny_config(small=True, method=method, style_dim=2)
  model = MultimodalVAE.from_experiment(config)
  rng = np.random.default_rng(1)
  inputs = {"mnist": rng.random((6, 28, 28, 1)).astype(np.float32),
            "svhn": rng.random((6, 32, 32, 3)).astype(np.float32),
            "text": tf.one_hot(rng.integers(0, 71, (6, 8)), 71)}
  content = model.encode(inputs)["content"]
  ones = tf.ones([6])
  for kind in fusion.KINDS:
    for subset in fusion.subsets(model.names):
      own = model.fuse(model.restrict(content, subset),
                       {m: ones for m in subset}, kind)
      indicator = likelihood.subset_indicator(model, subset)
      masked = model.fuse(model.restrict(content, model.names),
                          {m: ones * indicator[i]
                           for i, m in enumerate(model.names)}, kind)
      z = own.sample(5, seed=3)
      np.testing.assert_allclose(masked.log_prob(z), own.log_prob(z),
                                 rtol=1e-5, atol=1e-4)
      np.testing.assert_allclose(masked.mean(), own.mean(), rtol=1e-5,
                                 atol=1e-6)
