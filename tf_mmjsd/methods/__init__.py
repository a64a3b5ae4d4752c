"""The registry of training methods and dynamic priors.

A method is one `Method` entry here plus one objective function of the same
name in objectives.py (docs/objectives.md; `objectives.of(method)`). Everything that differs
between methods is read from the entry: the config's choices, the name of
the divergence term, the subset posterior that inference uses for "poe"
(MultimodalVAE.fuse) and the one the decoders are trained on
(MultimodalVAE.default_fusion). This module imports no TensorFlow, so that
flags and configs can be checked before TensorFlow loads.

  mmjsd  mixture reconstruction + JS divergence to a dynamic prior
  mmvae  mixture reconstruction + mean KL of the unimodal posteriors
  mvae   joint ELBO (plain PoE with the prior) + one ELBO per modality
  mopoe  mixture of the PoEs of every non-empty subset (Sutter et al.,
         ICLR 2021): reconstruction from it, mean KL of the subset PoEs

Dynamic priors of the JS term (divergences.PRIOR_KLS):

  poe  weighted geometric mean of the prior and the posteriors (closed form)
  moe  weighted arithmetic mean (a mixture; Monte-Carlo KL estimates)
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Method:
  """What a method is made of.

  Attributes:
    name: the method's name; objectives.<name> is its objective function.
    divergence: the name of its divergence term ("js" or "kl").
    product: the PoE subset posterior of inference: "weighted" (mmJSD's
      pi-weighted geometric mean of N(0, I) and the present q_m), "plain"
      (the unweighted product of N(0, I) and the present q_m, the
      posterior MVAE trains) or "subset" (MoPoE's: the unweighted product
      of the present q_m, with N(0, I) only when all M are present).
    mixture: the "mixture" posterior of inference: "unimodal" (the uniform
      mixture of the present q_m) or "subsets" (MoPoE's joint posterior:
      the uniform mixture of the "subset" PoEs of every non-empty subset of
      the present modalities).
    decoding: the subset posterior whose samples the decoders are trained
      on, used for generation by default: "mixture" or "poe".
  """

  name: str
  divergence: str
  product: str
  decoding: str
  mixture: str = "unimodal"


METHODS = {m.name: m for m in (
    Method("mmjsd", divergence="js", product="weighted", decoding="mixture"),
    Method("mmvae", divergence="kl", product="weighted", decoding="mixture"),
    Method("mvae", divergence="kl", product="plain", decoding="poe"),
    Method("mopoe", divergence="kl", product="subset", decoding="poe",
           mixture="subsets"),
)}

DYNAMIC_PRIORS = ("poe", "moe")


def get(name):
  """The Method called `name`; ValueError naming the choices otherwise."""
  if name not in METHODS:
    raise ValueError(f"method must be one of {tuple(METHODS)}, got {name!r}")
  return METHODS[name]


def term_names(method, names, style_dim):
  """Names of the per-example terms a method's objective returns, "loss"
  first."""
  out = ["loss"] + [f"rec_{m}" for m in names]
  out.append(get(method).divergence)
  if style_dim:
    out += [f"kl_style_{m}" for m in names]
  return out
