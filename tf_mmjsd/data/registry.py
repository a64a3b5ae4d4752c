"""Data sets register themselves here: their modality specs, their loader
and the kind of labels they carry.

  label kind "class":      labels int [N], one class per example (-1: none)
  label kind "attributes": labels int8 [N, K] of 0/1, K binary attributes
                           per example (CelebA's 40; -1: unknown)

A data module calls `register(Dataset(...))` when imported; the built-in
modules are imported on first use, so importing this module stays cheap
(no TensorFlow), as config validation needs. A data set's own settings
(its file locations, its sizes) are options on its entry (options.py):
flags, config.json keys and ExperimentConfig.dataset_options.
"""

import dataclasses
import importlib
from typing import Callable

from tf_mmjsd.options import Option, at_least

LABEL_KINDS = ("class", "attributes")
_BUILTIN = ("tf_mmjsd.data.mst", "tf_mmjsd.data.npz",
            "tf_mmjsd.data.celeba", "tf_mmjsd.data.records")
_DATASETS = {}


@dataclasses.dataclass(frozen=True)
class Dataset:
  """One registered data set.

  Attributes:
    name: the --dataset value.
    load: load(config, log) -> (train, test) validated `Split`s.
    specs: specs() -> the modality specs, or None where the user describes
      the modalities (npz).
    label_kind: one of LABEL_KINDS.
    synthetic: True for generated stand-ins; their numbers are never real
      data numbers.
    attribute_names: the K attribute names of label kind "attributes".
    seed_changes_data: True where the examples themselves depend on --seed
      (so classifiers trained for one seed do not fit another).
    check: check(config) raises ConfigError for settings of this data set
      that cannot work (None: nothing to check).
    description: one line for --help and reports.
    resolve: resolve(dataset, data_path) -> the Dataset with the fields
      its data describe (records: modalities, labels, synthetic from their
      manifest), or None where the fields are fixed; see `of`.
    preflight: preflight(config, pipelines) raises DataError where the
      files `load` will read are missing or of the wrong format, without
      TensorFlow for local files (programs call it before TensorFlow
      loads; None: nothing to check); `pipelines`, [(pipeline, number of
      pipelines)], are the input pipelines this process runs (records
      check the shards those stream).
    options: its `options.Option`s; several data sets may share one (the
      same object).
  """

  name: str
  load: Callable
  specs: Callable | None
  label_kind: str = "class"
  synthetic: bool = False
  attribute_names: tuple[str, ...] = ()
  description: str = ""
  seed_changes_data: bool = False
  check: Callable | None = None
  resolve: Callable | None = None
  preflight: Callable | None = None
  options: tuple = ()

  def __post_init__(self):
    if self.label_kind not in LABEL_KINDS:
      raise ValueError(f"label_kind must be one of {LABEL_KINDS}")

  def option(self, name):
    """Its Option `name`, or None."""
    return next((o for o in self.options if o.name == name), None)


# Options several data sets share.
SYNTHETIC_TRAIN_SIZE = Option(
    "synthetic_train_size", 60000, "Training examples of synthetic_mst "
    "(images per modality) or synthetic_celeba.", check=at_least(1),
    invalid=(0,))
SYNTHETIC_TEST_SIZE = Option(
    "synthetic_test_size", 10000, "Test examples of synthetic_mst or "
    "synthetic_celeba.", check=at_least(1), invalid=(0,))


def register(dataset):
  """Adds a data set (replacing one of the same name); returns it.
  ValueError where one of its options has the name of another data set's
  different option."""
  for option in dataset.options:
    for other in _DATASETS.values():
      same = other.option(option.name)
      if same is not None and same != option and other.name != dataset.name:
        raise ValueError(f"data set {dataset.name}: option {option.name!r} "
                         f"differs from data set {other.name}'s")
  _DATASETS[dataset.name] = dataset
  return dataset


def unregister(name):
  """Removes the data set `name` (tests that register one of their own)."""
  _DATASETS.pop(name, None)


def options():
  """{option name: (names of the data sets that have it, Option)}."""
  _builtins()
  out = {}
  for dataset in _DATASETS.values():
    for option in dataset.options:
      owners, _ = out.get(option.name, ((), None))
      out[option.name] = (owners + (dataset.name,), option)
  return out


def _builtins():
  for module in _BUILTIN:
    importlib.import_module(module)


def names():
  """The registered --dataset values."""
  _builtins()
  return tuple(_DATASETS)


def get(name):
  """The Dataset called `name`; KeyError names the registered ones."""
  _builtins()
  if name not in _DATASETS:
    raise KeyError(f"unknown dataset {name!r}; registered: {names()}")
  return _DATASETS[name]


def of(name, data_path=""):
  """The Dataset called `name` as its data at `data_path` describe it
  (`Dataset.resolve`); KeyError for an unknown name, DataError where the
  data cannot be read."""
  dataset = get(name)
  return dataset.resolve(dataset, data_path) if dataset.resolve else dataset


# Derived modalities (split.DerivedModality) that records can remake from
# each example's label and parameter: {kind: class(fixed params or None)}.
_DERIVED_KINDS = {}


def register_derived(kind, factory):
  """Registers factory(params int [N] or None) -> a DerivedModality under
  `kind` (the `kind` attribute of its instances); returns the factory."""
  _DERIVED_KINDS[kind] = factory
  return factory


def derived_kind(kind):
  """The factory registered under `kind`, or None."""
  _builtins()
  return _DERIVED_KINDS.get(kind)
