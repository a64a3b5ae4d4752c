"""Subsets of modalities, as fusion combines them and reports name them
(no TensorFlow: reports and comparisons import this)."""

import itertools

# The kinds of subset posterior (the `fusion_kind` of inference): a product
# of experts and a mixture of experts.
KINDS = ("poe", "mixture")


def subsets(names, min_size=1):
  """All subsets of `names` with at least `min_size` members, as tuples,
  ordered by size, then by the order of `names`."""
  out = []
  for size in range(min_size, len(names) + 1):
    out.extend(itertools.combinations(names, size))
  return out


def key(subset):
  """The name of a subset in results: its members joined by '+'."""
  return "+".join(subset)
