"""Every setting of ExperimentConfig refuses its bad values before anything
is written: a table of bad values per setting (and the settings that take
any value of their type), checked to cover every field of config.py; every
option of every registered method refuses the values its entry declares
invalid; then a few through bin/train and bin/compare."""

import dataclasses
import math
import os

import pytest

from tests.harness import run_bin
from tf_mmjsd import methods, metrics
from tf_mmjsd.config import MAX_SEED, ConfigError, ExperimentConfig
from tf_mmjsd.data import registry
from tf_mmjsd.data.mst import specs as mst_specs

NAN, INF = math.nan, math.inf

# setting -> values refused on their own (the other settings at defaults).
BAD = {
    "modalities": [()],
    "dataset": ["mnist", ""],
    "method": ["vae"],
    "method_options": [{"no_such_option": 1}, {"dynamic_prior": "moe"}],
    "dataset_options": [{"no_such_option": 1}, {"mnist_dir": "x"}],
    "metric_options": [{"no_such_option": 1}, {"clustering_runs": 0},
                       {"quality_examples": 5}],  # fewer than prd_clusters
    "missing_rate": [-0.1, 0.67, NAN, INF],
    "latent_dim": [0, -1],
    "style_dim": [-1],
    "beta": [-1.0, NAN, INF],
    "beta_style": [-0.5, NAN],
    "style_warmup_epochs": [-1],
    "prior_weight": [0.0, 1.0, NAN, -INF],
    "batch_size": [0],
    "epochs": [0],
    "steps_per_epoch": [-1],
    "learning_rate": [0.0, -1e-3, NAN, INF],
    "adam_beta1": [1.0, -0.1, NAN],
    "adam_beta2": [1.5, NAN],
    "adam_epsilon": [0.0, NAN, INF],
    "seed": [-1, MAX_SEED + 1],
    "distribution": ["tpu"],
    "stream_records": [True],  # the default dataset is not records
    "mixed_precision": ["float16"],
    "steps_per_execution": [0],
    "collective_timeout": [0.0, NAN, INF],
    "startup_timeout": [-1.0, NAN, INF],
    "on_nonfinite": ["ignore"],
    "max_consecutive_skips": [0],
    "checkpoint_every_steps": [0],
    "keep_checkpoints": [0],
    "probe_train_examples": [-1],
    "num_sample_columns": [0],
    "eval_every_epochs": [-1],
    "eval_batch_size": [0],
    "eval_examples": [-1],
    "periodic_eval_examples": [-1],
    "eval_budget": [-0.1, NAN, INF],
    "classifier_epochs": [0],
    "figure_rows": [0],
}
# Settings any value of whose type is valid here (paths are checked where
# they are used: a missing file is a usage error then, before any write).
ANY = ("data_dir", "data_path", "model_dir", "classifier_dir",
       "jit_compile")


def test_the_table_covers_every_setting():
  fields = {f.name for f in dataclasses.fields(ExperimentConfig)}
  assert set(BAD) | set(ANY) == fields
  assert not set(BAD) & set(ANY)


CASES = [(name, value) for name, values in BAD.items() for value in values]


@pytest.mark.parametrize("name,value", CASES,
                         ids=[f"{n}={v!r}" for n, v in CASES])
def test_each_bad_value_is_refused_naming_its_setting(name, value):
  # method_options: mvae has no options (dynamic_prior is mmjsd's);
  # dataset_options: mnist_dir is mnist_svhn_text's.
  values = {"modalities": mst_specs(), name: value,
            **({"method": "mvae"} if name == "method_options" else {})}
  expected = {"modalities": "modality", "method_options": "option",
              "dataset_options": "option",
              "metric_options": "option|clustering_runs|quality_examples"
              }.get(name, name)
  with pytest.raises(ConfigError, match=expected):
    ExperimentConfig(**values)


# (kind, owner, option, refused value) of every registered method's, data
# set's and metric's options (a metric's apply to every run: kind None).
OPTIONS = ([("method", method, option.name, value)
            for method, option in methods.options().values()
            for value in option.invalid]
           + [("dataset", owners[0], option.name, value)
              for owners, option in registry.options().values()
              for value in option.invalid]
           + [(None, metric, option.name, value)
              for metric, option in metrics.options().values()
              for value in option.invalid])


def test_every_option_declares_values_it_refuses_or_takes_any():
  declared = {name for _, _, name, _ in OPTIONS}
  takes_any = {name for name, (_, option) in {**registry.options(),
                                               **metrics.options()}.items()
               if option.path}
  assert declared | takes_any == (set(methods.options())
                                  | set(registry.options())
                                  | set(metrics.options()))


@pytest.mark.parametrize("kind,owner,name,value", OPTIONS,
                         ids=[f"{o}:{n}={v!r}" for _, o, n, v in OPTIONS])
def test_each_bad_option_is_refused_naming_it(kind, owner, name, value):
  # The flat form of config.json and of the flags.
  chosen = {kind: owner} if kind else {}
  with pytest.raises(ConfigError, match=name):
    ExperimentConfig.of(modalities=mst_specs(), **chosen, **{name: value})


def test_the_defaults_and_the_edges_are_accepted():
  ExperimentConfig(modalities=mst_specs())
  ExperimentConfig(modalities=mst_specs(), seed=MAX_SEED, adam_beta1=0.0,
                   missing_rate=0.6, beta=0.0)


@pytest.mark.parametrize("flags,setting", [
    (["--learning_rate=nan"], "learning_rate"),
    (["--learning_rate=inf"], "learning_rate"),
    (["--beta=nan"], "beta"),
    (["--seed=-1"], "seed"),
    (["--adam_epsilon=0"], "adam_epsilon"),
])
def test_bin_train_refuses_them_before_writing(flags, setting, tmp_path,
                                               cache_dir):
  model_dir = tmp_path / "run"
  out = run_bin("train", [f"--model_dir={model_dir}"] + flags, cache_dir)
  assert out.returncode == 2, out.stderr[-2000:]
  errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
  assert len(errors) == 1 and setting in errors[0], out.stderr[-2000:]
  assert "Traceback" not in out.stderr
  assert not model_dir.exists()


def test_bin_compare_refuses_a_bad_seed_before_writing(tmp_path, cache_dir):
  out = run_bin("compare", [f"--compare_dir={tmp_path / 'cmp'}",
                            "--seeds=0,-1"], cache_dir)
  assert out.returncode == 2, out.stderr[-2000:]
  assert "error: seed must lie in" in out.stderr
  assert not os.path.exists(tmp_path / "cmp")
