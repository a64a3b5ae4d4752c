"""Modality specs: what a modality is, independent of any data set.

A model is built from a tuple of `ModalitySpec`; nothing downstream knows how
many modalities there are or what they are called.
"""

import dataclasses
from typing import Any

LIKELIHOODS = ("laplace", "categorical")
NETWORKS = ("mlp", "conv", "text")
ACTIVATIONS = ("linear", "sigmoid")


@dataclasses.dataclass(frozen=True)
class ModalitySpec:
  """One data type.

  Attributes:
    name: dictionary key of the modality everywhere (batches, networks, loss
      terms, metric names).
    shape: shape of one example, e.g. (28, 28, 1) or (8, 71).
    likelihood: "laplace" (fixed scale) or "categorical" (on logits, one-hot
      data of shape [length, classes]).
    network: encoder/decoder family: "mlp" (flatten + dense), "conv" (32x32
      convolutional), "text" (1-D convolutional, length 8).
    weight: reconstruction weight w_m of the objective.
    likelihood_scale: fixed scale of the Laplace likelihood.
    output_activation: applied to the decoder output to get the Laplace loc.
    style_weight: beta_{m,style}, the weight of this modality's style KL.
  """

  name: str
  shape: tuple[int, ...]
  likelihood: str
  network: str
  weight: float = 1.0
  likelihood_scale: float = 0.75
  output_activation: str = "linear"
  style_weight: float = 1.0

  def __post_init__(self):
    object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
    if not self.name or not self.name.replace("_", "").isalnum():
      raise ValueError(
          f"modality name must be a non-empty identifier, got {self.name!r}")
    if self.likelihood not in LIKELIHOODS:
      raise ValueError(f"modality {self.name!r}: likelihood must be one of "
                       f"{LIKELIHOODS}, got {self.likelihood!r}")
    if self.network not in NETWORKS:
      raise ValueError(f"modality {self.name!r}: network must be one of "
                       f"{NETWORKS}, got {self.network!r}")
    if self.output_activation not in ACTIVATIONS:
      raise ValueError(f"modality {self.name!r}: output_activation must be "
                       f"one of {ACTIVATIONS}")
    if any(d < 1 for d in self.shape) or not self.shape:
      raise ValueError(f"modality {self.name!r}: bad shape {self.shape}")
    if self.likelihood == "categorical" and len(self.shape) != 2:
      raise ValueError(f"modality {self.name!r}: a categorical modality has "
                       f"shape [length, classes], got {self.shape}")
    _check_network_shape(self)
    if self.weight <= 0 or self.likelihood_scale <= 0:
      raise ValueError(
          f"modality {self.name!r}: weight and likelihood_scale must be > 0")

  def to_dict(self) -> dict[str, Any]:
    out = dataclasses.asdict(self)
    out["shape"] = list(self.shape)
    return out

  @classmethod
  def from_dict(cls, values: dict[str, Any]) -> "ModalitySpec":
    return cls(**values)


def _check_network_shape(spec):
  """Raises ValueError where the network family cannot take the shape."""
  shape, network = spec.shape, spec.network
  if network == "conv" and (len(shape) != 3 or shape[:2] != (32, 32)):
    raise ValueError(
        f"modality {spec.name!r}: network 'conv' takes 32x32xC images, the "
        f"shape is {'x'.join(map(str, shape))}; resize the images to 32x32 "
        "or use network 'mlp'")
  if network == "text" and (len(shape) != 2 or shape[0] != 8):
    raise ValueError(
        f"modality {spec.name!r}: network 'text' takes sequences of length 8 "
        f"([8, C] one-hot), the shape is {'x'.join(map(str, shape))}; use "
        "network 'mlp' for other lengths")


def parse_modality(text):
  """A spec from "name:shape:likelihood:network[:weight[:activation]]".

  Example: "image:28x28x1:laplace:mlp:3.9:sigmoid", "tags:8x71:categorical:text".
  """
  parts = text.split(":")
  if not 4 <= len(parts) <= 6:
    raise ValueError(f"modality {text!r}: expected "
                     "name:shape:likelihood:network[:weight[:activation]]")
  try:
    shape = tuple(int(d) for d in parts[1].lower().split("x"))
    weight = float(parts[4]) if len(parts) > 4 else 1.0
  except ValueError as e:
    raise ValueError(f"modality {text!r}: bad shape or weight ({e})") from e
  return ModalitySpec(parts[0], shape, parts[2], parts[3], weight=weight,
                      output_activation=parts[5] if len(parts) > 5 else
                      "linear")


def mnist_svhn_text_specs() -> tuple[ModalitySpec, ...]:
  """The three modalities of MNIST-SVHN-Text (DESIGN.md section 4.1).

  Reconstruction weights rescale each log-likelihood to the size of SVHN
  (3 * 32 * 32 = 3072): 3072 / 784 for the digit image, 3072 / 8 for text
  (which counts its 8 positions). Style weights (1, 1, 5) apply only when
  style_dim > 0.
  """
  from tf_mmjsd.data import text  # pylint: disable=g-import-not-at-top
  return (
      ModalitySpec("mnist", (28, 28, 1), "laplace", "mlp",
                   weight=3072.0 / 784.0, output_activation="sigmoid"),
      ModalitySpec("svhn", (32, 32, 3), "laplace", "conv", weight=1.0),
      ModalitySpec("text", (text.TEXT_LENGTH, text.ALPHABET_SIZE),
                   "categorical", "text", weight=3072.0 / text.TEXT_LENGTH,
                   style_weight=5.0),
  )
