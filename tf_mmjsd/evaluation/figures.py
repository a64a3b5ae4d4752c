"""PNG grids of generated samples; text is drawn as strings."""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tf_mmjsd.data import text as text_lib

TILE = 64
GAP = 2


def tiles(spec, values):
  """uint8 RGB tiles [N, TILE, TILE, 3] showing examples of one modality."""
  values = np.asarray(values)
  out = np.zeros((len(values), TILE, TILE, 3), np.uint8)
  if spec.likelihood == "categorical":
    font = ImageFont.load_default(size=12)
    for i, v in enumerate(values):
      img = Image.new("RGB", (TILE, TILE), (255, 255, 255))
      draw = ImageDraw.Draw(img)
      draw.multiline_text((TILE // 2, TILE // 2), _symbols(v), fill=(0, 0, 0),
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


def _symbols(one_hot):
  """The string of a [length, classes] one-hot; ids when not the alphabet."""
  if one_hot.shape[-1] == text_lib.ALPHABET_SIZE:
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


def random_grid(model, num):
  """One row per modality of `num` unconditional samples."""
  samples = model.sample(num)
  return grid([tiles(s, samples[s.name].numpy()) for s in model.specs])
