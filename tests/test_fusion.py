"""Products of experts and mixture assignment against hand computations."""

import numpy as np
import pytest
import tensorflow as tf

from tf_mmjsd import fusion


def test_product_of_experts_matches_precision_weighting():
  locs = np.array([[[1.0, -2.0]], [[3.0, 0.5]]])  # [K=2, B=1, D=2]
  scales = np.array([[[1.0, 2.0]], [[0.5, 1.0]]])
  weights = np.array([[0.25], [0.75]])
  loc, scale = fusion.product_of_experts(tf.constant(locs), tf.constant(scales),
                                         tf.constant(weights))
  tau = weights[..., None] / (scales ** 2 + 1e-8)
  want_loc = (tau * locs).sum(0) / tau.sum(0)
  # By hand for dim 0: tau = 0.25/1 + 0.75/0.25 = 3.25,
  # loc = (0.25 * 1 + 3 * 3) / 3.25.
  assert want_loc[0, 0] == pytest.approx((0.25 + 9.0) / 3.25)
  np.testing.assert_allclose(loc.numpy(), want_loc, rtol=1e-6)
  np.testing.assert_allclose(scale.numpy(), np.sqrt(1.0 / tau.sum(0)),
                             rtol=1e-6)


def test_zero_weight_drops_an_expert():
  locs = tf.constant([[[1.0]], [[5.0]]])
  scales = tf.constant([[[1.0]], [[1.0]]])
  loc, scale = fusion.product_of_experts(locs, scales,
                                         tf.constant([[1.0], [0.0]]))
  assert loc.numpy()[0, 0] == pytest.approx(1.0)
  assert scale.numpy()[0, 0] == pytest.approx(1.0, rel=1e-6)


def test_with_prior_renormalises_over_present_modalities():
  locs = tf.zeros([3, 2, 4])
  present = tf.constant([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
  all_locs, all_scales, w = fusion.with_prior(locs, tf.ones([3, 2, 4]),
                                              present, 0.25, 3)
  assert all_locs.shape == (4, 2, 4) and all_scales.shape == (4, 2, 4)
  np.testing.assert_allclose(w.numpy()[:, 0], [0.25] * 4, rtol=1e-6)
  # Second example: prior 0.25 and one modality 0.25 -> 0.5 each.
  np.testing.assert_allclose(w.numpy()[:, 1], [0.5, 0.5, 0.0, 0.0], rtol=1e-6)


def test_mixture_assignment_blocks_of_a_complete_batch():
  assign = fusion.mixture_assignment(tf.ones([3, 256], tf.bool)).numpy()
  assert assign.sum(axis=1).tolist() == [85, 85, 86]
  assert (assign.sum(axis=0) == 1).all()
  # Contiguous blocks: rows 0-84, 85-169, 170-255.
  assert assign[0, :85].all() and assign[1, 85:170].all()
  assert assign[2, 170:].all()


def test_mixture_assignment_uses_only_present_modalities():
  rng = np.random.default_rng(0)
  present = rng.random((3, 64)) < 0.6
  present[rng.integers(0, 3, 64), np.arange(64)] = True  # at least one each
  assign = fusion.mixture_assignment(tf.constant(present)).numpy()
  assert (assign.sum(axis=0) == 1).all()
  assert not (assign.astype(bool) & ~present).any()


def test_mixture_assignment_rejects_an_example_with_nothing_present():
  present = tf.constant([[True, False], [True, False]])
  with pytest.raises(tf.errors.InvalidArgumentError, match="at least one"):
    fusion.mixture_assignment(present)


def test_subsets_enumerates_non_empty_subsets_in_order():
  assert fusion.subsets(("a", "b", "c")) == [
      ("a",), ("b",), ("c",), ("a", "b"), ("a", "c"), ("b", "c"),
      ("a", "b", "c")]


def test_subset_products_mask_unavailable_subsets_with_a_finite_stand_in():
  # Experts N(1, 1) and N(0, 0.5^2); example 1 lacks the second.
  locs = tf.constant([[[1.0], [1.0]], [[0.0], [0.0]]])
  scales = tf.constant([[[1.0], [1.0]], [[0.5], [0.5]]])
  mask = tf.constant([[1.0, 1.0], [1.0, 0.0]])
  out_locs, out_scales, available = fusion.subset_products(
      locs, scales, mask, prior_joins=lambda s: len(s) == 2)
  np.testing.assert_array_equal(available, [[True, True], [True, False],
                                            [True, False]])
  # {0}: N(1, 1); {1}: N(0, 0.25); {0, 1} with the prior: precision 6.
  np.testing.assert_allclose(out_locs[:, 0, 0], [1.0, 0.0, 1 / 6], rtol=1e-5)
  np.testing.assert_allclose(out_scales[:, 0, 0] ** 2, [1.0, 0.25, 1 / 6],
                             rtol=1e-5)
  # Unavailable subsets of example 1 are N(0, 1), not 0/0.
  np.testing.assert_allclose(out_locs[1:, 1, 0], [0.0, 0.0], atol=1e-7)
  np.testing.assert_allclose(out_scales[1:, 1, 0], [1.0, 1.0], rtol=1e-6)
