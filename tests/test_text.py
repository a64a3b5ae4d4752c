"""The text alphabet and one-hot encoding; MNIST-SVHN-Text's digit words."""

import numpy as np

from tf_mmjsd.data import text
from tf_mmjsd.data.mst import digit_text


def test_alphabet_layout():
  assert text.ALPHABET_SIZE == 71
  assert text.ALPHABET.index("a") == 0 and text.ALPHABET.index("0") == 26
  assert text.ALPHABET.index("-") == 36  # first of the two "-"
  assert text.ALPHABET.index(" ") == 69 and text.ALPHABET.index("\n") == 70


def test_encode_decode_round_trip():
  one_hot = text.encode(" seven  ")
  assert one_hot.shape == (8, 71) and (one_hot.sum(-1) == 1).all()
  assert text.decode(one_hot) == " seven  "


def test_words_at_every_start_end_with_a_space():
  for digit, word in enumerate(digit_text.DIGIT_WORDS):
    for start in range(digit_text.NUM_STARTS[digit]):
      ids = digit_text.digit_symbols(np.array([digit]), np.array([start])).numpy()[0]
      s = "".join(text.ALPHABET[i] for i in ids)
      assert s == " " * start + word + " " * (8 - start - len(word))
      assert s[-1] == " "


def test_drawn_starts_cover_exactly_the_allowed_range():
  labels = np.repeat(np.arange(10), 500)
  starts = digit_text.draw_starts(labels, np.random.default_rng(0))
  for digit in range(10):
    seen = set(starts[labels == digit].tolist())
    assert seen == set(range(8 - len(digit_text.DIGIT_WORDS[digit])))
