"""Gaussian KL and the JS divergence against closed forms and Monte Carlo."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tf_mmjsd import divergences, fusion

tfd = tfp.distributions


def test_gaussian_kl_matches_tfp_and_monte_carlo():
  rng = np.random.default_rng(1)
  lq, lp = rng.normal(size=(2, 5)), rng.normal(size=(2, 5))
  sq, sp = rng.uniform(0.5, 2, size=(2, 5)), rng.uniform(0.5, 2, size=(2, 5))
  kl = divergences.gaussian_kl(lq, sq, lp, sp).numpy()
  q = tfd.MultivariateNormalDiag(lq, sq)
  p = tfd.MultivariateNormalDiag(lp, sp)
  np.testing.assert_allclose(kl, tfd.kl_divergence(q, p).numpy(), rtol=1e-6)
  z = q.sample(200000, seed=3)
  mc = tf.reduce_mean(q.log_prob(z) - p.log_prob(z), axis=0).numpy()
  np.testing.assert_allclose(kl, mc, rtol=0.03)


def test_kl_to_standard_normal_is_the_general_kl():
  loc, scale = tf.constant([[0.3, -1.0]]), tf.constant([[0.7, 1.5]])
  np.testing.assert_allclose(
      divergences.kl_to_standard_normal(loc, scale).numpy(),
      divergences.gaussian_kl(loc, scale, 0.0, 1.0).numpy(), rtol=1e-6)


def test_js_is_zero_when_every_expert_is_the_prior():
  locs, scales = tf.zeros([4, 3, 2]), tf.ones([4, 3, 2])
  js, (loc, scale) = divergences.js_divergence(locs, scales,
                                               tf.fill([4, 3], 0.25))
  np.testing.assert_allclose(js.numpy(), 0.0, atol=1e-6)
  np.testing.assert_allclose(loc.numpy(), 0.0, atol=1e-6)
  np.testing.assert_allclose(scale.numpy(), 1.0, atol=1e-6)


def test_js_is_non_negative_and_the_weighted_kl_sum():
  rng = np.random.default_rng(2)
  locs = tf.constant(rng.normal(size=(4, 8, 3)), tf.float32)
  scales = tf.constant(rng.uniform(0.3, 2.0, size=(4, 8, 3)), tf.float32)
  weights = tf.fill([4, 8], 0.25)
  js, (f_loc, f_scale) = divergences.js_divergence(locs, scales, weights)
  assert (js.numpy() > 0).all()
  want = sum(0.25 * divergences.gaussian_kl(locs[k], scales[k], f_loc,
                                            f_scale) for k in range(4))
  np.testing.assert_allclose(js.numpy(), want.numpy(), rtol=1e-5)
  want_loc, want_scale = fusion.product_of_experts(locs, scales, weights)
  np.testing.assert_allclose(f_loc.numpy(), want_loc.numpy(), rtol=1e-6)
  np.testing.assert_allclose(f_scale.numpy(), want_scale.numpy(), rtol=1e-6)


def test_js_ignores_an_expert_with_zero_weight():
  locs = tf.constant([[[0.0]], [[1.0]], [[100.0]]])
  scales = tf.ones([3, 1, 1])
  js_two, _ = divergences.js_divergence(locs[:2], scales[:2],
                                        tf.constant([[0.5], [0.5]]))
  js_masked, _ = divergences.js_divergence(
      locs, scales, tf.constant([[0.5], [0.5], [0.0]]))
  assert js_masked.numpy()[0] == pytest.approx(js_two.numpy()[0], rel=1e-6)
  # Two unit Gaussians at 0 and 1: f = N(0.5, 1), JS = 2 * 0.5 * 0.125.
  assert js_two.numpy()[0] == pytest.approx(0.125, rel=1e-6)
