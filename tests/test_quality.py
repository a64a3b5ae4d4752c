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


def test_clustering_recovers_separated_clusters_and_repeats_per_seed():
  rng = np.random.default_rng(3)
  truth = rng.integers(4, size=400)
  points = np.eye(4)[truth] * 10 + rng.normal(size=(400, 4)) * 0.1
  labels = quality.cluster_labels(points, 4, seed=7)
  for k in range(4):  # every cluster is pure
    assert len(set(truth[labels == k])) == 1
  blur = rng.normal(size=(300, 3))  # no clear clusters: seeds differ
  np.testing.assert_array_equal(quality.cluster_labels(blur, 6, seed=1),
                                quality.cluster_labels(blur, 6, seed=1))
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  assert any(metrics.adjusted_rand_score(  # other partitions, not names
      quality.cluster_labels(blur, 6, seed=1),
      quality.cluster_labels(blur, 6, seed=s)) < 1.0 for s in (2, 3, 4))


def test_prd_repeats_for_a_seed_and_takes_large_seeds():
  rng = np.random.default_rng(6)
  x, y = rng.normal(size=(200, 3)), rng.normal(size=(200, 3)) + 0.5
  first = quality.prd(x, y, num_clusters=5, num_angles=11, num_runs=2,
                      seed=2**40)
  again = quality.prd(x, y, num_clusters=5, num_angles=11, num_runs=2,
                      seed=2**40)
  np.testing.assert_array_equal(first[0], again[0])
  np.testing.assert_array_equal(first[1], again[1])


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


def test_generated_images_reach_the_feature_network_clipped(tiny_config):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import data as data_lib  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.evaluation import suite  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.model import MultimodalVAE  # pylint: disable=g-import-not-at-top
  config = tiny_config(eval_examples=64, quality_examples=64, prd_runs=1,
                       prd_angles=11, eval_batch_size=32)
  train, test = data_lib.load_splits(config, log=lambda *_: None)
  model = MultimodalVAE.from_experiment(config)
  assert suite.clip_ranges(test, ["svhn"]) == {"svhn": (0.0, 1.0)}
  # Push the linear svhn decoder's output above [0, 1].
  last_bias = model.decoders["svhn"].trainable_variables[-1]
  last_bias.assign(last_bias + 2.0)
  raw = model.sample(64)["svhn"].numpy()
  assert raw.max() > 1.0
  seen = []

  def spy(name, x):
    def record(low, high):
      seen.append((name, float(low), float(high)))
      return 0.0
    tf.py_function(record, [tf.reduce_min(x), tf.reduce_max(x)], tf.float32)
    return tf.random.stateless_normal([tf.shape(x)[0], 4], [1, 2])

  clfs = {m: (lambda x: tf.zeros([tf.shape(x)[0], 10])) for m in model.names}
  ev = suite.Evaluator(model, config, train, test, clfs,
                          {"modalities": {}}, log=lambda *_: None)
  coh, qual = ev.generation("spy", spy)
  assert qual["clipped_to"] == {"mnist": [0.0, 1.0], "svhn": [0.0, 1.0]}
  assert {name for name, _, _ in seen} == {"mnist", "svhn"}
  assert all(0.0 <= low and high <= 1.0 for _, low, high in seen)
  assert set(coh["conditional"]) == {"poe", "mixture", "poe_weighted"}
  # Fewer generated examples than PRD's clusters: skipped, with the reason
  # (not a PRD error in the middle of an evaluation during training).
  few = suite.Evaluator(model, config.with_settings(eval_examples=4), train,
                        test, clfs, {"modalities": {}}, log=lambda *_: None)
  coh, qual = few.generation("spy", spy)
  assert qual == {"skipped": "4 generated examples, fewer than PRD's 20 "
                             "clusters"}
  assert coh["examples"] == 4


def test_float_data_are_clipped_to_their_own_range():
  from tf_mmjsd.data.split import Split  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.evaluation import suite  # pylint: disable=g-import-not-at-top
  pool = np.array([[[[-2.0]]], [[[3.0]]], [[[np.nan]]], [[[9.0]]]],
                  np.float32)
  split = Split(pools={"x": pool}, indices={"x": np.array([0, 1, 2, 3])},
                labels=np.zeros(4, int),
                masks={"x": np.array([True, True, False, False])})
  # Absent rows (NaN, 9) are not data.
  assert suite.clip_ranges(split, ["x"]) == {"x": (-2.0, 3.0)}


def test_mmjsd_pair_coherence_uses_the_product_of_the_pair_without_prior(
    tiny_config):
  """mmJSD's coherence "poe" rows decode a sample of the unweighted
  product of the pair's posteriors (no N(0, I)), as the authors'
  evaluation does; MVAE's keep its own posterior."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.data.specs import random_examples  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.evaluation import suite  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.model import MultimodalVAE  # pylint: disable=g-import-not-at-top
  config = tiny_config()
  model = MultimodalVAE.from_experiment(config)
  assert suite.reference_product(model)
  assert not suite.reference_product(MultimodalVAE(config.modalities,
                                                   method="mvae"))
  given = {m: tf.constant(x) for m, x in random_examples(
      [s for s in config.modalities if s.name != "mnist"], 5,
      np.random.default_rng(0)).items()}
  tf.random.set_seed(7)
  got = suite._generate_from_product(model, given, ["mnist"])  # pylint: disable=protected-access
  tf.random.set_seed(7)
  eps = tf.random.normal([5, config.latent_dim]).numpy()
  content = model.encode(given)["content"]
  precision = sum(1 / (content[m][1].numpy().astype(np.float64)**2 + 1e-8)
                  for m in given)
  loc = sum(content[m][0].numpy() / (content[m][1].numpy()**2 + 1e-8)
            for m in given) / precision
  z = (loc + np.sqrt(1 / precision) * eps).astype(np.float32)
  want = model.decode_means(tf.constant(z), ["mnist"])
  np.testing.assert_allclose(got["mnist"], want["mnist"], rtol=1e-5,
                             atol=1e-6)
  # mmJSD's own PoE (pi-weighted, with N(0, I)) is another posterior.
  present = {m: tf.ones([5]) for m in given}
  weighted = model.fuse(content, present, "poe")
  assert not np.allclose(weighted.mean().numpy(), loc, atol=1e-3)
