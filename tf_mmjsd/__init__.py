"""tf_mmjsd: mmJSD multimodal variational autoencoders in TensorFlow/Keras.

Data flow (one module each):

    data/ -> networks/ (encoders) -> posteriors -> fusion (PoE / mixture)
          -> divergences (JS with dynamic prior) -> networks/ (decoders)
          -> likelihoods -> objectives -> model (train_step) -> training
"""

from tf_mmjsd.errors import Error, UsageError

__version__ = "0.3.1"
