"""tf.distribute for a run: the strategy, who writes, and each replica's input.

  auto          `mirrored` where more than one GPU is visible, else `default`
  default       TensorFlow's default strategy: one device
  one_device    OneDeviceStrategy on the first GPU (else the CPU)
  mirrored      MirroredStrategy: every local GPU (or logical CPU device)
  multi_worker  MultiWorkerMirroredStrategy over the workers of TF_CONFIG

The global batch is the same under every strategy: each step takes the next
`batch_size` examples of the epoch's order, and replica r of R gets rows
r*B/R .. (r+1)*B/R - 1 of it (data/pipeline.py), which is also how the
training noise is laid out (noise.py), so a step computes the same update
on any number of replicas.

Multi-worker runs follow TensorFlow's multi-worker guide: the chief (task
"chief", or worker 0 where the cluster has no chief) writes the run
directory; the other workers write their checkpoints and summaries to a
temporary folder of their own that is deleted at the end, and restore from
the chief's checkpoints (so `model_dir` must be on a file system every
worker sees: NFS, GCS). Collectives time out after `collective_timeout`
seconds, so a worker whose peer died fails instead of hanging.

TensorFlow waits for every peer inside one C++ call that neither times out
nor lets Python handle a signal, so before it a worker meets its peers
itself (`wait_for_peers`): it answers on its own port and waits, in Python,
until every peer answers on its port, up to `startup_timeout` seconds; a
peer that never starts is named instead of waited on for ever, and SIGTERM
and Ctrl-C stop the wait. During TensorFlow's own start-up that follows
(seconds, once every peer has answered) Ctrl-C ends the process at once
(nothing is written yet); TensorFlow installs its own SIGTERM handler
there, so a SIGTERM in that window is not acted upon.
"""

import os
import shutil
import signal
import socket
import tempfile
import time

import tensorflow as tf

from tf_mmjsd import errors
from tf_mmjsd.config import DISTRIBUTIONS as STRATEGIES
from tf_mmjsd.errors import Error
from tf_mmjsd.tf_config import DistributionError, is_chief_task, parse_tf_config  # pylint: disable=unused-import  # part of this module's API


class PeerFailure(Error):
  """Training stopped because another worker died or stopped answering."""


class StartupTimeout(Error):
  """The cluster did not form: a peer never answered at start-up."""


def make_strategy(name, collective_timeout=None, startup_timeout=None,
                  log=print, mixed_precision=None):
  """The tf.distribute strategy `name` (one of STRATEGIES); logs a note for
  each setting that expects a GPU this machine lacks (device_notes).

  Args:
    collective_timeout: multi_worker only: seconds after which a collective
      that a peer does not join fails (None: wait for ever).
    startup_timeout: multi_worker only: seconds to wait for every peer at
      start-up (`wait_for_peers`; None: wait for ever).
    mixed_precision: the run's Keras dtype policy, for its note.
  """
  if name not in STRATEGIES:
    raise DistributionError(f"distribution must be one of {STRATEGIES}, got "
                            f"{name!r}")
  # Physical devices: listing logical ones would start the TensorFlow
  # runtime, after which collectives (multi_worker) cannot be configured.
  gpus = tf.config.list_physical_devices("GPU")
  for note in device_notes(name, mixed_precision, len(gpus), cpu_flags()):
    if note not in _NOTED:  # once per process (bin/compare: many runs)
      _NOTED.add(note)
      log(f"note: {note}")
  if name == "auto":
    name = "mirrored" if len(gpus) > 1 else "default"
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "one_device":
    return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  cluster, task_type, index = parse_tf_config(os.environ.get("TF_CONFIG", ""))
  wait_for_peers(cluster, task_type, index, startup_timeout, log=log)
  options = tf.distribute.experimental.CommunicationOptions(
      timeout_seconds=collective_timeout)
  # TensorFlow's start-up blocks in C++, where a Python handler never runs:
  # let Ctrl-C end the process meanwhile (nothing is written). (SIGTERM
  # cannot be given the same treatment: TensorFlow installs its own handler
  # in that call.)
  previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
  handlers = {signal.SIGINT: previous,
              signal.SIGTERM: signal.getsignal(signal.SIGTERM)}
  try:
    return tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=options)
  finally:  # take SIGTERM back from TensorFlow's start-up
    for sig, handler in handlers.items():
      signal.signal(sig, handler)


# The device notes this process printed.
_NOTED = set()

# CPU instructions that run bfloat16 arithmetic (Linux's /proc/cpuinfo
# names).
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(path="/proc/cpuinfo"):
  """The instruction-set flags of this machine's CPU; None where unknown
  (not Linux)."""
  try:
    with open(path) as f:  # local: /proc of this host
      for line in f:
        if line.startswith("flags"):
          return set(line.partition(":")[2].split())
  except OSError:
    pass
  return None


def device_notes(distribution, mixed_precision, gpus, flags=None):
  """One line for each setting that expects an accelerator this machine
  lacks: --distribution=mirrored without a GPU, float16 on a CPU, bfloat16
  on a CPU without bfloat16 instructions (`flags`: cpu_flags()). `gpus`:
  the number of GPUs visible."""
  if gpus:
    return []
  notes = []
  if distribution == "mirrored":
    notes.append("--distribution=mirrored found no GPU: it runs on the "
                 "CPU (one replica unless logical CPU devices are set up)")
  if mixed_precision == "mixed_float16":
    notes.append("--mixed_precision=mixed_float16 without a GPU: CPUs have "
                 "no float16 arithmetic, so this runs slower than float32")
  if (mixed_precision == "mixed_bfloat16" and flags is not None
      and not flags & set(BFLOAT16_CPU_FLAGS)):
    notes.append("--mixed_precision=mixed_bfloat16 without a GPU, on a CPU "
                 "without bfloat16 instructions ("
                 + ", ".join(BFLOAT16_CPU_FLAGS)
                 + "): this runs slower than float32")
  return notes


def _address(address):
  host, _, port = address.rpartition(":")
  return host.strip("[]"), int(port)


def wait_for_peers(cluster, task_type, index, timeout, log=print, poll=0.25):
  """Returns once every other task of `cluster` accepts a connection on its
  address, meanwhile accepting (and closing) connections on this task's
  own port so that the peers see this one; raises StartupTimeout naming
  the peers that did not answer within `timeout` seconds (None: no limit).
  Runs in Python, so SIGTERM and SIGINT stop it (cli.py, interrupts.py).

  Raises:
    DistributionError: this task's port is taken by another program.
  """
  own = cluster[task_type][index]
  peers = [(f"{job} {i} ({address})", _address(address))
           for job, addresses in sorted(cluster.items())
           for i, address in enumerate(addresses)
           if (job, i) != (task_type, index) and job != "evaluator"]
  if not peers:
    return
  listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  try:
    listener.bind(("", _address(own)[1]))
  except OSError as e:
    listener.close()
    raise DistributionError(
        f"TF_CONFIG gives this task ({task_type} {index}) the address "
        f"{own}, but its port is in use by another program ({e.strerror}); "
        "choose a free port") from None
  listener.listen(16)
  listener.setblocking(False)
  start = time.time()
  waiting = dict(peers)
  log(f"Waiting for {len(waiting)} peer(s) of the cluster (up to "
      + (f"{timeout:.0f} s" if timeout else "no limit") + ") ...")
  try:
    while True:
      _answer(listener)
      for name, address in list(waiting.items()):
        try:
          socket.create_connection(address, timeout=poll).close()
          del waiting[name]
        except OSError:
          pass
      if not waiting:
        break
      if timeout is not None and time.time() - start > timeout:
        raise StartupTimeout(
            f"the cluster did not form: after {timeout:.0f} s this worker "
            f"({task_type} {index}, {own}) could not reach "
            f"{', '.join(waiting)}. Start every worker of TF_CONFIG (with "
            "the same command), check their addresses and firewalls, or "
            "raise --startup_timeout")
      time.sleep(poll)
    # Peers still waiting may try this port once more before TensorFlow's
    # own server takes it over.
    end = time.time() + 2 * poll
    while time.time() < end:
      _answer(listener)
      time.sleep(poll / 5)
  finally:
    listener.close()
  log(f"Every peer answered after {time.time() - start:.1f} s.")


def _answer(listener):
  """Accepts and closes the connections waiting on `listener`."""
  while True:
    try:
      conn, _ = listener.accept()
    except (BlockingIOError, InterruptedError):
      return
    conn.close()


def task(strategy):
  """(task type, task index) of this process; ("worker", 0) when there is
  no cluster."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return "worker", 0
  return resolver.task_type, resolver.task_id


def is_chief(strategy):
  """True where this process writes the run directory: always without a
  cluster; in a cluster, the "chief" task, or worker 0 if there is none."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  return is_chief_task(resolver.cluster_spec().as_dict(), resolver.task_type,
                       resolver.task_id)


class OutputDir:
  """Where this process writes: `model_dir` on the chief; elsewhere a
  temporary folder that `cleanup()` deletes (multi-worker guide)."""

  def __init__(self, model_dir, strategy):
    self.chief = is_chief(strategy)
    if self.chief:
      self.path = model_dir
    else:
      task_type, index = task(strategy)
      self.path = tempfile.mkdtemp(  # local: this worker's own scratch
          prefix=f"tf_mmjsd_{task_type}{index}_")

  def cleanup(self):
    if not self.chief:
      shutil.rmtree(self.path, ignore_errors=True)  # local


class Preemption:
  """SIGTERM to any worker of a multi_worker run (a preemption notice):
  every worker saves a checkpoint after the same step and stops, through
  TensorFlow's tf.distribute.experimental.PreemptionCheckpointHandler.

  The handler counts `after(step)` calls, which every worker makes after
  each call of the training function; when one worker receives SIGTERM, the
  workers agree (through TensorFlow's coordination service) on the call
  after which to save, run `save(step)` there, and raise
  errors.Interrupted. The handler keeps its own bookkeeping in a temporary
  folder, deleted on exit; the checkpoints are the run's own.

  Args:
    strategy: the MultiWorkerMirroredStrategy.
    save: save(step) writes the run's checkpoint of `step` (every worker).
    describe: describe(step, own) -> the errors.Interrupted message; `own`
      is True on the worker that received the signal.
  """

  def __init__(self, strategy, save, describe):
    self.strategy, self.save, self.describe = strategy, save, describe
    self.step, self.handler, self.scratch = None, None, None
    self._previous = None

  def __enter__(self):
    self._previous = signal.getsignal(signal.SIGTERM)
    self.scratch = tempfile.mkdtemp(  # local: the handler's bookkeeping
        prefix="tf_mmjsd_preemption_")
    config = tf.distribute.experimental.TerminationConfig(
        exit_fn=self._exit, save_fn=lambda: self.save(self.step),
        grace_period=0)
    self.handler = tf.distribute.experimental.PreemptionCheckpointHandler(
        self.strategy.cluster_resolver, tf.train.Checkpoint(),
        os.path.join(self.scratch, "handler", "ckpt"), config)
    return self

  def after(self, step):
    """Call after each training call: saves and raises errors.Interrupted
    where a worker was preempted and `step` is the agreed one."""
    self.step = step
    self.handler.save_checkpoint_if_preempted()

  def _exit(self):
    own = self.handler._received_own_sigterm.is_set()  # pylint: disable=protected-access
    raise errors.Interrupted(self.describe(self.step, own), signal.SIGTERM)

  def __exit__(self, *exc):
    handler, self.handler = self.handler, None
    if handler is not None:
      handler.__del__()  # stops its watcher threads (idempotent)
    signal.signal(signal.SIGTERM, self._previous)
    shutil.rmtree(self.scratch, ignore_errors=True)  # local
    return False


# What a collective raises when a peer worker died or stopped answering.
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
               tf.errors.AbortedError, tf.errors.CancelledError)


def peer_failure(error, checkpoint):
  """The PeerFailure to raise for a PEER_ERRORS exception."""
  detail = " ".join(str(error.message).split())
  if len(detail) > 300:
    detail = detail[:300] + " ..."
  return PeerFailure(
      "training stopped: another worker of the cluster died or stopped "
      f"answering ({type(error).__name__}: {detail}). Rerun every worker "
      "with the same command to resume from "
      + (checkpoint or "the start (no checkpoint yet)"))


def check_batch(batch_size, strategy):
  """Raises DistributionError unless the global batch splits evenly."""
  replicas = strategy.num_replicas_in_sync
  if batch_size % replicas:
    raise DistributionError(
        f"--batch_size={batch_size} (the global batch) must be divisible by "
        f"the {replicas} replicas of the strategy")


def distribute(strategy, global_batch, make_dataset):
  """A distributed dataset of per-replica batches.

  Args:
    global_batch: the global batch size.
    make_dataset: fn(pipeline, num_pipelines, replica_batch) ->
      tf.data.Dataset of batches of `replica_batch` for the local replicas
      of input pipeline `pipeline` (one per worker), in replica order.
  """
  def dataset_fn(context):
    return make_dataset(context.input_pipeline_id,
                        context.num_input_pipelines,
                        context.get_per_replica_batch_size(global_batch))

  return strategy.distribute_datasets_from_function(dataset_fn)
