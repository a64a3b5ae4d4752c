"""The package's import graph: no circles, and imports only run down the
layers (the module map of docs/architecture.md), so each module can be read, changed and
tested with only what lies below it."""

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "tf_mmjsd")

# Lowest first; a module may import from its own layer and those before it.
# A module belongs to the layer of its longest matching prefix.
LAYERS = (
    ("vocabulary", ("tf_mmjsd", "tf_mmjsd.errors", "tf_mmjsd.files",
                    "tf_mmjsd.interrupts",
                    "tf_mmjsd.data.text", "tf_mmjsd.data.registry",
                    "tf_mmjsd.data.specs", "tf_mmjsd.likelihoods",
                    "tf_mmjsd.fusion", "tf_mmjsd.subsets",
                    "tf_mmjsd.posteriors", "tf_mmjsd.priors",
                    "tf_mmjsd.noise")),
    ("settings and maths", ("tf_mmjsd.config", "tf_mmjsd.divergences",
                            "tf_mmjsd.objectives", "tf_mmjsd.methods",
                            "tf_mmjsd.metrics", "tf_mmjsd.guard")),
    ("data and networks", ("tf_mmjsd.data", "tf_mmjsd.networks")),
    ("model", ("tf_mmjsd.model", "tf_mmjsd.serving")),
    ("runs", ("tf_mmjsd.run_dir", "tf_mmjsd.run_checkpoints",
              "tf_mmjsd.distribution", "tf_mmjsd.export",
              "tf_mmjsd.callbacks", "tf_mmjsd.local_cluster",
              "tf_mmjsd.run_lock", "tf_mmjsd.tf_config",
              "tf_mmjsd.preflight")),
    ("evaluation", ("tf_mmjsd.evaluation",)),
    ("training", ("tf_mmjsd.training",)),
    ("experiments", ("tf_mmjsd.compare", "tf_mmjsd.benchmark")),
    ("programs", ("tf_mmjsd.cli", "tf_mmjsd.flags", "tf_mmjsd.programs")),
)


def _modules():
  out = {}
  for folder, _, files in os.walk(ROOT):
    for f in files:
      if f.endswith(".py"):
        path = os.path.join(folder, f)
        name = os.path.relpath(path[:-3], os.path.dirname(ROOT)).replace(
            os.sep, ".")
        out[name.removesuffix(".__init__")] = path
  return out


MODULES = _modules()


def _imports(name, path):
  """The tf_mmjsd modules `name` imports, at any depth of its code."""
  package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
  out = set()
  for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
    if isinstance(node, ast.Import):
      out |= {a.name for a in node.names if a.name.startswith("tf_mmjsd")}
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        parts = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
      if base.startswith("tf_mmjsd"):
        for alias in node.names:
          full = f"{base}.{alias.name}"
          out.add(full if full in MODULES else base)
  out.discard(name)
  return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def layer_of(name):
  best = None
  for index, (_, prefixes) in enumerate(LAYERS):
    for prefix in prefixes:
      if (name == prefix or name.startswith(prefix + ".")) and (
          best is None or len(prefix) > len(best[1])):
        best = (index, prefix)
  return None if best is None else best[0]


def test_every_module_has_a_layer():
  assert [m for m in MODULES if layer_of(m) is None] == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_down_the_layers(name):
  upward = sorted(m for m in GRAPH[name] if layer_of(m) > layer_of(name))
  assert upward == [], (
      f"{name} ({LAYERS[layer_of(name)][0]}) imports from higher layers: "
      + ", ".join(f"{m} ({LAYERS[layer_of(m)][0]})" for m in upward))


def find_circles(graph):
  """Every cycle a depth-first walk of {module: imported modules} meets."""
  state, circles = {}, []

  def visit(node, path):
    state[node] = "open"
    for nxt in sorted(graph.get(node, ())):
      if state.get(nxt) == "open":
        circles.append(path[path.index(nxt):] + [nxt])
      elif nxt not in state:
        visit(nxt, path + [nxt])
    state[node] = "done"

  for name in sorted(graph):
    if name not in state:
      visit(name, [name])
  return circles


def test_no_import_circles():
  assert find_circles(GRAPH) == []


def test_the_checks_can_fail():
  assert find_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
      ["a", "b", "c", "a"]]
  assert "tf_mmjsd.fusion" in GRAPH["tf_mmjsd.objectives"]  # edges are read
  assert layer_of("tf_mmjsd.training") > layer_of("tf_mmjsd.evaluation.probe")
