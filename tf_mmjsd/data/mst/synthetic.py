"""`synthetic_mst`: a procedurally generated, offline stand-in for MNIST-SVHN.

This is synthetic data (docs/data.md); numbers measured on it are not
MNIST or SVHN numbers. It has the keys, shapes and value ranges of the real
data so that every code path runs without the internet:

* "mnist"-like: a handwriting-like digit drawn from stroke templates with
  elastic jitter, a random affine map and a random stroke width; 28x28 grey
  on black.
* "svhn"-like: a printed digit with random size, aspect, weight, colours of
  low contrast, a gradient background, partial neighbouring distractor
  digits, blur and noise; 32x32 RGB. Harder than the "mnist"-like images,
  as SVHN is harder than MNIST (the coherence classifier errs 3 to 9 times
  as often). Most digits (90%) are lighter than their ground, as on house
  numbers; with an even split the average image of a digit over its styles
  would be a flat colour, which no model could generate from another
  modality.

Each image pool is drawn independently, so style is independent across
modalities; the text modality (digit_text.py) is made from the labels. Pools
are deterministic from the seed and cached on disk as one .npz file.
"""

import math
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from tf_mmjsd import files

VERSION = 3  # bump when the generator changes, so old caches are not reused


def _arc(cx, cy, rx, ry, start_deg, end_deg, n=12):
  t = np.radians(np.linspace(start_deg, end_deg, n))
  return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _line(*points):
  return np.array(points, dtype=np.float64)


# Stroke templates in the unit square (x right, y down): lists of polylines.
_TEMPLATES = {
    0: [_arc(0.5, 0.5, 0.27, 0.4, 0, 360, 24)],
    1: [_line((0.36, 0.24), (0.52, 0.1), (0.52, 0.9))],
    2: [np.concatenate([_arc(0.5, 0.32, 0.24, 0.22, 190, 380, 10),
                        _line((0.26, 0.9), (0.78, 0.9))])],
    3: [_arc(0.47, 0.3, 0.24, 0.2, 200, 450, 10),
        _arc(0.47, 0.69, 0.27, 0.21, 270, 520, 10)],
    4: [_line((0.64, 0.9), (0.64, 0.1), (0.2, 0.64), (0.82, 0.64))],
    5: [np.concatenate([_line((0.74, 0.1), (0.32, 0.1), (0.29, 0.45)),
                        _arc(0.5, 0.64, 0.26, 0.24, 220, 500, 12)])],
    6: [np.concatenate([_line((0.68, 0.1), (0.4, 0.35)),
                        _arc(0.5, 0.67, 0.24, 0.23, 200, 560, 16)])],
    7: [_line((0.22, 0.1), (0.78, 0.1), (0.42, 0.9))],
    8: [_arc(0.5, 0.29, 0.2, 0.19, 0, 360, 16),
        _arc(0.5, 0.69, 0.25, 0.21, -90, 270, 18)],
    9: [np.concatenate([_arc(0.5, 0.33, 0.23, 0.22, -20, 340, 16),
                        _line((0.72, 0.33), (0.62, 0.9))])],
}


def _warped_strokes(digit, rng, jitter):
  """Template polylines with elastic jitter and a random affine map."""
  angle = math.radians(rng.uniform(-15, 15))
  shear = rng.uniform(-0.3, 0.3)
  sx, sy = rng.uniform(0.75, 1.1), rng.uniform(0.85, 1.1)
  cos, sin = math.cos(angle), math.sin(angle)
  affine = np.array([[cos, -sin], [sin, cos]]) @ np.array(
      [[sx, shear], [0.0, sy]])
  shift = rng.uniform(-0.06, 0.06, size=2)
  amp = rng.uniform(0.0, jitter, size=2)
  freq = rng.uniform(0.5, 1.5, size=2)
  phase = rng.uniform(0, 2 * math.pi, size=2)
  out = []
  for line in _TEMPLATES[digit]:
    p = line + rng.normal(0.0, jitter / 3, size=line.shape)
    p = p + amp * np.sin(2 * math.pi * freq * p[:, ::-1] + phase)
    out.append((p - 0.5) @ affine.T + 0.5 + shift)
  return out


def _draw_strokes(draw, strokes, box, width, fill):
  """Draws unit-square polylines into the pixel box (x0, y0, size)."""
  x0, y0, size = box
  for line in strokes:
    pts = [(x0 + x * size, y0 + y * size) for x, y in line]
    draw.line(pts, fill=fill, width=max(1, int(round(width))),
              joint="curve")
    r = width / 2
    for px, py in (pts[0], pts[-1]):
      draw.ellipse((px - r, py - r, px + r, py + r), fill=fill)


def mnist_like(labels, rng):
  """uint8 [N, 28, 28, 1] handwriting-like digits of the given labels."""
  out = np.empty((len(labels), 28, 28, 1), np.uint8)
  for i, digit in enumerate(labels):
    canvas = Image.new("L", (56, 56), 0)
    strokes = _warped_strokes(int(digit), rng, jitter=0.05)
    _draw_strokes(ImageDraw.Draw(canvas), strokes, (10, 8, 38),
                  width=rng.uniform(3.0, 7.0), fill=255)
    out[i, :, :, 0] = np.asarray(canvas.resize((28, 28), Image.BOX))
  return out


_FONTS = {}


def _font(size):
  if size not in _FONTS:
    _FONTS[size] = ImageFont.load_default(size=size)
  return _FONTS[size]


def _glyph(draw, digit, center, size, fill, bold):
  """A printed digit at `center` (house numbers are printed, not written)."""
  draw.text(center, str(digit), font=_font(size), fill=fill, anchor="mm",
            stroke_width=bold, stroke_fill=fill)


LIGHT_ON_DARK = 0.9  # fraction of svhn-like digits lighter than their ground


def svhn_like(labels, rng):
  """uint8 [N, 32, 32, 3] street-number-like digits of the given labels."""
  n = len(labels)
  out = np.empty((n, 32, 32, 3), np.uint8)
  ramp = np.linspace(-1.0, 1.0, 64)
  for i, digit in enumerate(labels):
    # Mostly light digits on darker backgrounds, as on house-number plates;
    # the minority of dark-on-light keeps polarity a style of this modality.
    contrast = rng.uniform(45, 130) * (1.0 if rng.random() < LIGHT_ON_DARK
                                       else -1.0)
    bg = rng.uniform(30, 225, size=3)
    bg += np.clip(bg.mean() + contrast, 15, 240) - (bg.mean() + contrast)
    fg = np.clip(bg + contrast + rng.normal(0, 20, size=3), 0, 255)
    # Background: base colour plus a random linear gradient, at 2x.
    gx, gy = rng.normal(0, 20, size=2)
    grad = ramp[None, :] * gx + ramp[:, None] * gy
    base = np.clip(bg[None, None, :] + grad[:, :, None], 0, 255)
    canvas = Image.fromarray(base.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    size = int(rng.uniform(40, 54))
    aspect = rng.uniform(0.75, 1.2)
    bold = int(rng.integers(0, 3))
    cx, cy = 32 + rng.uniform(-3, 3), 32 + rng.uniform(-3, 3)
    spacing = size * aspect * rng.uniform(0.7, 0.9)
    for side in (-1, 1):  # partial neighbouring digits
      if rng.random() < 0.5:
        _glyph(draw, int(rng.integers(0, 10)),
               (cx + side * (spacing + size * 0.25), cy), size,
               tuple(int(v) for v in fg), bold)
    _glyph(draw, int(digit), (cx, cy), size, tuple(int(v) for v in fg),
           bold)
    small = canvas.resize((int(round(64 / aspect)), 64), Image.BILINEAR)
    left = (small.width - 64) // 2
    if left > 0:
      small = small.crop((left, 0, left + 64, 64))
    else:
      small = small.resize((64, 64), Image.BILINEAR)
    small = small.resize((32, 32), Image.BOX)
    small = small.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 0.8)))
    noisy = np.asarray(small, np.float32) + rng.normal(
        0, rng.uniform(2, 14), size=(32, 32, 3))
    out[i] = np.clip(noisy, 0, 255).astype(np.uint8)
  return out


def balanced_labels(n, rng):
  """int32 [n] digits with counts as equal as possible, in random order."""
  return rng.permutation(np.arange(n) % 10).astype(np.int32)


def generate(train_size, test_size, seed):
  """Fresh pools: {"<split>/<modality>": uint8 images, "<split>/labels_<m>"}."""
  arrays = {}
  for split_id, (split, n) in enumerate((("train", train_size),
                                         ("test", test_size))):
    for mod_id, (name, fn) in enumerate((("mnist", mnist_like),
                                         ("svhn", svhn_like))):
      rng = np.random.default_rng([seed, split_id, mod_id, VERSION])
      labels = balanced_labels(n, rng)
      arrays[f"{split}/{name}"] = fn(labels, rng)
      arrays[f"{split}/labels_{name}"] = labels
  return arrays


def cache_path(cache_dir, train_size, test_size, seed):
  return os.path.join(
      cache_dir, f"synthetic_mst_v{VERSION}_seed{seed}_"
      f"{train_size}_{test_size}.npz")


def load_or_generate(cache_dir, train_size, test_size, seed, log=print):
  """The cached pools, generating and caching them on first use.

  The cache file is written to a temporary name and renamed, so an
  interrupted build never leaves a half-written cache behind.
  """
  path = cache_path(cache_dir, train_size, test_size, seed)
  if files.exists(path):
    with files.load_npz(path) as data:
      return {k: data[k] for k in data.files}
  log(f"Building the synthetic_mst data set (synthetic, not MNIST/SVHN): "
      f"{train_size} train + {test_size} test examples -> {path}")
  arrays = generate(train_size, test_size, seed)
  files.makedirs(cache_dir)
  with files.atomic_writer(path) as f:
    np.savez(f, **arrays)  # local: into files.atomic_writer
  return arrays
