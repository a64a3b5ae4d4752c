"""The text modality of MNIST-SVHN-Text (docs/reference_settings.md).

A digit's English word is written into a string of `TEXT_LENGTH` spaces at a
uniformly drawn start in [0, TEXT_LENGTH - 1 - len(word)], so the last
character is always a space, and one-hot encoded over a 71-symbol alphabet.
"""

import numpy as np

ALPHABET = ("abcdefghijklmnopqrstuvwxyz0123456789"
            "-,;.!?:'\"\\/|_@#$%^&*~`+-=<>()[]{} \n")
ALPHABET_SIZE = len(ALPHABET)  # 71; "-" occurs twice, lookup takes the first.
TEXT_LENGTH = 8
SPACE = ALPHABET.index(" ")
# Symbol -> alphabet index; "-" maps to its first position.
SYMBOL_ID = {ch: i for i, ch in reversed(list(enumerate(ALPHABET)))}
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven",
               "eight", "nine")
assert ALPHABET_SIZE == 71 and SPACE == 69

# [10, TEXT_LENGTH] symbol ids of each word, left-aligned, padded with spaces.
WORD_SYMBOLS = np.full((10, TEXT_LENGTH), SPACE, np.int32)
WORD_LENGTHS = np.array([len(w) for w in DIGIT_WORDS], np.int32)
for _d, _w in enumerate(DIGIT_WORDS):
  WORD_SYMBOLS[_d, :len(_w)] = [ALPHABET.index(ch) for ch in _w]
# Number of allowed start positions of each word: 0 .. TEXT_LENGTH-1-len.
NUM_STARTS = TEXT_LENGTH - WORD_LENGTHS


def symbol_ids(text: str) -> list[int]:
  """Alphabet indices of a string's symbols; unknown symbols raise."""
  try:
    return [SYMBOL_ID[ch] for ch in text]
  except KeyError as e:
    raise ValueError(f"symbol {e.args[0]!r} is not in the 71-symbol "
                     "alphabet") from None


def encode(text: str) -> np.ndarray:
  """One-hot [len(text), 71] float32 of a string; unknown symbols raise."""
  return np.eye(ALPHABET_SIZE, dtype=np.float32)[symbol_ids(text)]


def decode(one_hot_or_logits: np.ndarray) -> str:
  """String of the argmax symbol at each position of a [length, 71] array."""
  return "".join(ALPHABET[i] for i in np.argmax(one_hot_or_logits, axis=-1))


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
  return tf.where(inside, shifted, SPACE)


def draw_starts(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Uniform start positions [N] for the words of `labels`."""
  return (rng.random(len(labels)) * NUM_STARTS[labels]).astype(np.int32)
