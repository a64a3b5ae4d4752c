"""The 71-symbol alphabet of every text modality (MNIST-SVHN-Text's digit
words, CelebA's attribute text, synthetic_clinic's reports), as in the
original code: a text is one-hot [length, 71], or integer tokens [length].

A categorical modality with 71 classes is text in this alphabet
(`is_text`): exports add its decoded strings and figures draw them.
"""

import numpy as np

from tf_mmjsd import likelihoods

ALPHABET = ("abcdefghijklmnopqrstuvwxyz0123456789"
            "-,;.!?:'\"\\/|_@#$%^&*~`+-=<>()[]{} \n")
ALPHABET_SIZE = len(ALPHABET)  # 71; "-" occurs twice, lookup takes the first.
SPACE = ALPHABET.index(" ")
# Symbol -> alphabet index; "-" maps to its first position.
SYMBOL_ID = {ch: i for i, ch in reversed(list(enumerate(ALPHABET)))}
assert ALPHABET_SIZE == 71 and SPACE == 69


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


def is_text(spec):
  """True for a categorical modality over this alphabet ([length, 71])."""
  return likelihoods.of(spec).one_hot and spec.shape[-1] == ALPHABET_SIZE
