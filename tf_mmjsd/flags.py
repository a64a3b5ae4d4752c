"""The experiment's command-line flags (a program's own flags are declared
by its module in programs/).

Every function takes the absl `FlagValues` it works on (cli.execute
makes a fresh one per program run, so programs run in one process one after
another): `define_flags(fv)` declares every experiment flag (defaults come
from ExperimentConfig), `config_from_flags(fv)` builds the validated
ExperimentConfig, and `parse_argv(argv, fv)` expands layered flagfiles: a
`--flagfile=` line inside a flagfile is resolved relative to that file, so
configs/mst.flags can name base.flags wherever the command is run from.
Nothing here imports TensorFlow.
"""

import dataclasses
import os

from absl import flags

from tf_mmjsd import files, likelihoods, methods, metrics
from tf_mmjsd import config as config_lib
from tf_mmjsd.config import ConfigError, ExperimentConfig
from tf_mmjsd.data import registry, specs as specs_lib
from tf_mmjsd.errors import UsageError

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)
             if f.default is not dataclasses.MISSING}

_HELP = {
    "data_path": "The .npz file of --dataset=npz (see tf_mmjsd/data/npz.py).",
    "stream_records": "--dataset=records: read the training batches from "
                      "the shards as training goes (memory independent of "
                      "the number of examples) instead of holding the "
                      "split in memory; multi_worker always streams.",
    "data_dir": "TFDS data_dir, or the cache of the synthetic set "
                "(default ~/.cache/tf_mmjsd or $TF_MMJSD_CACHE).",
    "missing_rate": "Fraction of the training entries (example, "
                    "modality) made absent, for complete data: each present "
                    "modality is dropped with the probability that gives "
                    "this fraction once examples left with none are redrawn "
                    "(fixed per example from --seed). With masked data more "
                    "than this fraction ends up absent. Below (M-1)/M.",
    "latent_dim": "Size of the shared content code c.",
    "style_dim": "Size of each modality-specific style code (0: none).",
    "beta": "Weight of the divergence term.",
    "beta_style": "Extra weight of the style KL terms.",
    "style_warmup_epochs": "First epochs in which decoders get styles "
                           "from N(0, I), not q(s_m|x_m), so they learn to "
                           "read content from c first (0: off, as in the "
                           "paper).",
    "prior_weight": "pi_0 of the dynamic prior; modalities share the rest.",
    "batch_size": "Global batch size.",
    "epochs": "Training epochs.",
    "steps_per_epoch": "Steps per epoch; 0: training examples // batch.",
    "learning_rate": "Adam learning rate.",
    "adam_beta1": "Adam beta_1.",
    "adam_beta2": "Adam beta_2.",
    "adam_epsilon": "Adam epsilon.",
    "seed": "Seeds data pairing, data order and initialisation.",
    "distribution": "tf.distribute strategy: auto (mirrored on 2+ GPUs, "
                    "else default), default, one_device, mirrored, or "
                    "multi_worker (the cluster of TF_CONFIG).",
    "mixed_precision": "float32, mixed_float16 (with loss scaling) or "
                       "mixed_bfloat16: the networks' compute precision; "
                       "posteriors, likelihoods and losses stay float32.",
    "jit_compile": "Compile the training step with XLA.",
    "steps_per_execution": "Training steps per tf.function call (fewer "
                           "dispatches on GPUs); logs and checkpoints fall "
                           "on these boundaries.",
    "collective_timeout": "multi_worker: seconds after which a worker "
                          "whose peer stopped answering fails.",
    "startup_timeout": "multi_worker: seconds a worker waits at start-up "
                       "for every peer to answer; then it stops, naming "
                       "the peers it could not reach.",
    "on_nonfinite": "A training step with a NaN or infinite loss term or "
                    "gradient: stop (the run stops; no checkpoint from the "
                    "bad state) or skip_batch (no update; counted).",
    "max_consecutive_skips": "skip_batch: bad steps in a row that stop the "
                             "run.",
    "model_dir": "Where checkpoints, summaries and samples go (required).",
    "checkpoint_every_steps": "Checkpoint period in steps.",
    "keep_checkpoints": "Checkpoints kept.",
    "probe_train_examples": "Training examples of the latent linear probe.",
    "num_sample_columns": "Examples per row of the sample grids.",
    "eval_every_epochs": "Run the evaluation suite every N epochs during "
                         "training (0: off, no cost).",
    "eval_batch_size": "Batch size of the evaluation passes.",
    "eval_examples": "Test examples for probes, coherence and sample "
                     "quality (0: the whole test split).",
    "periodic_eval_examples": "Test examples of an evaluation during "
                              "training (--eval_every_epochs), and at most "
                              "as many for likelihoods and sample quality "
                              "(0: as the full evaluation); the last "
                              "epoch's evaluation is the full one.",
    "eval_budget": "Share of the training time the evaluations during "
                   "training may take: one that would pass it is skipped "
                   "(the first and the last always run).",
    "classifier_dir": "Coherence classifiers (default <model_dir>/"
                      "classifiers); share one across methods.",
    "classifier_epochs": "Most epochs of each coherence classifier; each "
                         "stops early once its loss on held-out training "
                         "rows stops falling.",
    "figure_rows": "Rows per generated modality in the evaluation grids.",
}


def define_flags(fv):
  """Declares the training flags on FlagValues `fv` (idempotent)."""
  if "model_dir" in fv:
    return
  help_of = dict(_HELP, dataset="; ".join(
      f"{n}: {registry.get(n).description}" for n in registry.names()) + ".",
                 method="Training method (tf_mmjsd/methods/): " + "; ".join(
                     f"{m.name}: {m.summary}" for m in methods.METHODS.values())
                 + ".")
  settings = dict(_DEFAULTS)
  for name, (_, option) in _all_options().items():
    settings[name] = option.default
    help_of[name] = option.help
  for name, default in settings.items():
    help_text = help_of[name]
    if isinstance(default, bool):
      flags.DEFINE_bool(name, default, help_text, flag_values=fv)
    elif isinstance(default, int):
      flags.DEFINE_integer(name, default, help_text, flag_values=fv)
    elif isinstance(default, float):
      flags.DEFINE_float(name, default, help_text, flag_values=fv)
    else:
      flags.DEFINE_string(name, default, help_text, flag_values=fv)
  flags.DEFINE_multi_string(
      "modality", [], "With --dataset=npz, one per modality: "
      "name:shape:likelihood:network[:weight[:activation]][:key=value ...], "
      "e.g. image:28x28x1:laplace:mlp:3.9:sigmoid, "
      "scan:64x64x1:laplace:conv:width=64, report:200x40:categorical:sequence "
      "or labs:30:normal:mlp:scale=learned:hidden=128,64. Likelihoods: "
      + ", ".join(likelihoods.LIKELIHOODS) + "; networks: "
      + ", ".join(specs_lib.NETWORKS) + "; fields: "
      + "; ".join(f"{k}: {v}" for k, v in specs_lib.FIELDS.items()) + ".",
      flag_values=fv)
  flags.DEFINE_integer(
      "network_width", 0, "Width of every modality's network that takes one "
      "(conv, sequence, residual_conv, residual_sequence), replacing the "
      "data set's or --modality's (0: keep them).", flag_values=fv)
  flags.DEFINE_string(
      "modalities_file", "", "With --dataset=npz, instead of --modality: a "
      "JSON list of modalities, each an object with name, shape, likelihood, "
      "network and any of the --modality fields.", flag_values=fv)


def config_from_flags(fv, require_model_dir=True):
  """The ExperimentConfig of the parsed FlagValues `fv`."""
  values = {name: getattr(fv, name) for name in _DEFAULTS}
  values["method_options"] = _options_of(fv, "method", values["method"])
  values["dataset_options"] = _options_of(fv, "dataset", values["dataset"])
  values["metric_options"] = {n: getattr(fv, n) for n in metrics.options()}
  if require_model_dir and not values["model_dir"]:
    raise ConfigError("--model_dir is required")
  described = fv.modality or fv.modalities_file
  if values["dataset"] not in registry.names():
    raise ConfigError(f"dataset must be one of {registry.names()}, got "
                      f"{values['dataset']!r}")
  dataset = registry.of(values["dataset"], values["data_path"])
  if dataset.specs is not None:  # the data set defines its modalities
    if described:
      raise ConfigError(
          "--modality and --modalities_file describe your arrays (a data set "
          f"without modalities of its own, e.g. npz); {dataset.name} "
          "defines its own modalities")
    modalities = dataset.specs()
  else:
    if not described:
      raise ConfigError(f"--dataset={dataset.name} needs one --modality="
                        "name:shape:likelihood:network per modality (or "
                        "--modalities_file)")
    if fv.modality and fv.modalities_file:
      raise ConfigError("give --modality or --modalities_file, not both")
    try:
      if fv.modalities_file:
        modalities = specs_lib.load_modalities_file(fv.modalities_file)
      else:
        modalities = tuple(specs_lib.parse_modality(t) for t in fv.modality)
    except ValueError as e:
      raise ConfigError(str(e)) from e
  if fv.network_width < 0:
    raise ConfigError(f"network_width must be >= 0, got "
                      f"{fv.network_width}")
  if fv.network_width:
    modalities = tuple(
        dataclasses.replace(m, width=fv.network_width)
        if m.network in specs_lib.DEFAULT_WIDTH else m for m in modalities)
  return ExperimentConfig(modalities=modalities, **values)


def _all_options(kind=None):
  """{option name: (owners, Option)} of every method's (kind "method"),
  data set's ("dataset"), metric's ("metric") or all their options."""
  out = {}
  if kind in (None, "method"):
    out.update((n, ((owner,), o)) for n, (owner, o) in
               methods.options().items())
  if kind in (None, "dataset"):
    out.update(registry.options())
  if kind in (None, "metric"):
    out.update((n, ((owner,), o)) for n, (owner, o) in
               metrics.options().items())
  return out


def _options_of(fv, kind, chosen):
  """{option: value} in `fv` of the options of --<kind>=<chosen>. Another
  data set's options are left out (a shared flagfile may hold them: the
  quickstart's sizes under --dataset=records); another method's, given a
  value other than its default, are a ConfigError."""
  names = methods.names() if kind == "method" else registry.names()
  if chosen not in names:  # ExperimentConfig names the choices
    return {}
  out = {}
  for name, (owners, option) in _all_options(kind).items():
    value = getattr(fv, name)
    if chosen in owners:
      out[name] = value
    elif (kind == "method" and fv[name].present
          and value != option.default):
      raise ConfigError(
          f"--{name} is an option of " + " and ".join(
              f"--{kind}={o}" for o in owners) + f"; --{kind}={chosen} has "
          "none")
  return out


def config_from_model_dir(fv):
  """The ExperimentConfig of the run in --model_dir of FlagValues `fv` (its
  config.json).

  Flags given on the command line replace the stored settings that may
  change after training (config.resumable(): evaluation settings, data
  locations); any other flag given must agree with the stored run.
  """
  model_dir = fv.model_dir
  if not model_dir:
    raise ConfigError("--model_dir is required")
  path = os.path.join(model_dir, "config.json")
  if not files.isfile(path):
    raise ConfigError(f"--model_dir={model_dir} holds no run "
                      "(config.json missing); train one with bin/train")
  stored = config_lib.read_stored(path)
  if fv.modality or fv.modalities_file or fv.network_width:
    raise ConfigError("--modality, --modalities_file and --network_width "
                      f"cannot change: the modalities come from {path}")
  given = {n: getattr(fv, n) for n in (*_DEFAULTS, *_all_options())
           if fv[n].present}
  # The data may move where the run records their fingerprint: the
  # program compares the data at the new place (run_dir.check_data).
  from tf_mmjsd import run_dir  # pylint: disable=g-import-not-at-top
  movable = config_lib.resumable() + (
      ("data_path",) if run_dir.has_data_record(model_dir) else ())
  fixed = {n: v for n, v in given.items()
           if n not in movable and stored.get(n, _default(n)) != v}
  if fixed:
    raise ConfigError("these settings differ from the trained run in "
                      f"{path} and cannot change after training: " + "; ".join(
                          f"--{n}={v} (trained with {stored.get(n)!r})"
                          for n, v in sorted(fixed.items())))
  stored.update({n: v for n, v in given.items() if n in movable})
  stored["model_dir"] = model_dir
  try:
    return ExperimentConfig.from_dict(stored)
  except ValueError as e:  # an invalid setting or modality
    raise ConfigError(f"{path}: {e}") from None
  except (KeyError, TypeError) as e:
    raise ConfigError(f"{path} is damaged ({type(e).__name__}: {e})") from None


def _default(name):
  """The default of a setting or of a method's or data set's option."""
  if name in _DEFAULTS:
    return _DEFAULTS[name]
  return _all_options()[name][1].default


def flags_text(fv):
  """A flagfile that reproduces the parsed training flags of `fv`."""
  lines = [f"--{name}={getattr(fv, name)}\n" for name in _DEFAULTS]
  lines += [f"--{name}={getattr(fv, name)}\n"
            for kind in ("method", "dataset")
            for name, (owners, _) in _all_options(kind).items()
            if getattr(fv, kind) in owners]
  lines += [f"--{name}={getattr(fv, name)}\n" for name in metrics.options()]
  lines += [f"--modality={m}\n" for m in fv.modality]
  if fv.modalities_file:
    lines.append(f"--modalities_file={fv.modalities_file}\n")
  if fv.network_width:
    lines.append(f"--network_width={fv.network_width}\n")
  return "".join(lines)


class FlagfileError(UsageError, ValueError):
  """A flagfile cannot be read; the message names the file (and line)."""


def _expand(argv, origin=None, base=None, seen=()):
  """[(arg, origin)] with every --flagfile=F replaced by F's lines,
  recursively; origin is "F, line N" for a flagfile's line, else None."""
  out = []
  for number, arg in enumerate(argv, 1):
    if arg == "--" and not origin:  # the rest is another program's argv
      out.extend((a, None) for a in argv[number - 1:])
      break
    where = f"{origin[0]}, line {number}" if origin else None
    if origin and arg.startswith("#"):
      continue
    if origin and not arg.startswith("-"):
      raise FlagfileError(
          f"{where}: {arg!r} is not a flag; write one --name=value per line "
          "(lines starting with # are comments)")
    if arg.startswith("--flagfile="):
      path = arg[len("--flagfile="):]
      if base and not os.path.isabs(path) and not files.is_remote(path):
        path = os.path.join(base, path)
      if not files.is_remote(path):
        path = os.path.normpath(path)
      try:
        from tf_mmjsd import preflight  # pylint: disable=g-import-not-at-top
        preflight.check_path("flagfile", path)
      except UsageError as e:
        raise FlagfileError(f"{e}" + (f" ({where})" if where else "")
                            ) from None
      if path in seen:
        raise FlagfileError(f"flagfile {path} includes itself"
                            + (f" ({where})" if where else ""))
      if not files.isfile(path):
        raise FlagfileError(f"flagfile not found: {path}"
                            + (f" ({where})" if where else ""))
      lines = [ln.strip() for ln in files.read_text(path).splitlines()]
      # Blank lines and // comments keep their numbers but yield nothing.
      lines = [ln if ln and not ln.startswith("//") else "#" for ln in lines]
      out.extend(_expand(lines, (path,), os.path.dirname(path),
                         seen + (path,)))
    else:
      out.append((arg, where))
  return out


def expand_flagfiles(argv):
  """argv with every --flagfile=F replaced by F's lines, recursively.

  Raises:
    FlagfileError: a flagfile is missing, includes itself, or has a line
      that is not a flag (the message names the file and line).
  """
  return [arg for arg, _ in _expand(argv)]


def _origin_of(error, expanded):
  """" (from F, line N)" for the flagfile line an absl error is about."""
  text = str(error)
  for arg, where in expanded:
    if where is None:
      continue
    name = arg.lstrip("-").split("=", 1)[0]
    for candidate in (name, name[2:] if name.startswith("no") else None):
      if candidate and (f"'{candidate}'" in text or f"--{candidate}" in text
                        or f"-{candidate}=" in text):
        return f" (from {where})"
  return ""


class FlagError(UsageError, ValueError):
  """A flag on the command line or in a flagfile cannot be parsed."""


def parse_argv(argv, fv):
  """Parses argv (argv[0] is the program) into FlagValues `fv`, flagfiles
  expanded; returns the arguments left (argv[0] and what follows `--`).

  Raises:
    FlagfileError: a flagfile cannot be read.
    FlagError: a flag is unknown or its value is not of its type (the
      message names the flagfile and line it came from).
  """
  try:
    expanded = _expand(argv[1:])
  except FlagfileError as e:
    raise FlagfileError(f"{e} (--helpfull lists the flags)") from None
  try:
    return fv(argv[:1] + [arg for arg, _ in expanded])
  except flags.Error as e:
    raise FlagError(" ".join(str(e).split()) + _origin_of(e, expanded)
                    + " (--helpfull lists the flags)") from None
