"""Label-matched pairing of image pools (docs/reference_settings.md)."""

import numpy as np


def pair_by_label(labels, multiplication, rng, max_per_class=10000):
  """Index tuples that pair examples of several pools with the same label.

  For each class c (in increasing order): n_c = min(count of c in every pool,
  max_per_class); keep the first n_c indices of each pool; then
  `multiplication` times draw an independent permutation of each pool's kept
  indices and pair them position by position. Every kept example is used
  exactly `multiplication` times with random partners of the same label.

  Args:
    labels: {pool name: int [N_pool]} labels of each pool.
    multiplication: how many times each kept example is used.
    rng: numpy Generator; the pairing is a function of its state.
    max_per_class: cap on kept examples per class and pool.

  Returns:
    (indices, pair_labels): {pool name: int64 [P]} and int32 [P], with
    P = multiplication * sum_c n_c.
  """
  names = list(labels)
  classes = np.unique(np.concatenate([np.asarray(labels[k]) for k in names]))
  out = {k: [] for k in names}
  out_labels = []
  for c in classes:
    kept = {k: np.flatnonzero(np.asarray(labels[k]) == c) for k in names}
    n = min(min(len(v) for v in kept.values()), max_per_class)
    if n == 0:
      continue
    for _ in range(multiplication):
      for k in names:
        out[k].append(rng.permutation(kept[k][:n]))
      out_labels.append(np.full(n, c, np.int32))
  if not out_labels:
    raise ValueError("no label occurs in every pool; nothing can be paired")
  return ({k: np.concatenate(v).astype(np.int64) for k, v in out.items()},
          np.concatenate(out_labels))
