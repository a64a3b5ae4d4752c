"""Modality specs: what a modality is, independent of any data set (each
data set's own specs are in its registry entry, data/registry.py).

A model is built from a tuple of `ModalitySpec`; nothing downstream knows how
many modalities there are or what they are called.

A modality is described on the command line as

    name:shape:likelihood:network[:weight[:activation]][:key=value ...]

(`parse_modality`), or as one JSON object per modality in a file
(`load_modalities_file`). The optional fields are in `FIELDS`.
"""

import dataclasses
import json
import math
import re
from typing import Any

import numpy as np

from tf_mmjsd import files, likelihoods

NETWORKS = ("mlp", "conv", "sequence", "residual_conv", "residual_sequence")
# Older names of a network family, accepted everywhere and stored as the new.
NETWORK_ALIASES = {"text": "sequence"}
ACTIVATIONS = ("linear", "sigmoid")
# Default widths of the families that take `width`.
DEFAULT_WIDTH = {"conv": 32, "sequence": 128, "residual_conv": 128,
                 "residual_sequence": 128}
DEFAULT_HIDDEN = (400,)
# A modality name becomes a dictionary key, a file-name part (classifiers,
# exported networks), an .npz array name (train_<m>, train_mask_<m>) and a
# SavedModel input name (<m>, <m>_present; outputs <m>_string): ASCII, a
# letter first, and none of the names those places already use.
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
RESERVED_NAMES = ("labels", "masks", "inputs", "seed")
RESERVED_PREFIXES = ("mask_",)
RESERVED_SUFFIXES = ("_present", "_string")

# The optional fields of a modality description, and what each one sets.
FIELDS = {
    "weight": "reconstruction weight w_m (default 1)",
    "activation": "linear or sigmoid: applied to the decoder output to get "
                  "the mean (laplace, normal only; default linear)",
    "scale": "the likelihood's scale (laplace, normal): a number (fixed, "
             "default 0.75) or 'learned' (one learned scale per dimension, "
             "starting at 0.75) or 'learned@S' (starting at S)",
    "style_weight": "weight of this modality's style KL (default 1)",
    "width": "channels of the first conv stage (conv, default 32), of "
             "every layer (sequence, default 128) or the base width of a "
             "residual network (default 128)",
    "hidden": "hidden layer sizes of an mlp, e.g. 256,128 (default 400)",
}


class SpecError(ValueError):
  """A modality description is wrong; the message names the field."""


@dataclasses.dataclass(frozen=True)
class ModalitySpec:
  """One data type.

  Attributes:
    name: dictionary key of the modality everywhere (batches, networks, loss
      terms, metric names).
    shape: shape of one example, e.g. (28, 28, 1), (30,) or (8, 71).
    likelihood: "laplace" or "normal" (a loc per dimension; scale fixed or
      learned), "bernoulli" (on logits; data in [0, 1]), "categorical" (on
      logits; one-hot data of shape [length, classes]).
    network: encoder/decoder family: "mlp" (flatten + dense, any shape),
      "conv" (2-D convolutional, [H, W, C] of any size), "sequence" (1-D
      convolutional, [L, C] of any length; "text" is an older name), or the
      residual CelebA networks "residual_conv" ([64, 64, C]) and
      "residual_sequence" ([256, C]).
    weight: reconstruction weight w_m of the objective.
    likelihood_scale: scale of a Laplace or normal likelihood (the initial
      value when learned).
    learned_scale: learn one scale per dimension (laplace, normal).
    output_activation: applied to the decoder output to get the loc.
    style_weight: beta_{m,style}, the weight of this modality's style KL.
    width: channels of the conv, sequence and residual families (0: the
      family's default, DEFAULT_WIDTH).
    hidden: hidden layer sizes of the mlp family (empty: (400,)).
  """

  name: str
  shape: tuple[int, ...]
  likelihood: str
  network: str
  weight: float = 1.0
  likelihood_scale: float = 0.75
  output_activation: str = "linear"
  style_weight: float = 1.0
  learned_scale: bool = False
  width: int = 0
  hidden: tuple[int, ...] = ()

  def __post_init__(self):
    set_ = lambda k, v: object.__setattr__(self, k, v)
    where = f"modality {self.name!r}"
    check_name(self.name)
    set_("shape", whole_numbers(where, "shape", self.shape))
    set_("hidden", whole_numbers(where, "hidden", self.hidden))
    set_("network", NETWORK_ALIASES.get(self.network, self.network))
    if self.likelihood not in likelihoods.LIKELIHOODS:
      raise SpecError(f"{where}: likelihood must be one of "
                      f"{tuple(likelihoods.LIKELIHOODS)}, got "
                      f"{self.likelihood!r}")
    kind = likelihoods.of(self.likelihood)
    if self.network not in NETWORKS:
      raise SpecError(f"{where}: network must be one of {NETWORKS}, got "
                      f"{self.network!r}")
    if self.output_activation not in ACTIVATIONS:
      raise SpecError(f"{where}: field 'activation' must be one of "
                      f"{ACTIVATIONS}, got {self.output_activation!r}")
    if self.output_activation != "linear" and not kind.scaled:
      raise SpecError(f"{where}: field 'activation' applies to the laplace "
                      f"and normal likelihoods; {self.likelihood} works on "
                      "logits")
    if not self.shape or any(d < 1 for d in self.shape):
      raise SpecError(f"{where}: bad shape {self.shape}")
    if kind.one_hot and len(self.shape) != 2:
      raise SpecError(f"{where}: a categorical modality has shape "
                      f"[length, classes], got {_text(self.shape)}")
    _check_network_shape(self)
    if not self.weight > 0 or not self.style_weight > 0:
      raise SpecError(f"{where}: fields 'weight' and 'style_weight' must be "
                      "> 0")
    if not self.likelihood_scale > 0:
      raise SpecError(f"{where}: field 'scale' must be > 0")
    if self.learned_scale and not kind.scaled:
      raise SpecError(f"{where}: field 'scale' applies to the laplace and "
                      f"normal likelihoods, not {self.likelihood}")
    if self.width and self.network not in DEFAULT_WIDTH:
      raise SpecError(f"{where}: field 'width' applies to networks "
                      f"{tuple(DEFAULT_WIDTH)}, not {self.network}")
    if self.width < 0:
      raise SpecError(f"{where}: field 'width' must be a positive integer")
    if self.hidden and self.network != "mlp":
      raise SpecError(f"{where}: field 'hidden' applies to network mlp, "
                      f"not {self.network}")
    if any(h < 1 for h in self.hidden):
      raise SpecError(f"{where}: field 'hidden' needs positive sizes")

  @property
  def network_options(self) -> dict[str, Any]:
    """Keyword arguments of the network family (networks.build_*)."""
    if self.network == "mlp":
      return {"hidden_units": list(self.hidden or DEFAULT_HIDDEN)}
    return {"width": self.width or DEFAULT_WIDTH[self.network]}

  def to_dict(self) -> dict[str, Any]:
    out = dataclasses.asdict(self)
    out["shape"] = list(self.shape)
    out["hidden"] = list(self.hidden)
    return out

  @classmethod
  def from_dict(cls, values: dict[str, Any]) -> "ModalitySpec":
    return cls(**values)


def check_name(name):
  """Raises SpecError unless `name` can name a modality (NAME_PATTERN, not
  reserved)."""
  if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
    raise SpecError(
        f"modality name {name!r} must be 1 to 64 ASCII letters, digits and "
        "underscores, starting with a letter")
  if (name.lower() in RESERVED_NAMES
      or name.lower().startswith(RESERVED_PREFIXES)
      or name.lower().endswith(RESERVED_SUFFIXES)):
    raise SpecError(
        f"modality name {name!r} is reserved: names cannot be "
        f"{', '.join(RESERVED_NAMES)}, start with "
        f"{', '.join(RESERVED_PREFIXES)} or end with "
        f"{', '.join(RESERVED_SUFFIXES)} (data files and exported models "
        "use those)")


def _text(shape):
  return "x".join(map(str, shape))


def _check_network_shape(spec):
  """Raises SpecError where the network family cannot take the shape."""
  shape, network = spec.shape, spec.network
  if network == "conv" and len(shape) != 3:
    raise SpecError(
        f"modality {spec.name!r}: network 'conv' takes [H, W, C] images, the "
        f"shape is {_text(shape)}; use network 'mlp' for other shapes")
  if network == "sequence" and len(shape) != 2:
    raise SpecError(
        f"modality {spec.name!r}: network 'sequence' takes [L, C] sequences, "
        f"the shape is {_text(shape)}; use network 'mlp' for other shapes")
  if network == "residual_conv" and (len(shape) != 3 or shape[:2] != (64, 64)):
    raise SpecError(
        f"modality {spec.name!r}: network 'residual_conv' (the CelebA "
        f"network) takes 64x64xC images, the shape is {_text(shape)}; use "
        "network 'conv' for other sizes")
  if network == "residual_sequence" and (len(shape) != 2 or shape[0] != 256):
    raise SpecError(
        f"modality {spec.name!r}: network 'residual_sequence' (the CelebA "
        f"text network) takes [256, C] sequences, the shape is "
        f"{_text(shape)}; use network 'sequence' for other lengths")


def _number(where, key, value, kind=float, shown=None):
  shown = value if shown is None else shown
  try:
    if kind is int:  # whole numbers only: 4.5 and True are not sizes
      if isinstance(value, bool) or (isinstance(value, float)
                                     and not value.is_integer()):
        raise ValueError(value)
    out = kind(value)
  except (TypeError, ValueError):
    raise SpecError(f"{where}: field {key!r} must be a "
                    f"{'number' if kind is float else 'positive integer'}, "
                    f"got {shown!r}") from None
  if kind is float and not math.isfinite(out):
    raise SpecError(f"{where}: field {key!r} must be finite, got {shown!r}")
  return out


def whole_numbers(where, field, values):
  """The tuple of ints of `values`; SpecError for anything that is not a
  whole number (4.5, True, "4a"): sizes are never rounded."""
  out = []
  for d in [values] if isinstance(values, (str, int, float)) else values:
    if isinstance(d, str) and d.strip().isdecimal():
      d = int(d)
    elif isinstance(d, float) and d.is_integer():
      d = int(d)
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
      shown = list(values) if isinstance(values, tuple) else values
      raise SpecError(f"{where}: field {field!r} takes whole numbers, got "
                      f"{shown!r}")
    out.append(int(d))
  return tuple(out)


def _shape(where, value):
  if isinstance(value, str):
    value = value.lower().split("x")
    if not all(d.strip().isdecimal() for d in value):
      value = "x".join(value)  # refused below, as written
  if not isinstance(value, (list, tuple)):
    raise SpecError(f"{where}: field 'shape' must look like 64x64x1 (or a "
                    f"list of sizes), got {value!r}")
  return whole_numbers(where, "shape", value)


def _fields(where, values):
  """ModalitySpec keyword arguments of the optional fields `values`."""
  out = {}
  for key, value in values.items():
    if key not in FIELDS:
      raise SpecError(f"{where}: unknown field {key!r}; the fields are "
                      f"{', '.join(FIELDS)}")
    if key in ("weight", "style_weight"):
      out[key] = _number(where, key, value)
    elif key == "activation":
      out["output_activation"] = str(value)
    elif key == "scale":
      text = str(value)
      if text.startswith("learned"):
        out["learned_scale"] = True
        if text != "learned":
          if not text.startswith("learned@"):
            raise SpecError(f"{where}: field 'scale' must be a number, "
                            f"'learned' or 'learned@S', got {value!r}")
          out["likelihood_scale"] = _number(where, key, text[8:],
                                            shown=text)
      else:
        out["likelihood_scale"] = _number(where, key, value)
    elif key == "width":
      out["width"] = _number(where, key, value, int)
      if out["width"] < 1:
        raise SpecError(f"{where}: field 'width' must be a positive "
                        f"integer, got {value!r}")
    elif key == "hidden":
      sizes = value if isinstance(value, (list, tuple)) else str(
          value).replace("x", ",").split(",")
      out["hidden"] = tuple(_number(where, key, v, int) for v in sizes)
  return out


def parse_modality(text):
  """A spec from "name:shape:likelihood:network[:weight[:activation]]"
  followed by any optional "key=value" fields (`FIELDS`).

  Examples: "image:28x28x1:laplace:mlp:3.9:sigmoid",
  "scan:64x64x1:laplace:conv:width=64", "report:200x40:categorical:sequence",
  "labs:30:normal:mlp:scale=learned:hidden=128,64".

  Raises:
    SpecError: the message names the modality and the bad field.
  """
  parts = text.split(":")
  positional = [p for p in parts if "=" not in p]
  named = [p for p in parts if "=" in p]
  where = f"modality {text!r}"
  if not 4 <= len(positional) <= 6 or parts[:len(positional)] != positional:
    raise SpecError(f"{where}: expected name:shape:likelihood:network"
                    "[:weight[:activation]][:key=value ...]")
  values = {}
  for part in named:
    key, value = part.split("=", 1)
    if key in values:
      raise SpecError(f"{where}: field {key!r} is given twice")
    values[key] = value
  for key, value in zip(("weight", "activation"), positional[4:]):
    if key in values:
      raise SpecError(f"{where}: field {key!r} is given twice")
    values[key] = value
  where = f"modality {positional[0]!r}"
  return ModalitySpec(positional[0], _shape(where, positional[1]),
                      positional[2], positional[3], **_fields(where, values))


def load_modalities_file(path):
  """Specs from a JSON file: a list of objects with "name", "shape" (a list
  or "64x64x1"), "likelihood", "network" and any optional fields (`FIELDS`).

  Raises:
    SpecError: the file is missing or not such a list, or an entry is wrong
      (the message names the file, the entry and the field).
  """
  if not files.isfile(path):
    raise SpecError(f"--modalities_file={path}: no such file")
  try:
    entries = json.loads(files.read_text(path))
  except (OSError, ValueError) as e:
    raise SpecError(f"--modalities_file={path} is not readable JSON: {e}"
                    ) from e
  if not isinstance(entries, list) or not entries:
    raise SpecError(f"{path}: expected a non-empty JSON list of modalities")
  out = []
  for i, entry in enumerate(entries):
    where = f"{path}, modality {i}"
    if not isinstance(entry, dict):
      raise SpecError(f"{where}: expected an object, got {entry!r}")
    entry = dict(entry)
    missing = [k for k in ("name", "shape", "likelihood", "network")
               if k not in entry]
    if missing:
      raise SpecError(f"{where}: missing field(s) {', '.join(missing)}")
    name = entry.pop("name")
    where = f"{path}, modality {name!r}"
    shape = _shape(where, entry.pop("shape"))
    likelihood, network = entry.pop("likelihood"), entry.pop("network")
    try:
      out.append(ModalitySpec(str(name), shape, likelihood, network,
                              **_fields(where, entry)))
    except SpecError as e:
      raise SpecError(f"{path}: {e}") from None
  return tuple(out)



def random_examples(specs, num, rng):
  """{m: float32 [num, *shape_m]} random data that fit the specs: one-hot
  symbols drawn uniformly for a categorical modality, uniform values in
  [0, 1) otherwise (benchmarks and tests; numpy only)."""
  out = {}
  for spec in specs:
    if likelihoods.of(spec).one_hot:
      ids = rng.integers(0, spec.shape[-1], (num, spec.shape[0]))
      out[spec.name] = np.eye(spec.shape[-1], dtype=np.float32)[ids]
    else:
      out[spec.name] = rng.random((num,) + spec.shape).astype(np.float32)
  return out
