"""Options: the settings a method, a data set or an evaluation metric
declares on its registry entry (methods.Method.options,
data.registry.Dataset.options, metrics.Metric.options), rather than on
ExperimentConfig.

An option is a setting like any other where a user meets it: a
`--<name>` flag, a key of config.json (flat, beside the settings), a
row of --help, values refused before anything is written. In the config
it lives in `method_options` or `dataset_options`, holding only the
options of the run's own method and data set (another method's, given a
value other than its default, is refused), or in `metric_options`,
holding every registered metric's. No TensorFlow here.
"""

import dataclasses
from typing import Any, Callable

from tf_mmjsd.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Option:
  """One option.

  Attributes:
    name: its name; no setting and no other option has it.
    default: its value when not given; its type is the option's type
      (bool, int, float or str).
    help: one line for --help.
    choices: the values allowed (empty: any value of the type that
      `check` accepts).
    check: fn(value) -> None or a message saying what is wrong.
    invalid: values it refuses (tests/test_settings.py tries each).
    resumable: it may change after training (a data location), like the
      settings of config.RESUMABLE.
    path: it names a file or folder (checked as the flags are parsed,
      preflight.check_flags).
  """
  name: str
  default: Any
  help: str
  choices: tuple = ()
  check: Callable[[Any], Any] = None
  invalid: tuple = ()
  resumable: bool = False
  path: bool = False

  def validate(self, value, owner):
    """`value`, checked; ConfigError naming the option (and `owner`, e.g.
    "method mvtcae") otherwise."""
    kind = type(self.default)
    if kind is float and isinstance(value, int) and not isinstance(value,
                                                                   bool):
      value = float(value)
    if type(value) is not kind:  # pylint: disable=unidiomatic-typecheck
      raise ConfigError(f"{self.name} (an option of {owner}) must be a "
                        f"{kind.__name__}, got {value!r}")
    if self.choices and value not in self.choices:
      raise ConfigError(f"{self.name} must be one of {self.choices}, got "
                        f"{value!r}")
    problem = self.check(value) if self.check else None
    if problem:
      raise ConfigError(f"{self.name} {problem}, got {value!r}")
    return value


def at_least(low):
  """A `check` refusing values below `low`."""
  return lambda v: None if v >= low else f"must be >= {low}"


def resolve(options, given, owner, not_an_option):
  """{name: value} of every Option in `options`: `given` ({name: value})
  checked, and the defaults of the rest. ConfigError for a name that is
  not one of them (`not_an_option(name)` words it)."""
  names = {o.name for o in options}
  for name in given:
    if name not in names:
      raise ConfigError(not_an_option(name))
  return {o.name: o.validate(given[o.name], owner) if o.name in given
          else o.default for o in options}
