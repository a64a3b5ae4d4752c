"""Label-matched pairing: counts of the real data sets, label agreement."""

import numpy as np

from tf_mmjsd.data.mst import pairing

# Class counts of the real data sets (digits 0-9; SVHN's label 10 is 0).
MNIST_TRAIN = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
SVHN_TRAIN = [4948, 13861, 10585, 8497, 7458, 6882, 5727, 5595, 5045, 4659]
MNIST_TEST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
SVHN_TEST = [1744, 5099, 4149, 2882, 2523, 2384, 1977, 2019, 1660, 1595]


def _labels(counts, rng):
  return rng.permutation(np.repeat(np.arange(10), counts))


def test_counts_of_the_paper_on_labels_with_the_real_class_counts():
  rng = np.random.default_rng(0)
  for mnist, svhn, want in ((MNIST_TRAIN, SVHN_TRAIN, 1_121_360),
                            (MNIST_TEST, SVHN_TEST, 200_000)):
    labels = {"mnist": _labels(mnist, rng), "svhn": _labels(svhn, rng)}
    idx, pair_labels = pairing.pair_by_label(labels, 20, rng)
    assert len(pair_labels) == want
    for name in labels:
      np.testing.assert_array_equal(labels[name][idx[name]], pair_labels)


def test_each_kept_example_is_used_multiplication_times():
  rng = np.random.default_rng(1)
  labels = {"a": np.array([0, 1, 0, 1, 0, 2]), "b": np.array([1, 0, 0, 1, 1])}
  idx, pair_labels = pairing.pair_by_label(labels, 3, rng)
  # Class 0: min(3, 2) = 2 kept, class 1: min(2, 3) = 2, class 2: none in b.
  assert len(pair_labels) == 3 * 4
  np.testing.assert_array_equal(np.bincount(idx["a"], minlength=6),
                                [3, 3, 3, 3, 0, 0])  # first n_c of each class
  np.testing.assert_array_equal(np.bincount(idx["b"], minlength=5),
                                [3, 3, 3, 3, 0])


def test_pairing_is_seeded():
  labels = {"a": np.arange(50) % 5, "b": np.arange(60) % 5}
  one = pairing.pair_by_label(labels, 2, np.random.default_rng(7))
  two = pairing.pair_by_label(labels, 2, np.random.default_rng(7))
  np.testing.assert_array_equal(one[0]["a"], two[0]["a"])
  np.testing.assert_array_equal(one[0]["b"], two[0]["b"])
