"""The programs as processes (the contract tier): each bin/ program's exit
code and one `error:` line, the console scripts, and cli.execute's fresh
flags for programs run one after another in one process. (Other tests run
the programs in process, through harness.run_bin.)"""

import os
import re
import signal
import subprocess
import sys

import pytest

from tests.harness import REPO, error_line, run_bin
from tf_mmjsd import cli, errors

# One usage error per program: (program, args ({tmp}: the test's folder),
# pattern of its error line).
USAGE_ERRORS = [
    ("train", ["--model_dir={tmp}/run", "--seed=-1"], r"seed must lie in"),
    ("evaluate", ["--model_dir={tmp}/none"], r"holds no run"),
    ("export", [], r"--model_dir is required"),
    ("compare", ["--compare_dir={tmp}/c", "--seeds=x"],
     r"--missing_rates or --seeds"),
    ("benchmark", ["--mode=serving"], r"--mode=serving needs --export_dir"),
    ("train_classifiers", ["--classifier_dir={tmp}/c", "--adam_epsilon=0"],
     r"adam_epsilon must be > 0"),
    ("make_example_data", ["--out={tmp}"], r"is a folder; name an .npz"),
    ("make_records", [], r"--out=FOLDER is required"),
    ("train_local_cluster", ["--num_workers=0", "--",
                             "--model_dir={tmp}/run"],
     r"flag --num_workers=0: 0 is not a positive integer"),
]


def test_every_program_has_a_usage_error_here():
  programs = {f[:-3] for f in os.listdir(os.path.join(REPO, "tf_mmjsd",
                                                      "programs"))
              if f.endswith(".py") and f != "__init__.py"}
  assert {p for p, _, _ in USAGE_ERRORS} == programs
  assert programs == set(os.listdir(os.path.join(REPO, "bin")))


@pytest.mark.process
@pytest.mark.parametrize("program,args,pattern", USAGE_ERRORS,
                         ids=[c[0] for c in USAGE_ERRORS])
def test_a_program_exits_2_with_one_error_line(program, args, pattern,
                                               tmp_path, cache_dir):
  args = [a.replace("{tmp}", str(tmp_path)) for a in args]
  out = run_bin(program, args, cache_dir, process=True)
  assert out.returncode == 2, out.stderr[-3000:]
  assert re.search(pattern, error_line(out.stderr)), out.stderr
  assert sorted(os.listdir(tmp_path)) == []  # nothing written


def _console_script(name):
  return os.path.join(os.path.dirname(sys.executable),
                      f"tf-mmjsd-{name.replace('_', '-')}")


@pytest.mark.process
def test_the_console_scripts_print_their_help_and_errors(tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  out = subprocess.run([_console_script("train"), "--help"], env=env,
                       capture_output=True, text=True, timeout=120,
                       cwd=tmp_path)
  assert out.returncode == 0, out.stderr[-3000:]
  assert out.stdout.startswith("Trains a multimodal VAE")
  assert "--model_dir" in out.stdout and "--learning_rate" in out.stdout
  out = subprocess.run([_console_script("evaluate"),
                        f"--model_dir={tmp_path}/none"], env=env,
                       capture_output=True, text=True, timeout=120,
                       cwd=tmp_path)
  assert out.returncode == 2
  assert "holds no run" in error_line(out.stderr)


def test_each_execute_parses_into_fresh_flags(tmp_path):
  first, _ = cli.parse("train", ["train", "--epochs=3", "--seed=7"])
  second, _ = cli.parse("train", ["train"])
  assert (first.epochs, first.seed) == (3, 7)
  assert (second.epochs, second.seed) == (second["epochs"].default,
                                          second["seed"].default)
  # A program's own flags do not leak into another's.
  exported, _ = cli.parse("export", ["export", f"--model_dir={tmp_path}"])
  assert "learning_rate" not in exported and "epochs" in second
  with pytest.raises(errors.UsageError, match="Unknown command line flag"):
    cli.parse("export", ["export", "--epochs=3"])


def test_execute_restores_the_signal_handlers(tmp_path, capsys):
  before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
  code = cli.execute("evaluate", ["evaluate", f"--model_dir={tmp_path}/x"])
  assert code == 2
  assert "holds no run" in capsys.readouterr().err
  assert {s: signal.getsignal(s) for s in before} == before


def test_positional_arguments_only_where_a_program_takes_them(capsys):
  assert cli.execute("train", ["train", "now"]) == 2
  assert "unexpected arguments ['now']" in capsys.readouterr().err
  fv, args = cli.parse("train_local_cluster",
                       ["train_local_cluster", "--num_workers=3", "--",
                        "--epochs=2", "extra"])
  assert fv.num_workers == 3 and args == ["--epochs=2", "extra"]


def test_the_launcher_checks_the_workers_flags_as_the_chief_will(tmp_path):
  from tf_mmjsd.programs import train_local_cluster  # pylint: disable=g-import-not-at-top
  args = [f"--model_dir={tmp_path}/run", "--distribution=multi_worker"]
  train_local_cluster.check_workers("train", args, 2)  # no TF_CONFIG here
  with pytest.raises(errors.UsageError, match=r"the workers' flags \(after "
                     r"--\): learning_rate must be a finite number"):
    train_local_cluster.check_workers("train",
                                      args + ["--learning_rate=nan"], 2)
  assert not os.path.exists(tmp_path / "run")
