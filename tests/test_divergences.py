"""Gaussian KL and the JS divergence against closed forms and Monte Carlo."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tf_mmjsd import divergences, fusion, noise

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
  for prior in ("poe", "moe"):
    js = divergences.js_divergence(locs, scales, tf.fill([4, 3], 0.25),
                                   divergences.PRIOR_KLS[prior], noise.Noise())
    np.testing.assert_allclose(js.numpy(), 0.0, atol=1e-5)


def test_js_is_non_negative_and_the_weighted_kl_sum():
  rng = np.random.default_rng(2)
  locs = tf.constant(rng.normal(size=(4, 8, 3)), tf.float32)
  scales = tf.constant(rng.uniform(0.3, 2.0, size=(4, 8, 3)), tf.float32)
  weights = tf.fill([4, 8], 0.25)
  js = divergences.js_divergence(locs, scales, weights)
  assert (js.numpy() > 0).all()
  f_loc, f_scale = fusion.product_of_experts(locs, scales, weights)
  want = sum(0.25 * divergences.gaussian_kl(locs[k], scales[k], f_loc,
                                            f_scale) for k in range(4))
  np.testing.assert_allclose(js.numpy(), want.numpy(), rtol=1e-5)


def test_js_ignores_an_expert_with_zero_weight():
  locs = tf.constant([[[0.0]], [[1.0]], [[100.0]]])
  scales = tf.ones([3, 1, 1])
  js_two = divergences.js_divergence(locs[:2], scales[:2],
                                     tf.constant([[0.5], [0.5]]))
  js_masked = divergences.js_divergence(
      locs, scales, tf.constant([[0.5], [0.5], [0.0]]))
  assert js_masked.numpy()[0] == pytest.approx(js_two.numpy()[0], rel=1e-6)
  # Two unit Gaussians at 0 and 1: f = N(0.5, 1), JS = 2 * 0.5 * 0.125.
  assert js_two.numpy()[0] == pytest.approx(0.125, rel=1e-6)


def _moe_reference(locs, scales, weights, k, b, samples=400000, seed=5):
  """KL(q_k || sum_j w_j q_j) of example b from many samples, in numpy."""
  rng = np.random.default_rng(seed)
  loc, scale = locs[k, b], scales[k, b]
  z = loc + scale * rng.standard_normal((samples, loc.shape[-1]))

  def log_normal(z, m, s):
    return -0.5 * np.sum(((z - m) / s) ** 2 + 2 * np.log(s)
                         + np.log(2 * np.pi), -1)

  log_f = np.logaddexp.reduce(np.stack(
      [np.log(w) + log_normal(z, locs[j, b], scales[j, b])
       for j, w in enumerate(weights[:, b]) if w > 0]), 0)
  return float(np.mean(log_normal(z, loc, scale) - log_f))


def test_moe_kls_match_a_large_sample_reference_and_have_finite_gradients():
  rng = np.random.default_rng(3)
  locs = rng.normal(size=(3, 2, 4)).astype(np.float32)
  scales = rng.uniform(0.4, 1.5, size=(3, 2, 4)).astype(np.float32)
  weights = np.array([[0.3, 0.5], [0.35, 0.5], [0.35, 0.0]], np.float32)
  # Many copies of each example: the mean of the 8-sample estimates over
  # 4000 copies has a standard error of about 0.01 nats.
  copies = 4000
  tiled = [tf.constant(np.repeat(a, copies, axis=1)) for a in
           (locs, scales, weights)]
  key = noise.Noise(key=[3, 0])
  with tf.GradientTape() as tape:
    tape.watch(tiled[0])
    kls = divergences.moe_prior_kls(*tiled, key)
    total = tf.reduce_sum(kls)
  grad = tape.gradient(total, tiled[0])
  assert np.isfinite(grad.numpy()).all()
  estimate = kls.numpy().reshape(3, 2, copies).mean(-1)
  for k in range(3):
    for b in range(2):
      if weights[k, b] == 0:
        continue  # a dropped expert: its term is masked out of the JS
      want = _moe_reference(locs, scales, weights, k, b)
      assert estimate[k, b] == pytest.approx(want, abs=0.05), (k, b)


def test_the_moe_js_is_stateless_under_a_key_and_drops_zero_weights():
  locs = tf.constant([[[0.0]], [[1.0]], [[100.0]]])
  scales = tf.ones([3, 1, 1])

  def kls(*args):
    return divergences.moe_prior_kls(*args, samples=20000)

  def js(locs, scales, weights):
    return divergences.js_divergence(locs, scales, tf.constant(weights), kls,
                                     noise.Noise(key=[1, 2])).numpy()[0]

  two = js(locs[:2], scales[:2], [[0.5], [0.5]])
  assert js(locs[:2], scales[:2], [[0.5], [0.5]]) == two  # same key
  # N(0, 1) and N(1, 1): the JS to their mixture is 0.1115 (a 2-million
  # sample estimate), less than the 0.125 to their geometric mean
  # N(0.5, 1); a third expert of weight 0 changes nothing (but the draws).
  assert two == pytest.approx(0.1115, abs=0.006)
  assert js(locs, scales, [[0.5], [0.5], [0.0]]) == pytest.approx(0.1115,
                                                                  abs=0.006)


def test_the_log_variance_bound_is_the_identity_inside_and_soft_outside():
  """Unchanged (value and unit gradient) in [-15, 15]; beyond, the closed
  form +-(15 + 5 y / (1 + y)), y = (|v| - 15) / 5, with gradient
  1 / (1 + y)^2 > 0 also far out, where float32's tanh would give 0."""
  from tf_mmjsd import posteriors  # pylint: disable=g-import-not-at-top
  v = tf.constant([-1e6, -100.0, -16.0, -15.0, -3.0, 0.0, 7.5, 15.0, 18.0,
                   30.0, 100.0])
  with tf.GradientTape() as tape:
    tape.watch(v)
    bounded = posteriors.bounded_log_var(v)
  grad = tape.gradient(bounded, v).numpy()
  x = v.numpy().astype(np.float64)
  inside = np.abs(x) <= 15
  np.testing.assert_array_equal(bounded.numpy()[inside], x[inside])
  np.testing.assert_array_equal(grad[inside], 1.0)
  y = (np.abs(x[~inside]) - 15) / 5
  np.testing.assert_allclose(bounded.numpy()[~inside],
                             np.sign(x[~inside]) * (15 + 5 * y / (1 + y)),
                             rtol=1e-6)
  # float32 rounds 1 + y at v = -1e6 (y = 2e5): 2.5% there.
  np.testing.assert_allclose(grad[~inside][1:], 1 / (1 + y[1:])**2,
                             rtol=1e-5)
  np.testing.assert_allclose(grad[~inside][0], 1 / (1 + y[0])**2, rtol=0.05)
  assert (grad > 0).all() and (np.abs(bounded.numpy()) < 20).all()
  np.testing.assert_allclose(posteriors.scale_from_log_var(v).numpy(),
                             np.exp(0.5 * bounded.numpy()), rtol=1e-6)
