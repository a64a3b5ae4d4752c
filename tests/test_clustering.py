"""The latent clustering metric (tf_mmjsd/metrics/clustering.py): its
scores where the answer is known, and its part, section and tables."""

import numpy as np
import pytest

from tf_mmjsd import metrics
from tf_mmjsd.metrics import clustering

pytestmark = pytest.mark.fast


def _blobs(n, centres, seed, spread=0.05):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, len(centres), n)
  return (centres[labels] + spread * rng.normal(size=(n, centres.shape[1])),
          labels)


def test_clusters_that_are_the_classes_score_one():
  centres = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
  train_x, train_y = _blobs(300, centres, 0)
  test_x, test_y = _blobs(100, centres, 1)
  scores = clustering.score(train_x, train_y, test_x, test_y, 3, runs=3,
                            seed=0)
  assert scores == pytest.approx({"nmi": 1.0, "ari": 1.0, "accuracy": 1.0})


def test_every_seed_of_the_config_range_is_a_valid_kmeans_seed():
  x, y = _blobs(40, np.array([[0.0], [5.0]]), 0)
  scores = clustering.score(x, y, x, y, 2, runs=2, seed=2**31 - 1)
  assert scores["nmi"] == pytest.approx(1.0)


def test_labels_unrelated_to_the_points_score_about_zero():
  rng = np.random.default_rng(2)
  train_x, test_x = rng.normal(size=(600, 2)), rng.normal(size=(600, 2))
  train_y, test_y = rng.integers(0, 3, 600), rng.integers(0, 3, 600)
  scores = clustering.score(train_x, train_y, test_x, test_y, 3, runs=2,
                            seed=0)
  assert abs(scores["ari"]) < 0.02 and scores["nmi"] < 0.02
  assert 0.25 < scores["accuracy"] < 0.42  # chance is about 1/3


def test_two_classes_in_one_cluster_by_hand():
  # Three points each of classes 0, 1, 2; classes 1 and 2 share a place,
  # so two clusters: {0,0,0} and {1,1,1,2,2,2}. Majority labels: 0 and
  # (a tie, the smaller) 1, so accuracy 6/9; ARI and NMI from their
  # definitions.
  x = np.array([[0.0]] * 3 + [[10.0]] * 6)
  y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
  scores = clustering.score(x, y, x, y, 2, runs=1, seed=0)
  # ARI: pairs within a cluster sum_ij C(n_ij, 2) = 3 + 3 + 3 = 9; rows
  # (classes) 3 * C(3, 2) = 9; columns C(3, 2) + C(6, 2) = 18; C(9, 2) = 36.
  expected = 9 * 18 / 36
  ari = (9 - expected) / ((9 + 18) / 2 - expected)
  # NMI (arithmetic): I = H(Y) - H(Y|C), H(Y) = log 3, H(C) = H(1/3, 2/3),
  # H(Y|C) = 2/3 log 2.
  h_y, h_c = np.log(3), -(np.log(1 / 3) / 3 + 2 / 3 * np.log(2 / 3))
  nmi = (h_y - 2 / 3 * np.log(2)) / ((h_y + h_c) / 2)
  assert scores == pytest.approx({"nmi": nmi, "ari": ari,
                                  "accuracy": 6 / 9})


def test_its_part_reads_as_a_section_scalars_and_tables():
  part = {"train_examples": 9, "test_examples": 9, "clusters": 3, "runs": 1,
          "nmi": {"poe": {"a": 0.5, "a+b": 0.75}, "mixture": {"a": 0.5}},
          "ari": {"poe": {"a": 0.25}, "mixture": {}},
          "accuracy": {"poe": {"a": 0.6}, "mixture": {}}}
  metric = metrics.get("clustering")
  lines = metric.markdown(part, {"method": "mmjsd",
                                 "modality_names": ["a", "b"]})
  text = "\n".join(lines)
  assert "| PoE | 0.500 | – | 0.750 |" in text  # columns a, b, a,b
  assert "Adjusted Rand index:" in text
  assert metric.scalars(part)["eval/clustering_nmi_poe/a+b"] == 0.75
  tables = {t.title: t.values(part) for t in metric.tables}
  assert tables["Latent clustering NMI, PoE posterior"] == {"a": 0.5,
                                                            "a+b": 0.75}
  assert tables["Latent clustering ARI, mixture posterior"] == {}
