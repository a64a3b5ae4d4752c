"""TF_CONFIG, the cluster of a multi-worker run, read without TensorFlow
(the programs check it before TensorFlow loads; distribution.py builds the
strategy from it)."""

import json

from tf_mmjsd.errors import UsageError


class DistributionError(UsageError):
  """The strategy cannot be set up as asked (e.g. a malformed TF_CONFIG)."""


def parse_tf_config(text):
  """The validated TF_CONFIG: (cluster {job: ["host:port", ...]}, task type,
  task index).

  Raises:
    DistributionError: naming what is wrong and what a valid one looks like.
  """
  example = ('e.g. TF_CONFIG=\'{"cluster": {"worker": ["host0:12345", '
             '"host1:12345"]}, "task": {"type": "worker", "index": 0}}\'')
  if not text or not text.strip():
    raise DistributionError("--distribution=multi_worker needs the TF_CONFIG "
                            f"environment variable ({example}); "
                            "bin/train_local_cluster sets it for you")
  try:
    value = json.loads(text)
  except json.JSONDecodeError as e:
    raise DistributionError(f"TF_CONFIG is not valid JSON ({e}); "
                            f"{example}") from e
  cluster = value.get("cluster") if isinstance(value, dict) else None
  if not isinstance(cluster, dict) or not cluster:
    raise DistributionError(f"TF_CONFIG has no \"cluster\" object; {example}")
  unknown = sorted(set(cluster) - {"chief", "worker", "evaluator"})
  if unknown:
    raise DistributionError(f"TF_CONFIG cluster has unknown jobs {unknown}; "
                            "multi_worker uses \"chief\" and \"worker\"")
  for job, addresses in cluster.items():
    if not isinstance(addresses, list) or not addresses:
      raise DistributionError(f"TF_CONFIG cluster.{job} must be a non-empty "
                              f"list of \"host:port\", got {addresses!r}")
    for address in addresses:
      host, _, port = str(address).rpartition(":")
      if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DistributionError(f"TF_CONFIG cluster.{job}: {address!r} is not "
                                "\"host:port\"")
  if len(cluster.get("chief", [])) > 1:
    raise DistributionError("TF_CONFIG cluster.chief must list one address")
  task = value.get("task")
  if not isinstance(task, dict) or "type" not in task or "index" not in task:
    raise DistributionError("TF_CONFIG has no \"task\": {\"type\": ..., "
                            f"\"index\": ...}}; {example}")
  task_type, index = task["type"], task["index"]
  if task_type not in cluster:
    raise DistributionError(f"TF_CONFIG task type {task_type!r} is not a job "
                            f"of the cluster {sorted(cluster)}")
  if not isinstance(index, int) or not 0 <= index < len(cluster[task_type]):
    raise DistributionError(
        f"TF_CONFIG task index {index!r} is out of range: cluster."
        f"{task_type} has {len(cluster[task_type])} addresses")
  return cluster, task_type, index


def is_chief_task(cluster, task_type, index):
  """True for the task that writes the run directory: "chief", or worker 0
  where the cluster has no chief (distribution.is_chief, from TF_CONFIG)."""
  if "chief" in cluster:
    return task_type == "chief"
  return task_type == "worker" and index == 0


def input_pipeline(cluster, task_type, index):
  """(this task's input pipeline, the number of pipelines) under
  MultiWorkerMirroredStrategy: one per chief and worker, the chief's first;
  None for an evaluator."""
  chiefs = len(cluster.get("chief", []))
  workers = len(cluster.get("worker", []))
  if task_type == "chief":
    return 0, chiefs + workers
  if task_type == "worker":
    return chiefs + index, chiefs + workers
  return None
