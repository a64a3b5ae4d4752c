"""Down-sampling geometry shared by the conv and sequence families.

An encoder halves a spatial size with stride-2 "same" convolutions while it
is larger than 4 (size -> ceil(size / 2)), then one "valid" convolution whose
kernel is the remaining size reduces it to 1. A decoder mirrors this: a
"valid" transposed convolution from 1 to the remaining size, stride-2
transposed convolutions doubling it, and a crop back to the data size where
the doublings overshoot (odd sizes, sizes that are not 4 * 2^n).
"""

import math


def halvings(size):
  """[size, ceil(size / 2), ...] down to the first size <= 4."""
  sizes = [int(size)]
  while sizes[-1] > 4:
    sizes.append(math.ceil(sizes[-1] / 2))
  return sizes


def plan(shape):
  """(stages, last): the number of stride-2 stages for every spatial size
  in `shape` (the largest's count; a smaller size stops halving at 1) and
  the remaining sizes after them, the kernel of the final convolution."""
  stages = max(len(halvings(s)) for s in shape) - 1
  last = []
  for s in shape:
    for _ in range(stages):
      s = math.ceil(s / 2)
    last.append(s)
  return stages, tuple(last)


def decoded_size(last, stages):
  """The size a decoder reaches from `last` after `stages` doublings."""
  return last * 2 ** stages
