"""PNG grids of generated samples (text drawn as strings), and where they
are written: the one place for the sample images of training (samples/)
and of evaluation (figures/)."""

import io
import os
import textwrap

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw, ImageFont

from tf_mmjsd import files, likelihoods
from tf_mmjsd.data import text as text_lib

TILE = 64
GAP = 2
LONG_TEXT = 16  # texts longer than this are wrapped in small print


def tiles(spec, values):
  """uint8 RGB tiles [N, TILE, TILE, 3] showing examples of one modality."""
  values = np.asarray(values)
  out = np.zeros((len(values), TILE, TILE, 3), np.uint8)
  if text_lib.is_text(spec) and spec.shape[0] > LONG_TEXT:
    font = ImageFont.load_default(size=8)
    for i, v in enumerate(values):
      img = Image.new("RGB", (TILE, TILE), (255, 255, 255))
      lines = textwrap.wrap(long_text(v), 13)[:7]
      ImageDraw.Draw(img).multiline_text((2, 1), "\n".join(lines),
                                         fill=(0, 0, 0), font=font,
                                         spacing=1)
      out[i] = np.asarray(img)
    return out
  if likelihoods.of(spec).one_hot:
    font = ImageFont.load_default(size=12)
    for i, v in enumerate(values):
      img = Image.new("RGB", (TILE, TILE), (255, 255, 255))
      draw = ImageDraw.Draw(img)
      draw.multiline_text((TILE // 2, TILE // 2), _symbols(spec, v),
                          fill=(0, 0, 0),
                          font=font, anchor="mm", align="center")
      out[i] = np.asarray(img)
    return out
  if values.ndim != 4 or values.shape[-1] not in (1, 3):
    values = _as_square_images(values.reshape(len(values), -1))
  images = np.clip(values, 0.0, 1.0)
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  for i, img in enumerate(images):
    pil = Image.fromarray((img * 255).astype(np.uint8), "RGB")
    out[i] = np.asarray(pil.resize((TILE, TILE), Image.NEAREST))
  return out


def long_text(one_hot):
  """The string of a long [length, 71] one-hot text without its padding
  ("*", spaces); what a tile shows of it is the start."""
  return text_lib.decode(one_hot).replace("\n", " ").strip("* ")


def _symbols(spec, one_hot):
  """The string of a [length, classes] one-hot; ids when not the alphabet."""
  if text_lib.is_text(spec):
    return text_lib.decode(one_hot).replace("\n", " ")
  ids = np.argmax(one_hot, axis=-1)
  return "\n".join(" ".join(str(i) for i in ids[k:k + 4])
                   for k in range(0, len(ids), 4))


def _as_square_images(vectors):
  """[N, D] values -> [N, S, S, 1] grey squares, min-max scaled per row."""
  size = int(np.ceil(np.sqrt(vectors.shape[1])))
  padded = np.zeros((len(vectors), size * size), np.float32)
  lo = vectors.min(axis=1, keepdims=True)
  span = np.maximum(vectors.max(axis=1, keepdims=True) - lo, 1e-8)
  padded[:, :vectors.shape[1]] = (vectors - lo) / span
  return padded.reshape(len(vectors), size, size, 1)


def columns(split, num):
  """`num` evenly spaced rows of a split that have every modality."""
  candidates = np.flatnonzero(split.complete())
  if not len(candidates):
    return candidates
  return candidates[np.linspace(0, len(candidates) - 1, num).astype(int)]


def column_inputs(split, pipeline, num):
  """{m: [n, *shape_m]} numpy inputs of the `columns` of a split (n <= num
  examples with every modality), or None where no example has them all.

  Args:
    pipeline: the data.pipeline.Pipeline of `split`.
  """
  rows = columns(split, num)
  if not len(rows):
    return None
  batch = next(iter(pipeline.eval_dataset(len(rows), rows)))
  return {m: v.numpy() for m, v in batch["inputs"].items()}


def save(images, out_dir, relative_to, writer=None, step=0, tag="samples"):
  """Writes {name: PIL image} as out_dir/<name>.png and, with a
  tf.summary writer, as TensorBoard images <tag>/<name> at `step`.

  Returns:
    the PNG paths, relative to `relative_to`.
  """
  files.makedirs(out_dir)
  paths = []
  for name, image in images.items():
    path = os.path.join(out_dir, f"{name}.png")
    png = io.BytesIO()
    image.save(png, format="PNG")
    files.write_atomic(path, png.getvalue())
    paths.append(os.path.relpath(path, relative_to))
  if writer is not None:
    with writer.as_default(step=step):
      for name, image in images.items():
        tf.summary.image(f"{tag}/{name}", np.asarray(image)[None])
  return paths


def grid(rows):
  """A PIL image of rows of tiles, each row [N, TILE, TILE, 3]."""
  cols = max(len(r) for r in rows)
  height = len(rows) * (TILE + GAP) + GAP
  width = cols * (TILE + GAP) + GAP
  canvas = np.full((height, width, 3), 128, np.uint8)
  for r, row in enumerate(rows):
    for c, tile in enumerate(row):
      y, x = GAP + r * (TILE + GAP), GAP + c * (TILE + GAP)
      canvas[y:y + TILE, x:x + TILE] = tile
  return Image.fromarray(canvas)


def conditional_grid(model, inputs, subset):
  """Rows: the inputs of `subset`, then every modality generated from them.

  Args:
    inputs: {m: [N, *shape]} with every modality of the model (N columns).
  """
  specs = {s.name: s for s in model.specs}
  generated = model.generate({m: inputs[m] for m in subset})
  rows = [tiles(specs[m], inputs[m]) for m in subset]
  rows += [tiles(specs[m], generated[m].numpy()) for m in model.names]
  return grid(rows)


def random_grid(model, num, groups=1):
  """`groups` blocks of one row per modality; each column of a block is one
  unconditional sample (c and all s_m drawn from N(0, I))."""
  rows = []
  for _ in range(groups):
    samples = model.sample(num)
    rows += [tiles(s, samples[s.name].numpy()) for s in model.specs]
  return grid(rows)


def _shared_noise_rows(model, inputs, subset, num_rows, fusion_kind, rng):
  """Likelihood means {m: [num_rows, N, *shape]} from the subset posterior.

  Row r decodes loc + scale * eps_r with one eps_r (and one style s_r per
  modality) shared by all N columns; with the mixture, each column first
  picks one of its components at random (a unimodal posterior, or for
  MoPoE a subset product).
  """
  encoded = model.encode({m: inputs[m] for m in subset})["content"]
  num = len(next(iter(inputs.values())))
  dist = model.fuse(encoded, {m: tf.ones([num]) for m in subset}, fusion_kind)
  if fusion_kind == "mixture":  # each column picks one component
    probs = dist.mixture_distribution.probs_parameter().numpy()  # [N, K]
    pick = [rng.choice(probs.shape[1], p=p / p.sum()) for p in probs]
    components = dist.components_distribution
    locs, scales = components.mean().numpy(), components.stddev().numpy()
    loc, scale = locs[np.arange(num), pick], scales[np.arange(num), pick]
  else:
    loc, scale = dist.mean().numpy(), dist.stddev().numpy()
  out = {m: [] for m in model.names}
  for _ in range(num_rows):
    eps = rng.standard_normal((1, model.latent_dim)).astype(np.float32)
    styles = {m: np.repeat(rng.standard_normal((1, model.style_dim)), num,
                           0).astype(np.float32)
              for m in model.names} if model.style_dim else None
    params = model.decode(tf.constant(loc + scale * eps), styles)
    for m, p in params.items():
      out[m].append(likelihoods.mean(model.spec_of[m], p).numpy())
  return out


def subset_grid(model, inputs, subset, num_rows, fusion_kind=None, seed=0):
  """The evaluation grid of one conditioning subset (the paper's Figure 1).

  Rows: the inputs of `subset` (one row per modality), then `num_rows` rows
  per modality of the model, each row generated with one random noise and
  style draw shared by all columns, so a row shows one "style" across the
  columns' contents.

  Args:
    inputs: {m: [N, *shape]} with at least the modalities of `subset`.
  """
  rng = np.random.default_rng(seed)
  generated = _shared_noise_rows(model, inputs, subset, num_rows,
                                 fusion_kind or model.default_fusion, rng)
  rows = [tiles(model.spec_of[m], inputs[m]) for m in subset]
  for m in model.names:
    rows += [tiles(model.spec_of[m], row) for row in generated[m]]
  return grid(rows)
