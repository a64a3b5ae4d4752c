"""PRD and FID against identical, disjoint and closed-form cases."""

import numpy as np
import pytest

from tf_mmjsd.evaluation import quality


def _blobs(rng, n, centers):
  return centers[rng.integers(len(centers), size=n)] + rng.normal(
      size=(n, centers.shape[1])) * 0.1


def test_prd_of_identical_feature_sets_is_one():
  rng = np.random.default_rng(0)
  x = _blobs(rng, 2000, rng.normal(size=(20, 8)) * 5)
  scores = quality.prd_scores(x, x.copy(), num_runs=3)
  assert scores["precision"] > 0.99 and scores["recall"] > 0.99


def test_prd_of_disjoint_feature_sets_is_zero():
  rng = np.random.default_rng(1)
  x = _blobs(rng, 2000, rng.normal(size=(20, 8)) * 5)
  scores = quality.prd_scores(x, x + 1000.0, num_runs=3)
  assert scores["precision"] < 0.01 and scores["recall"] < 0.01


def test_prd_sees_dropped_modes_as_low_recall_high_precision():
  rng = np.random.default_rng(2)
  centers = rng.normal(size=(10, 8)) * 20
  reference = _blobs(rng, 4000, centers)
  generated = _blobs(rng, 4000, centers[:5])  # half of the modes
  scores = quality.prd_scores(reference, generated, num_clusters=10,
                              num_runs=3)
  assert scores["precision"] > 0.9
  assert scores["recall"] < 0.7


def test_prd_curve_of_two_histograms_in_closed_form():
  # alpha(l) = sum min(l P, Q); for P = (1, 0), Q = (1/2, 1/2):
  # alpha = min(l, 1/2), beta = alpha / l.
  precision, recall = quality.prd_curve(np.array([1.0, 0.0]),
                                        np.array([0.5, 0.5]), num_angles=5)
  slopes = np.tan(np.linspace(1e-10, np.pi / 2 - 1e-10, 5))
  np.testing.assert_allclose(precision, np.minimum(slopes, 0.5))
  np.testing.assert_allclose(recall, np.minimum(slopes, 0.5) / slopes)
  assert precision.max() == pytest.approx(0.5) and recall.max() == 1.0


def test_max_f_beta():
  p = np.array([1.0, 0.5])
  r = np.array([0.5, 1.0])
  f8, f18 = quality.max_f_beta(p, r)
  # F_b = (1 + b^2) p r / (b^2 p + r): recall-heavy for b = 8, so its
  # maximum is at (p, r) = (0.5, 1); F_1/8's is at (1, 0.5).
  assert f8 == pytest.approx(65 * 0.5 / (64 * 0.5 + 1))
  assert f18 == pytest.approx((65 / 64) * 0.5 / (1 / 64 + 0.5))
  assert quality.max_f_beta(p[:1], r[:1])[0] == pytest.approx(
      65 * 0.5 / (64 + 0.5))


def test_kmeans_recovers_separated_clusters():
  rng = np.random.default_rng(3)
  truth = rng.integers(4, size=400)
  points = np.eye(4)[truth] * 10 + rng.normal(size=(400, 4)) * 0.1
  labels = quality.kmeans(points, 4, rng)
  for k in range(4):  # every cluster is pure
    assert len(set(truth[labels == k])) == 1


def test_fid_closed_form():
  rng = np.random.default_rng(4)
  x = rng.normal(size=(20000, 4))
  assert quality.fid(x, x) == pytest.approx(0.0, abs=1e-4)
  # Same covariance, means 2 apart in one coordinate: FID = 4.
  assert quality.fid(x, x + np.array([2.0, 0, 0, 0])) == pytest.approx(
      4.0, abs=1e-4)
  # N(0, I) vs N(0, 4 I) in 4-d: Tr(I + 4I - 2 * 2I) = 4.
  y = rng.normal(size=(20000, 4)) * 2
  assert quality.fid(x, y) == pytest.approx(4.0, rel=0.05)


def test_prd_rejects_bad_features():
  with pytest.raises(ValueError, match="at least as many"):
    quality.prd(np.zeros((5, 2)), np.zeros((5, 2)))
  with pytest.raises(ValueError, match="one D"):
    quality.prd(np.zeros((50, 2)), np.zeros((50, 3)))
