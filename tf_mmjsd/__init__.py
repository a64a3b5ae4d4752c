"""tf_mmjsd: mmJSD multimodal variational autoencoders in TensorFlow/Keras.

Data flow (one module each):

    data/ -> networks/ (encoders) -> posteriors -> fusion (PoE / mixture)
          -> divergences (JS with dynamic prior) -> networks/ (decoders)
          -> likelihoods -> objectives -> model (train_step) -> training
"""

import os as _os

# TensorFlow's x86 wheels compile their own CPU kernels for AVX only; the
# oneDNN kernels choose AVX2, FMA or AVX-512 when they run, but TensorFlow
# turns them on by default only on some CPUs. On a 2-core AVX2 machine
# they train the MNIST-SVHN-Text step 1.44x faster (bin/benchmark: 1,318
# -> 1,898 examples/s); results differ from the AVX kernels by float
# rounding. Set TF_ENABLE_ONEDNN_OPTS=0 before the first import to keep
# TensorFlow's choice. Where TensorFlow was imported before tf_mmjsd, its
# setting stands (it is read once, at TensorFlow's import).
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from tf_mmjsd.errors import Error, UsageError  # pylint: disable=g-import-not-at-top

__version__ = "0.5.0"
