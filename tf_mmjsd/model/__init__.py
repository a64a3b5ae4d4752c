"""The multimodal VAE.

  vae.py         MultimodalVAE: encoders, decoders, subset posteriors
  inference.py   its inference API on tensors (also the serving signatures')
  train_step.py  its objective terms, train_step and test_step
"""

from tf_mmjsd.model.vae import MultimodalVAE

__all__ = ["MultimodalVAE"]
