"""Coherence on constructed predictions."""

import numpy as np
import pytest

from tf_mmjsd.evaluation import coherence


def test_conditional_coherence_is_the_fraction_matching_the_label():
  labels = np.array([0, 1, 2, 3, 4])
  assert coherence.conditional([0, 1, 2, 3, 4], labels) == 1.0
  assert coherence.conditional([0, 1, 9, 9, 4], labels) == pytest.approx(0.6)
  assert coherence.conditional([5, 5, 5, 5, 5], labels) == 0.0


def test_random_coherence_needs_every_modality_to_agree():
  preds = {"a": np.array([1, 2, 3, 4, 5, 6]),
           "b": np.array([1, 2, 3, 4, 0, 6]),
           "c": np.array([1, 2, 0, 4, 5, 0])}
  # Agreement on examples 0, 1 and 3 only.
  assert coherence.random(preds) == pytest.approx(0.5)


def test_one_modality_disagreeing_with_all_others_is_incoherent():
  # The two image modalities agree and text alone disagrees: incoherent
  # (the original three-modality formula counted such samples as coherent).
  preds = {"mnist": np.full(10, 7), "svhn": np.full(10, 7),
           "text": np.full(10, 3)}
  assert coherence.random(preds) == 0.0
  preds["text"][:4] = 7
  assert coherence.random(preds) == pytest.approx(0.4)


def test_two_modalities_and_bad_shapes():
  assert coherence.random({"a": [1, 2], "b": [1, 3]}) == 0.5
  with pytest.raises(ValueError, match="2 modalities"):
    coherence.random({"a": [1, 2]})
  with pytest.raises(ValueError, match="must both be"):
    coherence.conditional([1, 2, 3], [1, 2])
