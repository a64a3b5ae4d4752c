"""Files on any file system TensorFlow knows: local paths and `scheme://`
ones (gs://, hdfs://, s3:// with tensorflow-io, and ram://, TensorFlow's
in-memory file system that the tests use).

Every file the programs read or write goes through this module (or through
TensorFlow's checkpoint, SavedModel, summary and Keras saving APIs, which
take the same paths). A path with a scheme goes through `tf.io.gfile`; a
local path through `os` and `open`, whose errors name a full disk or a
missing permission precisely (cli.py reports both kinds).

`check_remote` answers, within a bounded time and before anything is
written, whether a `scheme://` path can be used here: a scheme TensorFlow
does not know, a missing plug-in, a store that cannot be reached or that
refuses the credentials become an `UnusablePathError` naming the cause
(preflight.py turns it into the usage error of the flag).

`write_atomic` writes a file then renames it into place, so a reader never
sees half of it. On an object store a rename is a copy then a delete: the
object still appears whole (an object becomes visible when its upload
completes), but two writers of one name are not ordered; a run directory
has one writer (run_lock.py).
"""

import builtins
import contextlib
import importlib.util
import io
import os
import shutil
import tempfile
import threading
import uuid

from tf_mmjsd.errors import UsageError

# File systems TensorFlow registers itself, and those the tensorflow-io
# package adds (registered when it is imported: check_remote does that).
TF_SCHEMES = ("gs", "ram", "file")
TFIO_SCHEMES = ("s3", "hdfs", "viewfs", "har", "az", "http", "https")
# Seconds check_remote waits for a store to answer (TF_MMJSD_REMOTE_TIMEOUT
# replaces it).
REMOTE_TIMEOUT = 30.0


def _gfile():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


def _remote(fn, path, *args):
  """fn(path, *args) of tf.io.gfile, with TensorFlow's NotFoundError raised
  as FileNotFoundError (what the local branch raises)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    return fn(path, *args)
  except tf.errors.NotFoundError as e:
    raise FileNotFoundError(2, "No such file or directory", path) from e


def is_remote(path):
  """True for a `scheme://` path (handled by tf.io.gfile)."""
  return "://" in str(path)


def scheme(path):
  """"gs" of "gs://bucket/x"; "" for a local path."""
  return str(path).split("://", 1)[0] if is_remote(path) else ""


class UnusablePathError(UsageError):
  """A `scheme://` path that cannot be used here; the message says why."""


def _cause(error):
  """Why a store refused a request, in words, from TensorFlow's error."""
  text = " ".join(str(getattr(error, "message", error)).split())[:240]
  low = text.lower()
  if "not implemented" in low:
    return "this TensorFlow has no file system for that scheme"
  if any(s in low for s in ("resolve host", "couldn't connect", "connect to",
                            "connection refused", "timed out", "timeout",
                            "network is unreachable", "proxy")):
    return f"the store cannot be reached from this machine ({text})"
  if any(s in low for s in ("credential", "401", "403", "unauthenticated",
                            "permission", "forbidden", "access denied")):
    return (f"no credentials, or they are refused ({text}); for gs:// run "
            "`gcloud auth application-default login` or set "
            "GOOGLE_APPLICATION_CREDENTIALS")
  return text


def check_remote(path, timeout=None):
  """Whether the `scheme://` path exists, asked of its store within
  `timeout` seconds (default REMOTE_TIMEOUT or $TF_MMJSD_REMOTE_TIMEOUT);
  None for ram:// and file://, which are not asked.

  Raises:
    UnusablePathError: the scheme is unknown, or needs tensorflow-io and it
      is not installed; the store cannot be reached, refuses the
      credentials or did not answer in time.
  """
  name = scheme(path)
  if name in TFIO_SCHEMES:
    if importlib.util.find_spec("tensorflow_io") is None:
      raise UnusablePathError(
          f"{name}:// needs the tensorflow-io package, which is not "
          "installed (pip install tensorflow-io)")
    import tensorflow_io  # pylint: disable=g-import-not-at-top,unused-import
  elif name not in TF_SCHEMES:
    raise UnusablePathError(
        f"{name}:// is not a file system TensorFlow knows: use a local path, "
        "gs:// or ram:// (s3://, hdfs:// and az:// with the tensorflow-io "
        "package)")
  if name in ("ram", "file"):  # this machine's memory and disks
    return None
  if timeout is None:
    text = os.environ.get("TF_MMJSD_REMOTE_TIMEOUT", str(REMOTE_TIMEOUT))
    try:
      timeout = float(text)
    except ValueError:
      timeout = -1.0
    if not timeout > 0:
      raise UsageError(f"TF_MMJSD_REMOTE_TIMEOUT={text!r} must be a "
                       "positive number of seconds")
  _gfile()  # TensorFlow loads here, not within the store's time limit
  answer = {}

  def ask():
    try:
      if name == "gs":  # a bucket that is not there fails every write
        bucket = "gs://" + str(path)[len("gs://"):].split("/")[0]
        if not exists(bucket):
          answer["error"] = f"there is no bucket {bucket} (or these " \
                            "credentials cannot see it)"
          return
      answer["exists"] = exists(path)
    except Exception as e:  # pylint: disable=broad-except
      answer["error"] = e

  # In a thread: a store that never answers cannot hold the program.
  thread = threading.Thread(target=ask, daemon=True)
  thread.start()
  thread.join(timeout)
  if thread.is_alive():
    raise UnusablePathError(f"no answer from the store within {timeout:g} s "
                            "(TF_MMJSD_REMOTE_TIMEOUT); is it reachable from "
                            "this machine?")
  if "error" in answer:
    raise UnusablePathError(_cause(answer["error"]))
  return answer["exists"]


def join(*parts):
  """os.path.join, which also joins the parts of `scheme://` paths."""
  return os.path.join(*parts)


def exists(path):
  return _gfile().exists(path) if is_remote(path) else os.path.exists(path)


def isdir(path):
  return _gfile().isdir(path) if is_remote(path) else os.path.isdir(path)


def isfile(path):
  if is_remote(path):
    return _gfile().exists(path) and not _gfile().isdir(path)
  return os.path.isfile(path)


def makedirs(path):
  """Creates the folder `path` and its parents (nothing if it exists)."""
  if is_remote(path):
    _gfile().makedirs(path)
  else:
    os.makedirs(path, exist_ok=True)


def listdir(path):
  """The names in folder `path` (without a trailing "/")."""
  if is_remote(path):
    return [n.rstrip("/") for n in _gfile().listdir(path)]
  return os.listdir(path)


def glob(pattern):
  """The paths matching `pattern` (* and ?), sorted."""
  if is_remote(pattern):
    return sorted(_gfile().glob(pattern))
  import glob as glob_lib  # pylint: disable=g-import-not-at-top
  return sorted(glob_lib.glob(pattern))


def remove(path):
  if is_remote(path):
    _remote(_gfile().remove, path)
  else:
    os.remove(path)


def rmtree(path):
  """Deletes folder `path` and everything in it; nothing if it is absent."""
  if is_remote(path):
    if _gfile().exists(path):
      _gfile().rmtree(path)
  else:
    shutil.rmtree(path, ignore_errors=True)


def walk_files(folder):
  """The paths, relative to `folder`, of every file below it."""
  if is_remote(folder):
    walked = ((d, names) for d, _, names in _gfile().walk(folder))
  else:
    walked = ((d, names) for d, _, names in os.walk(folder))
  return [os.path.relpath(os.path.join(d, n), folder)
          for d, names in walked for n in names]


def copy(source, target):
  """Copies the file `source` to `target` (replacing it)."""
  if is_remote(source) or is_remote(target):
    _gfile().copy(source, target, overwrite=True)
  else:
    shutil.copyfile(source, target)


def rename(source, target, overwrite=False):
  if is_remote(source) or is_remote(target):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    try:
      _remote(_gfile().rename, source, target, overwrite)
    except tf.errors.AlreadyExistsError as e:
      raise FileExistsError(17, "File exists", target) from e
  elif overwrite:
    os.replace(source, target)
  else:
    if os.path.exists(target):
      raise FileExistsError(17, "File exists", target)
    os.rename(source, target)


def size(path):
  """The size of file `path` in bytes."""
  if is_remote(path):
    return _remote(_gfile().stat, path).length
  return os.path.getsize(path)


def getmtime(path):
  """Seconds since the epoch of the last change of `path`."""
  if is_remote(path):
    return _remote(_gfile().stat, path).mtime_nsec / 1e9
  return os.path.getmtime(path)


def open(path, mode="r"):  # pylint: disable=redefined-builtin
  """A file object of `path` ("r", "w", "rb", "wb", "a")."""
  if is_remote(path):
    return _gfile().GFile(path, mode)
  if "b" in mode:
    return builtins.open(path, mode)
  return builtins.open(path, mode, encoding="utf-8")


def read_text(path):
  if is_remote(path):
    return _remote(lambda p: _gfile().GFile(p, "r").read(), path)
  with open(path) as f:
    return f.read()


def read_bytes(path):
  if is_remote(path):
    return _remote(lambda p: _gfile().GFile(p, "rb").read(), path)
  with open(path, "rb") as f:
    return f.read()


def create_exclusive(path, text):
  """Creates the file `path` holding `text`; FileExistsError where it
  exists. Local paths use O_EXCL (atomic, also on NFS). Object stores have
  no exclusive create: the file is written unless present and read back,
  and FileExistsError raised where another writer's text is there (best
  effort: two writers within the same moment may both succeed)."""
  if is_remote(path):
    if _gfile().exists(path):
      raise FileExistsError(17, "File exists", path)
    with _gfile().GFile(path, "w") as f:
      f.write(text)
    if read_text(path) != text:
      raise FileExistsError(17, "File exists", path)
    return
  fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
  with os.fdopen(fd, "w", encoding="utf-8") as f:
    f.write(text)


@contextlib.contextmanager
def atomic_writer(path, mode="wb"):
  """A file object ("wb" or "w") whose contents replace `path` when the
  `with` block ends: written to a temporary file in the same folder, then
  renamed. On any failure (a full disk, a signal) the temporary file is
  removed and the old `path`, if any, is kept."""
  if is_remote(path):
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
    try:
      with _gfile().GFile(tmp, mode) as f:
        yield f
      _gfile().rename(tmp, path, overwrite=True)
    except BaseException:
      if _gfile().exists(tmp):
        _gfile().remove(tmp)
      raise
    return
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
  try:
    with os.fdopen(fd, mode, **({} if "b" in mode else
                                {"encoding": "utf-8"})) as f:
      yield f
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def write_atomic(path, data):
  """Writes `data` (str or bytes) to `path` (see `atomic_writer`)."""
  with atomic_writer(path, "wb" if isinstance(data, bytes) else "w") as f:
    f.write(data)


def load_npz(path):
  """np.load of an .npz (or .npy) file: lazily from a local path; a remote
  file is read into memory first (a zip needs random access)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  if is_remote(path):
    return np.load(io.BytesIO(read_bytes(path)), allow_pickle=False)
  return np.load(path, allow_pickle=False)


def make_temp_dir(parent, prefix):
  """A new, empty folder named prefix + a random part inside `parent`
  (created if missing); returns its path."""
  if is_remote(parent):
    path = join(parent, prefix + uuid.uuid4().hex[:12])
    _gfile().makedirs(path)
    return path
  os.makedirs(parent, exist_ok=True)
  return tempfile.mkdtemp(prefix=prefix, dir=parent)
