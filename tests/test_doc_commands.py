"""Every command the README, docs/ and the programs' --help print is one
its program accepts.

Each `bin/<name> ...` or `tf-mmjsd-<name> ...` command, in a fenced code
block or an inline code span of a page, or on a line of a program's
docstring (the top of its --help), is parsed by the program it names exactly as
`cli.execute` parses it (flagfiles read, absl's types and bounds, the
checks every flag shares), and the experiment's settings are built from
it, so an unknown flag, a bad value or a setting out of range fails here.
Nothing runs and nothing is written; paths need not exist (a doc names
runs a reader has not made yet). A `scheme://` path is checked for its
scheme only (no store is asked). The quick start's commands, and the
worked example's in tests/test_clinic.py, are also run on tiny settings.
"""

import ast
import glob
import os
import re
import types

import pytest

from tests.harness import (MENTION, REPO, TINY, code_lines, commands,
                           program_of, run_bin)
from tf_mmjsd import cli, errors, files, flags as mm_flags
from tf_mmjsd.data import records
from tf_mmjsd.data.mst import specs as mst_specs

PROGRAMS = sorted(os.listdir(os.path.join(REPO, "bin")))
DOCS = sorted([os.path.join(REPO, "README.md")] + glob.glob(
    os.path.join(REPO, "docs", "**", "*.md"), recursive=True))
def _all_commands():
  out = []
  for path in DOCS:
    with open(path, encoding="utf-8") as f:
      text = f.read()
    for line, argv in commands(text):
      out.append((f"{os.path.relpath(path, REPO)}:{line}", argv))
  for path in sorted(glob.glob(os.path.join(REPO, "tf_mmjsd", "programs",
                                            "*.py"))):
    with open(path, encoding="utf-8") as f:
      doc = ast.get_docstring(ast.parse(f.read())) or ""
    for line, argv in commands(f"```\n{doc}\n```", spans=False):
      out.append((f"{os.path.relpath(path, REPO)}:doc{line - 1}", argv))
  return out


ALL = _all_commands()
# Commands the docs show as refused, and the flag their error names.
REFUSED = {"bin/benchmark --steps=0": "--steps=0",
           "bin/make_example_data --seed=-1": "--seed=-1"}
# A run's own flags.txt, which bin/train writes: a doc may name it. It
# holds the run's flags, its --model_dir among them.
WRITTEN = re.compile(r"^--flagfile=(runs/[\w.-]+)/flags\.txt$")


def check(argv):
  """Parses `argv` ([bin/<name> or tf-mmjsd-<name>, flags ...]) with its
  program's flags and builds the experiment's settings; raises
  errors.UsageError (or ConfigError) for what the program would refuse."""
  name = program_of(argv[0])
  if name not in PROGRAMS:
    raise errors.UsageError(f"no program {argv[0]} (bin/ has {PROGRAMS})")
  own = argv[1:argv.index("--")] if "--" in argv else argv[1:]
  if len(argv) == 1 or any(arg in cli.HELP for arg in own):
    return  # the program named in prose; or it prints its flags
  argv = [WRITTEN.sub(r"--model_dir=\1", arg) for arg in argv]
  fv, args = cli.parse(name, argv)
  module = cli.program_module(name)
  if not getattr(module, "POSITIONAL", False):
    cli.no_arguments(args)
  if hasattr(module, "check"):  # the program's own checks of its flags
    module.check(fv)
  elif "dataset" in fv and "model_dir" in fv:  # the experiment's flags
    mm_flags.config_from_flags(fv, require_model_dir=name == "train")
  if args:  # train_local_cluster: the workers' program and flags
    check([f"bin/{fv['program'].value}"] + args)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
  """Schemes are checked, stores are not asked (no network in tests), and
  a records folder holds the quick start's modalities (the docs make it
  with bin/make_records first)."""
  stub = types.SimpleNamespace(specs=mst_specs(), values={
      "label_kind": "class", "attribute_names": [], "synthetic": True})

  def manifest(data_path):
    if not data_path:  # what the real reader refuses without a file
      return real_manifest(data_path)
    return stub
  real_manifest = records.read_manifest
  monkeypatch.setattr(records, "read_manifest", manifest)
  def scheme_only(path, timeout=None):
    del timeout
    scheme = files.scheme(path)
    if scheme not in files.TF_SCHEMES + files.TFIO_SCHEMES:
      raise files.UnusablePathError(f"{scheme}:// is not a known scheme")
  monkeypatch.setattr(files, "check_remote", scheme_only)
  monkeypatch.chdir(REPO)


def test_the_docs_print_commands_of_every_kind():
  """The extraction finds the commands (a broken pattern would pass every
  check below on nothing)."""
  programs = {program_of(argv[0]) for _, argv in ALL}
  assert len(ALL) >= 140
  assert {"train", "evaluate", "export", "compare", "benchmark",
          "make_records", "make_example_data", "train_local_cluster",
          "train_classifiers"} <= programs
  assert sum(":doc" in where for where, _ in ALL) >= 15  # --help texts
  readme = [argv for where, argv in ALL if where.startswith("README.md")]
  assert ["bin/train", "--flagfile=configs/quickstart.flags"] in readme


@pytest.mark.parametrize("where,argv", ALL, ids=[w for w, _ in ALL])
def test_every_command_in_the_docs_parses(where, argv):
  del where
  refused = REFUSED.get(" ".join(argv))
  if refused is None:
    check(argv)
  else:  # shown as refused: it still is, for the reason shown
    with pytest.raises(errors.Error, match=re.escape(refused)):
      check(argv)


@pytest.mark.parametrize("text,problem", [
    ("Run `bin/train --flagfile=configs/quickstart.flags --no_such_flag=1`.",
     "no_such_flag"),
    ("```bash\nbin/evaluate --model_dir=runs/x \\\n  --eval_examples=many\n```",
     "eval_examples"),
    ("```\nbin/train --flagfile=configs/quickstart.flags --missing_rate=0.9\n"
     "```", "missing_rate"),
    ("```\nbin/train_local_cluster --num_workers=2 -- --model_dir=runs/w "
     "--epochs=-1\n```", "epochs"),
    ("`bin/train_local_cluster -- --flagfile=configs/base.flags`",
     "--model_dir is required"),
    ("`bin/compare --flagfile=configs/compare_synthetic.flags "
     "--methods=mmjsd,nosuch`", "nosuch"),
    ("`bin/benchmark --mode=evaluation --eval_sizes=3000,1000`",
     "eval_sizes"),
    ("`bin/benchmark --mode=end_to_end --dataset=records`", "data_path"),
    ("`bin/train --flagfile=configs/quickstart.flags --dataset=records "
     "--data_path=runs/r --missing_rate=0.9`", "missing_rate"),
    ("```\nbin/evaluate --model_dir=foo://b/run\n```", "foo://"),
    ("`tf-mmjsd-no-such-program --x=1`", "no program"),
])
def test_a_doc_command_with_a_bad_flag_fails(text, problem):
  (argv,) = [argv for _, argv in commands(text)]
  with pytest.raises(errors.Error, match=re.escape(problem)):
    check(argv)


def test_extraction_reads_prefixes_chains_and_spans():
  text = ("```bash\npython3 -m venv .venv && . .venv/bin/activate && "
          "bin/train --flagfile=a.flags  # note\nTF_CONFIG='{\"a\": 1}' \\\n"
          "  bin/train --model_dir=/x\nWrote runs/x/summary.json\n```\n"
          "Then `bin/export\n--model_dir=runs/x` and ``bin/y``.\n"
          "- a list item:\n\n  ~~~\n  $ python bin/evaluate --model_dir=r; "
          "./bin/export --model_dir=r\n  ~~~\n")
  assert commands(text) == [(2, ["bin/train", "--flagfile=a.flags"]),
                            (3, ["bin/train", "--model_dir=/x"]),
                            (12, ["bin/evaluate", "--model_dir=r"]),
                            (12, ["bin/export", "--model_dir=r"]),
                            (7, ["bin/export", "--model_dir=runs/x"]),
                            (8, ["bin/y"])]


def test_no_line_of_code_that_names_a_program_is_missed():
  """A code line that names a program is read as a command, or is one of
  the known lines that only mention one (a folder tree, a log line)."""
  mentions_only = ("bin/            thin programs",  # the README's tree
                   "saved_models/   where bin/export writes")
  missed = []
  for path in DOCS:
    with open(path, encoding="utf-8") as f:
      text = f.read()
    read = {number for number, _ in commands(text, spans=False)}
    for number, line in code_lines(text):
      if (MENTION.search(line) and number not in read
          and not line.startswith(mentions_only)):
        missed.append(f"{os.path.relpath(path, REPO)}:{number}: {line}")
  assert missed == []


def _quick_start():
  """The README's quick-start commands after the set-up (train, evaluate,
  export), in the README's order."""
  with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
    text = f.read()
  section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
  return [argv for _, argv in commands(section, spans=False)
          if program_of(argv[0]) in ("train", "evaluate", "export")]


def test_the_quick_start_is_train_evaluate_export():
  assert [program_of(argv[0]) for argv in _quick_start()] == [
      "train", "evaluate", "export"]


@pytest.mark.slow
def test_the_quick_start_runs_on_tiny_settings(tmp_path, cache_dir):
  """The README's quick start, each command with tiny settings appended
  (later flags win): it trains, evaluates and exports."""
  import json  # pylint: disable=g-import-not-at-top
  model_dir, export_dir = str(tmp_path / "run"), str(tmp_path / "export")
  tiny = {"train": TINY + ["--epochs=2", "--steps_per_epoch=3",
                           "--style_warmup_epochs=1",
                           f"--model_dir={model_dir}"],
          "evaluate": [f"--model_dir={model_dir}", "--classifier_epochs=1",
                       "--likelihood_examples=32", "--likelihood_samples=2",
                       "--quality_examples=200", "--eval_examples=200",
                       "--prd_runs=2", "--prd_angles=101",
                       "--clustering_runs=2", "--figure_rows=2"],
          "export": [f"--model_dir={model_dir}",
                     f"--export_dir={export_dir}"]}
  for argv in _quick_start():
    name = program_of(argv[0])
    out = run_bin(name, argv[1:] + tiny[name], cache_dir)
    assert out.returncode == 0, (argv, out.stderr)
  summary = json.load(open(os.path.join(model_dir, "summary.json")))
  assert summary["steps"] == 6
  results = json.load(open(os.path.join(model_dir, "results.json")))
  assert set(results["latent_probe"]["poe"]) >= {"mnist", "svhn", "text"}
  assert os.path.exists(os.path.join(export_dir, "1", "saved_model.pb"))
