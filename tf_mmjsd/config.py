"""Frozen, validated configuration of an experiment.

`ExperimentConfig` is the only thing library code receives; it is built from
absl flags in one place (`tf_mmjsd.flags.config_from_flags`) and written to
`<model_dir>/config.json`, from which `ExperimentConfig.from_dict` rebuilds it.
"""

import dataclasses
import json
import math
from typing import Any

from tf_mmjsd import files, methods, metrics, options as options_lib
from tf_mmjsd.data import registry
from tf_mmjsd.data.specs import ModalitySpec
from tf_mmjsd.errors import ConfigError  # raised here; importable from here too

DISTRIBUTIONS = ("auto", "default", "one_device", "mirrored",
                 "multi_worker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
ON_NONFINITE = ("stop", "skip_batch")
# Seeds go to numpy, Keras and TF's stateless draws: [0, 2**31 - 1].
MAX_SEED = 2**31 - 1
# Settings that may change between a run and its resumption or evaluation
# (and the options marked resumable: resumable()).
RESUMABLE = ("epochs", "checkpoint_every_steps", "keep_checkpoints",
             "probe_train_examples", "num_sample_columns", "model_dir",
             "data_dir", "distribution", "stream_records",
             "jit_compile", "steps_per_execution", "collective_timeout",
             "startup_timeout",
             "on_nonfinite", "max_consecutive_skips",
             "eval_every_epochs", "eval_batch_size", "eval_examples",
             "periodic_eval_examples", "eval_budget", "classifier_dir",
             "classifier_epochs", "figure_rows")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
  """Every setting of one training run (docs/reference_settings.md).

  Attributes:
    modalities: the modality specs, in a fixed order; M = len(modalities).
    dataset: a name of the data registry (data/registry.py).
    dataset_options: {option: value} of the data set's own settings
      (data.registry.Dataset.options: its file locations and sizes, e.g.
      synthetic_train_size), every one of them once built; flat in
      config.json and on the command line, like method_options.
    stream_records: --dataset=records in one process reads the training
      batches from the shards as training goes (memory independent of the
      number of examples) instead of holding the split in memory; every
      multi_worker worker streams anyway (data/records.py).
    method: the training method, a name of the methods registry
      (methods/: one module each).
    method_options: {option: value} of the method's own options
      (methods.Method.options; e.g. mmjsd's dynamic_prior), every one of
      them once built (the defaults fill in). config.json and the flags
      hold them as settings of their own (`--dynamic_prior=moe`).
    metric_options: {option: value} of the evaluation metrics' options
      (metrics.Metric.options, e.g. clustering_runs): every registered
      metric's, once built; flat in config.json and on the command line,
      and all may change after training.
    missing_rate: the fraction of the training split's (example,
      modality) entries made absent, for complete data: each present entry
      is dropped with the probability that yields it once examples left
      with no modality are redrawn (data/split.py, drop_probability),
      drawn once per example from the seed. Masked data end up with more
      absent entries than this fraction.
    latent_dim: size of the shared content code c.
    style_dim: size of each modality-specific style code s_m (0: none).
    beta: weight of the whole divergence term.
    beta_style: extra weight of the style KL terms.
    style_warmup_epochs: epochs at the start of training in which the
      decoders get style samples from N(0, I) instead of q(s_m | x_m), so
      they learn to read the shared content from c before a style code can
      carry it; the style KLs still apply (0: off, as in the paper).
    prior_weight: pi_0, the prior's weight in the dynamic prior; the
      modalities share 1 - pi_0 equally.
    steps_per_epoch: 0 means "number of training examples // batch_size".
    distribution: the tf.distribute strategy (distribution.py).
    mixed_precision: Keras dtype policy of the networks; posterior
      parameters, likelihood parameters and losses stay float32.
    jit_compile: compile the training step with XLA.
    steps_per_execution: training steps per tf.function call.
    collective_timeout: multi_worker: seconds before a collective that a
      peer does not join fails.
    startup_timeout: multi_worker: seconds a worker waits at start-up for
      every peer of the cluster to answer before it stops.
    on_nonfinite: what a training step with a NaN or infinite loss term or
      gradient does (guard.py): "stop" the run, or "skip_batch" (no update;
      the run stops after `max_consecutive_skips` such steps in a row).
    eval_every_epochs: run the evaluation suite every N epochs (0: never),
      on `periodic_eval_examples` test examples, skipping one that would
      take the evaluations past `eval_budget` of the training time; the
      last epoch's is the full evaluation.
    periodic_eval_examples: test examples (and at most as many for the
      likelihood and sample quality) of a periodic evaluation (0: the
      full evaluation's).
    eval_budget: the periodic evaluations' share of the training time.
    eval_examples: test examples evaluated (0: all). The settings of one
      metric (likelihood_samples, prd_clusters, ...) are its options:
      metric_options.
    classifier_dir: where the coherence classifiers live; empty:
      <model_dir>/classifiers.
  """

  modalities: tuple[ModalitySpec, ...]
  dataset: str = "synthetic_mst"
  dataset_options: dict = dataclasses.field(default_factory=dict)
  data_dir: str = ""
  data_path: str = ""
  stream_records: bool = False
  method: str = "mmjsd"
  method_options: dict = dataclasses.field(default_factory=dict)
  metric_options: dict = dataclasses.field(default_factory=dict)
  missing_rate: float = 0.0
  latent_dim: int = 20
  style_dim: int = 0
  beta: float = 2.5
  beta_style: float = 3.0
  style_warmup_epochs: int = 0
  prior_weight: float = 0.25
  batch_size: int = 256
  epochs: int = 100
  steps_per_epoch: int = 0
  learning_rate: float = 5e-4
  adam_beta1: float = 0.9
  adam_beta2: float = 0.999
  adam_epsilon: float = 1e-8
  seed: int = 0
  distribution: str = "auto"
  mixed_precision: str = "float32"
  jit_compile: bool = False
  steps_per_execution: int = 1
  collective_timeout: float = 300.0
  startup_timeout: float = 300.0
  on_nonfinite: str = "stop"
  max_consecutive_skips: int = 10
  model_dir: str = ""
  checkpoint_every_steps: int = 500
  keep_checkpoints: int = 3
  probe_train_examples: int = 10000
  num_sample_columns: int = 8
  # Evaluation (tf_mmjsd/evaluation, bin/evaluate); all may change later.
  eval_every_epochs: int = 0
  eval_batch_size: int = 500
  eval_examples: int = 0
  periodic_eval_examples: int = 1000
  eval_budget: float = 0.1
  classifier_dir: str = ""
  classifier_epochs: int = 5
  figure_rows: int = 4

  def __post_init__(self):
    self.validate()

  def __getattr__(self, name):
    """An option reads like a setting (config.dynamic_prior,
    config.synthetic_train_size): the run's value, or for another method's
    or data set's option its default."""
    for kind in ("method_options", "dataset_options", "metric_options"):
      values = self.__dict__.get(kind) or {}
      if name in values:
        return values[name]
    option = _any_option(name)
    if option is None:
      raise AttributeError(f"ExperimentConfig has no setting {name!r}")
    return option.default

  @property
  def modality_names(self) -> tuple[str, ...]:
    return tuple(m.name for m in self.modalities)

  def validate(self):
    """Raises ConfigError naming the first invalid setting."""
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      if isinstance(field.default, float) and not (
          isinstance(value, (int, float)) and math.isfinite(value)):
        raise ConfigError(f"{field.name} must be a finite number, got "
                          f"{value!r}")
    if not self.modalities:
      raise ConfigError("at least one modality is needed")
    names = self.modality_names
    if len({n.lower() for n in names}) != len(names):
      raise ConfigError("modality names must be unique, ignoring case (they "
                        f"name files), got {names}")
    _choice("dataset", self.dataset, registry.names())
    self._resolve_dataset_options()
    _choice("method", self.method, methods.names())
    self._resolve_method_options()
    self._resolve_metric_options()
    if self.missing_rate and methods.get(self.method).complete_data:
      raise ConfigError(
          f"method {self.method} trains on examples with every modality; "
          f"missing_rate must be 0, got {self.missing_rate}")
    limit = (len(self.modalities) - 1) / len(self.modalities)
    if not (self.missing_rate == 0.0 or 0.0 < self.missing_rate < limit):
      raise ConfigError(
          f"missing_rate must lie in [0, {limit:.3g}) for "
          f"{len(self.modalities)} modalities (no example may lose every "
          f"modality), got {self.missing_rate}")
    _choice("distribution", self.distribution, DISTRIBUTIONS)
    if self.stream_records and self.dataset != "records":
      raise ConfigError("stream_records reads --dataset=records (written by "
                        f"bin/make_records), not --dataset={self.dataset}")
    _choice("mixed_precision", self.mixed_precision, PRECISIONS)
    _choice("on_nonfinite", self.on_nonfinite, ON_NONFINITE)
    for name in ("latent_dim", "batch_size", "epochs",
                 "checkpoint_every_steps", "keep_checkpoints",
                 "num_sample_columns", "eval_batch_size",
                 "classifier_epochs", "figure_rows", "steps_per_execution",
                 "max_consecutive_skips"):
      if getattr(self, name) < 1:
        raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
    for name in ("style_dim", "steps_per_epoch", "probe_train_examples",
                 "beta", "beta_style", "style_warmup_epochs",
                 "eval_every_epochs", "eval_examples",
                 "periodic_eval_examples", "eval_budget"):
      if getattr(self, name) < 0:
        raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
    if self.style_warmup_epochs and not self.style_dim:
      raise ConfigError("style_warmup_epochs needs style codes "
                        "(style_dim > 0)")
    if self.style_warmup_epochs >= self.epochs > 0:
      raise ConfigError(
          f"style_warmup_epochs ({self.style_warmup_epochs}) must be smaller "
          f"than epochs ({self.epochs}): the styles are never trained")
    if not 0.0 < self.prior_weight < 1.0:
      raise ConfigError(
          f"prior_weight must lie in (0, 1), got {self.prior_weight}")
    for name in ("collective_timeout", "startup_timeout"):
      if getattr(self, name) <= 0:
        raise ConfigError(f"{name} must be > 0 seconds, got "
                          f"{getattr(self, name)}")
    if self.learning_rate <= 0:
      raise ConfigError(
          f"learning_rate must be > 0, got {self.learning_rate}")
    for name in ("adam_beta1", "adam_beta2"):
      if not 0.0 <= getattr(self, name) < 1.0:
        raise ConfigError(f"{name} must lie in [0, 1), got "
                          f"{getattr(self, name)}")
    if self.adam_epsilon <= 0:
      raise ConfigError(f"adam_epsilon must be > 0, got {self.adam_epsilon}")
    if not 0 <= self.seed <= MAX_SEED:
      raise ConfigError(f"seed must lie in [0, {MAX_SEED}], got {self.seed}")
    check = registry.get(self.dataset).check
    if check is not None:
      check(self)

  def _resolve_method_options(self):
    method = methods.get(self.method)
    _check_option_names(f"method {method.name}", method.options,
                        {**registry.options(), **metrics.options()})
    _check_dict("method_options", self.method_options)
    object.__setattr__(self, "method_options",
                       method.resolve_options(self.method_options))

  def _resolve_dataset_options(self):
    dataset = registry.get(self.dataset)
    _check_option_names(f"data set {dataset.name}", dataset.options,
                        {**methods.options(), **metrics.options()})
    _check_dict("dataset_options", self.dataset_options)
    object.__setattr__(self, "dataset_options", options_lib.resolve(
        dataset.options, self.dataset_options, f"--dataset={dataset.name}",
        lambda n: _not_an_option(n, "dataset", self.dataset)))

  def _resolve_metric_options(self):
    every = [option for _, option in metrics.options().values()]
    _check_option_names("the metrics", every, {**methods.options(),
                                               **registry.options()})
    _check_dict("metric_options", self.metric_options)
    object.__setattr__(self, "metric_options", options_lib.resolve(
        every, self.metric_options, "the evaluation metrics",
        lambda n: f"{n} is not an option of any evaluation metric"))
    for metric in metrics.ordered():
      problem = metric.check(self.metric_options) if metric.check else None
      if problem:
        raise ConfigError(problem)

  def to_dict(self) -> dict[str, Any]:
    """Every setting, the method's, the data set's and the metrics'
    options among them (flat)."""
    out = dataclasses.asdict(self)
    out["modalities"] = [m.to_dict() for m in self.modalities]
    for key in ("method_options", "dataset_options", "metric_options"):
      out.update(out.pop(key))
    return out

  @classmethod
  def from_dict(cls, values: dict[str, Any]) -> "ExperimentConfig":
    """The config of `to_dict`'s flat form (ModalitySpecs or their dicts).
    Another data set's options are dropped (older runs' config.json holds
    every setting; a shared flagfile may set them), and so are another
    method's that hold their defaults; one set otherwise is refused."""
    values = dict(values)
    values["modalities"] = tuple(
        m if isinstance(m, ModalitySpec) else ModalitySpec.from_dict(m)
        for m in values["modalities"])
    known = {f.name for f in dataclasses.fields(cls)}
    for kind, key, owners, registered in (
        ("method", "method_options", _method_owners, methods.names()),
        ("dataset", "dataset_options", _dataset_owners, registry.names())):
      values[key] = dict(values.get(key) or {})
      chosen = values.get(kind, cls.__dataclass_fields__[kind].default)
      _choice(kind, chosen, registered)
      for name in sorted(set(values) - known):
        names, option = owners(name)
        if option is None:
          continue
        value = values.pop(name)
        if chosen in names:
          values[key][name] = value
        elif kind == "method" and value != option.default:
          raise ConfigError(_not_an_option(name, kind, chosen))
    values["metric_options"] = dict(values.get("metric_options") or {})
    for name in sorted(set(values) & set(metrics.options())):
      values["metric_options"][name] = values.pop(name)
    unknown = sorted(set(values) - known)
    if unknown:
      raise ConfigError(f"unknown config keys: {unknown}")
    return cls(**values)

  @classmethod
  def of(cls, **settings) -> "ExperimentConfig":
    """The config of `settings` in flat form (options as keywords)."""
    return cls.from_dict(settings)

  def with_settings(self, **settings) -> "ExperimentConfig":
    """This config with `settings` (flat, options as keywords) replaced;
    where the method or the data set changes, its options start from
    their defaults."""
    values = self.to_dict()
    for kind, key in (("method", "method_options"),
                      ("dataset", "dataset_options")):
      if kind in settings and settings[kind] != getattr(self, kind):
        for name in getattr(self, key):
          values.pop(name)
    values.update(settings)
    return ExperimentConfig.from_dict(values)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)

  @classmethod
  def load(cls, path) -> "ExperimentConfig":
    """The config stored in `path` (a run's config.json); ConfigError
    naming the file where it is damaged or invalid."""
    stored = read_stored(path)
    try:
      return cls.from_dict(stored)
    except ValueError as e:  # an invalid setting or modality
      raise ConfigError(f"{path}: {e}") from None
    except (KeyError, TypeError) as e:
      raise ConfigError(f"{path} is damaged ({type(e).__name__}: {e}); "
                        f"{_RESTORE_HINT}") from None


_RESTORE_HINT = ("restore it from a copy, or train anew with the same "
                 "settings: bin/train --flagfile=<model_dir>/flags.txt "
                 "--model_dir=<a new folder>")


def read_stored(path) -> dict[str, Any]:
  """The settings dict of a stored config.json; ConfigError naming the
  file where it is not a readable JSON object."""
  try:
    stored = json.loads(files.read_text(path))
  except (ValueError, UnicodeDecodeError) as e:
    raise ConfigError(f"{path} is damaged (not valid JSON: {e}); "
                      f"{_RESTORE_HINT}") from None
  if not isinstance(stored, dict):
    raise ConfigError(f"{path} is damaged (not a tf_mmjsd config: not an "
                      f"object of settings); {_RESTORE_HINT}")
  return stored


def resumable():
  """The names of the settings and options that may change after
  training."""
  return (RESUMABLE + tuple(name for name, (_, o) in
                            registry.options().items() if o.resumable)
          + tuple(metrics.options()))


def defaults():
  """{name: default} of every setting and option (flat)."""
  out = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)
         if f.default is not dataclasses.MISSING}
  out.update((name, option.default) for name, (_, option) in
             registry.options().items())
  out.update((name, option.default) for name, (_, option) in
             methods.options().items())
  out.update((name, option.default) for name, (_, option) in
             metrics.options().items())
  return out


def _method_owners(name):
  owner = methods.owner_of(name)
  return ((owner,), methods.get(owner).option(name)) if owner else ((), None)


def _dataset_owners(name):
  return registry.options().get(name, ((), None))


def _any_option(name):
  """The Option `name` of any method, data set or metric, or None."""
  return (_method_owners(name)[1] or _dataset_owners(name)[1]
          or metrics.options().get(name, (None, None))[1])


def _not_an_option(name, kind, chosen):
  """The message for option `name` given to --<kind>=<chosen>."""
  owners, _ = (_method_owners if kind == "method" else _dataset_owners)(name)
  if owners:
    return (f"{name} is an option of {kind} {' and '.join(owners)}; {kind} "
            f"{chosen} has none")
  return f"{name} is not an option of {kind} {chosen}"


# Names an option may not take besides the settings': the keyword
# arguments of a Keras model (MultimodalVAE.get_config holds the method's
# options flat).
_RESERVED = ("name", "trainable", "dtype")


def _check_option_names(owner, options, others):
  """ConfigError where an option of `owner` is named like a setting, a
  Keras keyword or one of `others` (the other kind's option names)."""
  taken = {f.name for f in dataclasses.fields(ExperimentConfig)}
  taken |= set(_RESERVED) | set(others)
  clash = sorted({o.name for o in options} & taken)
  if clash:
    raise ConfigError(f"{owner}: its options {clash} are named like "
                      "settings or the other kind's options; rename them")


def _check_dict(name, value):
  if not isinstance(value, dict):
    raise ConfigError(f"{name} must be a dict {{option: value}}, got "
                      f"{value!r}")


def _choice(name, value, allowed):
  if value not in allowed:
    raise ConfigError(f"{name} must be one of {allowed}, got {value!r}")
