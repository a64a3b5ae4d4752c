"""The registry of training methods: each method is one module of this
package (docs/extending.md).

A method module defines `METHOD`, a `Method` entry: its objective function,
its options (settings of its own, with defaults, help and validation, which
ExperimentConfig, the flags and the settings test pick up), the names of
its per-example terms, and its fusion rules: which subset posterior
inference calls "poe" and "mixture" (MultimodalVAE.fuse) and which one the
decoders are trained on and generate from (MultimodalVAE.default_fusion).
Every module of this package that defines METHOD is registered at import;
`register` adds one defined elsewhere (a test, a user's package).

Method modules import TensorFlow inside their objective functions only, so
that flags and configs can be checked before TensorFlow loads.

Built-in methods (one module each):

  mmjsd  mixture reconstruction + JS divergence to a dynamic prior
  mmvae  mixture reconstruction + mean KL of the unimodal posteriors
  mvae   joint ELBO (plain PoE with the prior) + one ELBO per modality
  mopoe  mixture of the PoEs of every non-empty subset (Sutter et al.,
         ICLR 2021): reconstruction from it, mean KL of the subset PoEs
"""

import dataclasses
import importlib
import pkgutil
from typing import Callable

from tf_mmjsd import options as options_lib
from tf_mmjsd.options import Option  # pylint: disable=unused-import  # methods.Option: part of this module's API

# The fusion rules a Method may name (fusion.method_product and
# fusion.method_mixture implement them).
PRODUCTS = ("weighted", "plain", "subset")
MIXTURES = ("unimodal", "subsets")
DECODINGS = ("mixture", "poe")


@dataclasses.dataclass(frozen=True)
class Method:
  """What a method is made of.

  Attributes:
    name: the method's name (--method=name).
    summary: one line for --help and the docs.
    objective: fn(posteriors, present, log_likelihood, settings, noise)
      -> {term: [B]} (objectives.py states the signature); "loss" is
      minimised.
    terms: the names of its per-example terms besides "loss", "rec_<m>"
      and "kl_style_<m>" (e.g. ("js",)); training logs each.
    product: the PoE subset posterior of inference: "weighted" (mmJSD's
      pi-weighted geometric mean of N(0, I) and the present q_m),
      "plain" (the unweighted product of N(0, I) and the present q_m, the
      posterior MVAE trains), "subset" (MoPoE's: the unweighted product
      of the present q_m, with N(0, I) only when all M are present), or a
      function of the method's own (fusion.method_product states its
      signature; it imports TensorFlow inside, as objectives do).
    decoding: the subset posterior whose samples the decoders are trained
      on, used for generation by default: "mixture" or "poe".
    mixture: the "mixture" posterior of inference: "unimodal" (the uniform
      mixture of the present q_m) or "subsets" (MoPoE's joint posterior:
      the uniform mixture of the "subset" PoEs of every non-empty subset of
      the present modalities).
    options: its `options.Option`s.
    joint_encoder: it trains a joint encoder q(c | x_1..x_M) besides the
      unimodal ones (networks.JointEncoder; JMVAE): the objective finds
      its (loc, scale) under `posteriors["content"][fusion.JOINT]`, and
      inference's "poe" posterior of an example with every modality
      present is it.
    complete_data: it trains on examples with every modality only
      (JMVAE): --missing_rate and training data with absent entries are
      refused.
    variables: fn(names, latent_dim, style_dim) -> a Keras layer (or None)
      holding trainable variables of the method's own (MMVAE+'s auxiliary
      style prior); the model tracks it (optimizer, checkpoints) and the
      objective finds it as settings.variables. It imports TensorFlow
      inside, as objectives do.
  """

  name: str
  summary: str
  objective: Callable[..., dict]
  terms: tuple
  product: str | Callable
  decoding: str
  mixture: str = "unimodal"
  options: tuple = ()
  joint_encoder: bool = False
  complete_data: bool = False
  variables: Callable = None

  def __post_init__(self):
    for field, value, allowed in (("product", self.product, PRODUCTS),
                                  ("decoding", self.decoding, DECODINGS),
                                  ("mixture", self.mixture, MIXTURES)):
      if value not in allowed and not (field == "product"
                                       and callable(value)):
        raise ValueError(f"method {self.name}: {field} must be one of "
                         f"{allowed}, got {value!r}")

  def option(self, name):
    """Its Option `name`, or None."""
    return next((o for o in self.options if o.name == name), None)

  def resolve_options(self, given):
    """{name: value} of every option: `given` ({name: value}), checked,
    and the defaults of the rest; ConfigError for a name that is not one
    of its options."""
    return options_lib.resolve(self.options, given, f"method {self.name}",
                               lambda n: _not_an_option(n, self.name))


METHODS = {}


def register(method):
  """Adds a Method; ValueError where its name or an option's name is taken
  by another method (ExperimentConfig refuses an option named like one of
  its settings)."""
  if method.name in METHODS:
    raise ValueError(f"a method named {method.name!r} is registered "
                     "already")
  for option in method.options:
    if owner_of(option.name) is not None:
      raise ValueError(f"method {method.name}: option {option.name!r} is "
                       f"an option of method {owner_of(option.name)}")
  METHODS[method.name] = method
  return method


def unregister(name):
  """Removes the method `name` (tests that register one of their own)."""
  METHODS.pop(name, None)


def names():
  """The registered methods' names, in registration order."""
  return tuple(METHODS)


def get(name):
  """The Method called `name`; ValueError naming the choices otherwise."""
  if name not in METHODS:
    raise ValueError(f"method must be one of {names()}, got {name!r}")
  return METHODS[name]


def options():
  """{option name: (method name, Option)} of every registered method."""
  return {o.name: (m.name, o) for m in METHODS.values() for o in m.options}


def owner_of(option_name):
  """The name of the method whose option `option_name` is, or None."""
  return options().get(option_name, (None, None))[0]


def _not_an_option(name, method):
  owner = owner_of(name)
  if owner is not None:
    return f"{name} is an option of method {owner}; method {method} has none"
  return f"{name} is not an option of method {method}"


def term_names(method, modality_names, style_dim):
  """Names of the per-example terms a method's objective returns, "loss"
  first."""
  out = ["loss"] + [f"rec_{m}" for m in modality_names]
  out += list(get(method).terms)
  if style_dim:
    out += [f"kl_style_{m}" for m in modality_names]
  return out


def _register_built_in():
  for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
    module = importlib.import_module(f"{__name__}.{info.name}")
    if hasattr(module, "METHOD"):
      register(module.METHOD)


_register_built_in()
