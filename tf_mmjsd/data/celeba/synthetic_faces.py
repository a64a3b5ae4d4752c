"""synthetic_celeba: cartoon faces with CelebA's 40 attributes, written in
the layout of the standard CelebA files (numpy + Pillow, deterministic from
a seed). A stand-in for trying the CelebA pipeline offline: it is not
CelebA, and numbers measured on it are never CelebA numbers.

Fifteen attributes (`DRAWN`) are drawn into the 148x148 region that the
CelebA crop keeps: four hair colours, bald, bangs, eyeglasses, smiling,
mouth slightly open, mustache, beard (No_Beard = 0), wearing hat, wearing
lipstick, pale skin, rosy cheeks. Male makes a beard and a mustache likelier
and lipstick rarer; the other attributes are random labels with no picture
(a model cannot infer them from the image, only from the text).
"""

import os

import numpy as np
from PIL import Image, ImageDraw

from tf_mmjsd import files
from tf_mmjsd.data.celeba.attributes import ATTRIBUTES

HAIR = {"Black_Hair": (30, 25, 20), "Blond_Hair": (225, 195, 110),
        "Brown_Hair": (110, 70, 40), "Gray_Hair": (160, 160, 165)}
DRAWN = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair", "Bald",
         "Bangs", "Eyeglasses", "Smiling", "Mouth_Slightly_Open", "Mustache",
         "No_Beard", "Wearing_Hat", "Wearing_Lipstick", "Pale_Skin",
         "Rosy_Cheeks")


def draw_attributes(n, rng):
  """int8 [n, 40] attributes with the drawn ones made consistent."""
  index = {a: i for i, a in enumerate(ATTRIBUTES)}
  out = (rng.random((n, 40)) < 0.3).astype(np.int8)
  male = rng.random(n) < 0.45
  out[:, index["Male"]] = male
  hair = rng.integers(0, 5, n)  # 4: none of the four colours
  for k, name in enumerate(HAIR):
    out[:, index[name]] = hair == k
  out[:, index["Bald"]] = (hair == 4) & (rng.random(n) < 0.5)
  beard = rng.random(n) < np.where(male, 0.45, 0.0)
  out[:, index["No_Beard"]] = ~beard
  out[:, index["Goatee"]] = beard & (rng.random(n) < 0.3)
  out[:, index["Mustache"]] = rng.random(n) < np.where(male, 0.3, 0.0)
  out[:, index["Wearing_Lipstick"]] = ~male & (rng.random(n) < 0.6)
  out[:, index["Bangs"]] &= ~out[:, index["Bald"]].astype(bool)
  return out


def face(attributes, rng):
  """uint8 [218, 178, 3] picture of one attribute row."""
  a = dict(zip(ATTRIBUTES, attributes))
  background = tuple(int(v) for v in rng.integers(60, 200, 3))
  img = Image.new("RGB", (178, 218), background)
  draw = ImageDraw.Draw(img)
  # The face inside the crop (x 15-162, y 35-182), jittered.
  cx = 89 + rng.integers(-6, 7)
  cy = 112 + rng.integers(-6, 7)
  rx, ry = rng.integers(38, 46), rng.integers(48, 56)
  skin = (245, 225, 215) if a["Pale_Skin"] else tuple(
      int(v) for v in rng.integers([170, 120, 90], [225, 175, 140]))
  hair = next((HAIR[h] for h in HAIR if a[h]), (90, 60, 50))
  if not a["Bald"]:
    draw.ellipse([cx - rx - 8, cy - ry - 12, cx + rx + 8, cy + ry // 2],
                 fill=hair)
  draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=skin)
  if a["Bangs"] and not a["Bald"]:
    draw.rectangle([cx - rx + 4, cy - ry, cx + rx - 4, cy - ry + 22],
                   fill=hair)
  if a["Wearing_Hat"]:
    hat = tuple(int(v) for v in rng.integers(0, 255, 3))
    draw.rectangle([cx - rx - 10, cy - ry - 22, cx + rx + 10, cy - ry + 6],
                   fill=hat)
  eye_y = cy - ry // 5
  for side in (-1, 1):
    ex = cx + side * rx // 2
    draw.ellipse([ex - 5, eye_y - 4, ex + 5, eye_y + 4], fill=(40, 30, 30))
    if a["Eyeglasses"]:
      draw.ellipse([ex - 13, eye_y - 11, ex + 13, eye_y + 11],
                   outline=(10, 10, 10), width=3)
    if a["Rosy_Cheeks"]:
      draw.ellipse([ex - 9, eye_y + 14, ex + 9, eye_y + 26],
                   fill=(230, 120, 120))
  if a["Eyeglasses"]:
    draw.line([cx - rx // 2 + 13, eye_y, cx + rx // 2 - 13, eye_y],
              fill=(10, 10, 10), width=3)
  mouth_y = cy + ry // 2
  lips = (200, 30, 50) if a["Wearing_Lipstick"] else (150, 70, 70)
  if not a["No_Beard"]:
    draw.chord([cx - rx + 2, cy, cx + rx - 2, cy + ry + 4], 0, 180,
               fill=tuple(max(0, c - 40) for c in hair))
  if a["Mustache"]:
    draw.rectangle([cx - 16, mouth_y - 12, cx + 16, mouth_y - 6],
                   fill=tuple(max(0, c - 30) for c in hair))
  if a["Mouth_Slightly_Open"]:
    draw.ellipse([cx - 12, mouth_y - 4, cx + 12, mouth_y + 10],
                 fill=(60, 10, 20), outline=lips, width=3)
  elif a["Smiling"]:
    draw.arc([cx - 18, mouth_y - 14, cx + 18, mouth_y + 8], 20, 160,
             fill=lips, width=4)
  else:
    draw.line([cx - 14, mouth_y, cx + 14, mouth_y], fill=lips, width=4)
  if a["Smiling"] and a["Mouth_Slightly_Open"]:
    draw.arc([cx - 20, mouth_y - 12, cx + 20, mouth_y + 12], 20, 160,
             fill=lips, width=3)
  pixels = np.asarray(img, np.float32)
  pixels += rng.normal(0, 6, pixels.shape)
  return np.clip(pixels, 0, 255).astype(np.uint8)


def write_folder(folder, train_size, test_size, seed):
  """Writes img_align_celeba/*.jpg, list_attr_celeba.txt and
  list_eval_partition.txt (train = partition 0, test = partition 1)."""
  rng = np.random.default_rng([seed, 41])
  n = train_size + test_size
  attributes = draw_attributes(n, rng)
  images = os.path.join(folder, "img_align_celeba")
  files.makedirs(images)
  names = [f"{i + 1:06d}.jpg" for i in range(n)]
  for name, row in zip(names, attributes):
    with files.open(os.path.join(images, name), "wb") as f:
      Image.fromarray(face(row, rng)).save(f, format="JPEG", quality=90)
  files.write_atomic(os.path.join(folder, "list_attr_celeba.txt"), "".join(
      [f"{n}\n" + " ".join(ATTRIBUTES) + "\n"]
      + [name + " " + " ".join("1" if v else "-1" for v in row) + "\n"
         for name, row in zip(names, attributes)]))
  files.write_atomic(os.path.join(folder, "list_eval_partition.txt"), "".join(
      f"{name} {0 if i < train_size else 1}\n"
      for i, name in enumerate(names)))
  files.write_atomic(os.path.join(folder, "done"), "ok\n")
