"""The text modality of MNIST-SVHN-Text: a digit's English word.

The word is written into a string of `TEXT_LENGTH` spaces at a uniformly
drawn start in [0, TEXT_LENGTH - 1 - len(word)], so the last character is
always a space, and one-hot encoded over the 71-symbol alphabet of
data/text.py. The text is not stored: `DigitText` makes it from each
example's label in the input pipeline, with starts redrawn every training
epoch (fixed for the test split).
"""

import numpy as np

from tf_mmjsd.data import text
from tf_mmjsd.data.split import DataError

TEXT_LENGTH = 8
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven",
               "eight", "nine")
SHAPE = (TEXT_LENGTH, text.ALPHABET_SIZE)

# [10, TEXT_LENGTH] symbol ids of each word, left-aligned, padded with spaces.
WORD_SYMBOLS = np.full((10, TEXT_LENGTH), text.SPACE, np.int32)
WORD_LENGTHS = np.array([len(w) for w in DIGIT_WORDS], np.int32)
for _d, _w in enumerate(DIGIT_WORDS):
  WORD_SYMBOLS[_d, :len(_w)] = [text.ALPHABET.index(ch) for ch in _w]
# Number of allowed start positions of each word: 0 .. TEXT_LENGTH-1-len.
NUM_STARTS = TEXT_LENGTH - WORD_LENGTHS


def digit_symbols(labels, starts):
  """Symbol ids [N, TEXT_LENGTH] of digit words at the given starts.

  Works on numpy arrays and on tf tensors alike (only gather/where maths).

  Args:
    labels: int [N] digits 0-9.
    starts: int [N], each in [0, NUM_STARTS[label]).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  labels = tf.cast(labels, tf.int32)
  starts = tf.cast(starts, tf.int32)
  positions = tf.range(TEXT_LENGTH)[None, :] - starts[:, None]  # [N, L]
  lengths = tf.gather(WORD_LENGTHS, labels)[:, None]
  inside = (positions >= 0) & (positions < lengths)
  symbols = tf.gather(WORD_SYMBOLS, labels)  # [N, L]
  shifted = tf.gather(symbols, tf.clip_by_value(positions, 0, TEXT_LENGTH - 1),
                      batch_dims=1)
  return tf.where(inside, shifted, text.SPACE)


def draw_starts(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Uniform start positions [N] for the words of `labels`."""
  return starts_from_uniform(labels, rng.random(len(labels)))


def starts_from_uniform(labels, u):
  """Start positions [N] of the words of `labels` for uniforms `u` [N] in
  [0, 1): floor(u * number of starts)."""
  return (np.asarray(u) * NUM_STARTS[np.asarray(labels)]).astype(np.int32)


class DigitText:
  """A `split.DerivedModality`: the digit word of each example's label.

  Args:
    starts: int32 [N] fixed start positions (the test split), or None to
      draw them anew for every training epoch.
  """

  shape = SHAPE
  # How records name it (registry.register_derived).
  kind = "mst_digit_text"
  # Digit text has only ~50 distinct strings: its coherence classifier
  # needs few training examples.
  classifier_examples = 10_000

  def __init__(self, starts=None):
    self.fixed = starts

  def draw(self, labels, rng):
    """int32 [N] parameters (word starts) of every example."""
    return draw_starts(labels, rng)

  def from_uniform(self, labels, u):
    """int32 [N] parameters from uniforms `u` [N] in [0, 1) (`draw` is
    this of rng.random(N))."""
    return starts_from_uniform(labels, u)

  def make(self, labels, params):
    """One-hot float32 [B, TEXT_LENGTH, 71] of labels [B] and starts [B]."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf.one_hot(digit_symbols(labels, params), text.ALPHABET_SIZE,
                      dtype=tf.float32)

  def check(self, spec):
    """Raises DataError unless `spec` describes digit text."""
    if spec.shape != SHAPE:
      raise DataError(f"modality {spec.name!r}: digit text has shape "
                      f"{SHAPE}, the spec says {spec.shape}")
