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
      draw.text((TILE // 2, TILE // 2), text_lib.decode(v).replace("\n", " "),
                fill=(0, 0, 0), font=font, anchor="mm")
      out[i] = np.asarray(img)
    return out
  images = np.clip(values, 0.0, 1.0)
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  for i, img in enumerate(images):
    pil = Image.fromarray((img * 255).astype(np.uint8), "RGB")
    out[i] = np.asarray(pil.resize((TILE, TILE), Image.NEAREST))
  return out


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
