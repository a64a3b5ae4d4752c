"""A small synthetic three-modality data set for trying `--dataset=npz`.

`synthetic_clinic` is made up (numpy only, deterministic from a seed): it is
not medical data and numbers measured on it say nothing about any clinic.
It mimics the shape of the paper's motivating use, several data types per
patient with many entries missing, and exercises each network family:

  scan    [36, 36, 1] uint8 grey image (conv; 36 is not a power of two):
          a bright finding whose kind is the class (0 none, 1 a round
          nodule, 2 a ring, 3 a bar) near the centre, of random place,
          size and contrast, on a noisy background
  report  [24] integer tokens of a 71-symbol text (sequence; one-hot in
          the pipeline): one of two phrasings of the class's finding,
          starting at one of the first 5 positions, padded with spaces
  labs    [16] float32 values (mlp, normal likelihood): four class-coded
          dimensions, a per-patient "age" shifting six others, and noise
          whose scale differs from dimension to dimension (0.1 to 1.0)
  labels  the class 0-3 of each patient, for probes and coherence
  masks   each modality absent from about `missing_rate` of the patients
          (never all three), in both splits

`write(path, ...)` saves it in the `.npz` layout of data/npz.py.
"""

import io
import os

import numpy as np

from tf_mmjsd import files
from tf_mmjsd.data import text
from tf_mmjsd.data.split import draw_presence, drop_probability

NAMES = ("scan", "report", "labs")
CLASSES = 4
SCAN_SIZE = 36
REPORT_LENGTH = 24
LABS = 16
MAX_START = 4  # a report starts at one of the first 5 positions
PHRASES = (("no finding", "clear study"),
           ("small nodule", "round nodule"),
           ("ring lesion", "ring shadow"),
           ("linear band", "bar opacity"))
# One modality description per line: the --modality flags of the example.
MODALITY_FLAGS = (
    f"scan:{SCAN_SIZE}x{SCAN_SIZE}x1:laplace:conv:weight=1:activation=sigmoid"
    ":width=16",
    f"report:{REPORT_LENGTH}x{text.ALPHABET_SIZE}:categorical:sequence"
    f":weight={SCAN_SIZE * SCAN_SIZE // REPORT_LENGTH}:width=64",
    f"labs:{LABS}:normal:mlp:weight={SCAN_SIZE * SCAN_SIZE // LABS}"
    ":scale=learned:hidden=64",
)


def _scans(labels, rng):
  n, s = len(labels), SCAN_SIZE
  yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
  out = rng.uniform(0.0, 0.25, (n, 1, 1)) + rng.normal(0, 0.06, (n, s, s))
  cy, cx = rng.uniform(s / 2 - 4, s / 2 + 4, (2, n, 1, 1))
  radius = rng.uniform(5.0, 8.0, (n, 1, 1))
  contrast = rng.uniform(0.55, 0.85, (n, 1, 1))
  dist = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
  shapes = {1: dist < radius,
            2: (dist < radius + 1) & (dist > radius - 1.5),
            3: (np.abs(yy - cy) < 2.0) & (np.abs(xx - cx) < 2 * radius)}
  for k, shape in shapes.items():
    rows = labels == k
    out[rows] += contrast[rows] * shape[rows]
  return (np.clip(out, 0, 1) * 255).astype(np.uint8)[..., None]


def _reports(labels, rng):
  tokens = np.full((len(labels), REPORT_LENGTH), text.SPACE, np.int32)
  variant = rng.integers(0, 2, len(labels))
  for i, (label, v) in enumerate(zip(labels, variant)):
    phrase = PHRASES[label][v]
    start = rng.integers(0, MAX_START + 1)
    tokens[i, start:start + len(phrase)] = text.symbol_ids(phrase)
  return tokens


def _labs(labels, rng):
  n = len(labels)
  noise_scale = np.linspace(0.1, 1.0, LABS, dtype=np.float32)
  out = rng.normal(0, 1, (n, LABS)).astype(np.float32) * noise_scale
  out[np.arange(n), labels] += 2.0  # dimensions 0-3 code the class
  age = rng.normal(0, 1, (n, 1)).astype(np.float32)
  out[:, 4:10] += age * np.linspace(0.5, 1.5, 6, dtype=np.float32)
  return out


def _masks(n, missing_rate, rng):
  keep = draw_presence(np.ones((n, len(NAMES)), bool),
                       drop_probability(missing_rate, len(NAMES)), rng)
  return {m: keep[:, i] for i, m in enumerate(NAMES)}


def make(train_size=6000, test_size=1000, missing_rate=0.4, seed=0):
  """{array name: array} of both splits (data/npz.py's layout)."""
  arrays = {}
  for split, n, offset in (("train", train_size, 0), ("test", test_size, 1)):
    rng = np.random.default_rng([seed, offset, 31])
    labels = rng.integers(0, CLASSES, n)
    arrays[f"{split}_labels"] = labels.astype(np.int32)
    arrays[f"{split}_scan"] = _scans(labels, rng)
    arrays[f"{split}_report"] = _reports(labels, rng)
    arrays[f"{split}_labs"] = _labs(labels, rng)
    for m, mask in _masks(n, missing_rate, rng).items():
      arrays[f"{split}_mask_{m}"] = mask
  return arrays


def write(path, **kwargs):
  """Writes `make(**kwargs)` to `path` (.npz) and returns the arrays."""
  arrays = make(**kwargs)
  folder = os.path.dirname(path)
  if folder:
    files.makedirs(folder)
  data = io.BytesIO()
  np.savez(data, **arrays)  # local: into memory
  files.write_atomic(path, data.getvalue())
  return arrays
