"""Installs tf_mmjsd: mmJSD multimodal VAEs in TensorFlow/Keras."""

import pathlib

import setuptools

ROOT = pathlib.Path(__file__).parent

setuptools.setup(
    name="tf_mmjsd",
    version="0.5.0",
    description=(
        "mmJSD multimodal variational autoencoders (Jensen-Shannon divergence "
        "with a dynamic prior) in TensorFlow/Keras"
    ),
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.13",
    packages=setuptools.find_packages(include=["tf_mmjsd", "tf_mmjsd.*"]),
    # Ranges are the ones this project is tested with (docs/decisions.md).
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.15,<4",
        # The [tf] extra brings tf-keras, without which TFP 0.25 refuses to import.
        "tensorflow-probability[tf]>=0.25,<0.26",
        "tensorflow-datasets>=4.9.10,<5",
        # TFDS needs these to prepare mnist / svhn_cropped but does not declare
        # them; scipy also reads the raw SVHN .mat files of --svhn_dir.
        "importlib_resources>=6",
        "scipy>=1.11",
        # k-means, NMI and ARI of the latent clustering metric, as the
        # reference implementations compute them.
        "scikit-learn>=1.5,<2",
        "numpy>=1.26",
        "absl-py>=2.1",
        "pillow>=10.1",
        # bin/compare's plots (grouped bars, lines with the seed spread).
        "matplotlib>=3.8",
        # tf.summary needs it for the scalars and images of --model_dir; TF 2.21
        # no longer installs it.
        "tensorboard>=2.20",
    ],
    # tensorflow-serving-api: the official TF Serving client; the tests build
    # gRPC PredictRequests with it as the README's example does.
    # pytest-xdist: the suite runs on two processes (-n 2); its tests are
    # mostly single-threaded Python (tracing, start-up), so two cores run
    # it in 11.4 minutes instead of 18.5.
    # docs: the documentation site (mkdocs.yml; `mkdocs build --strict`).
    # MkDocs with the Material theme, and mkdocstrings, which reads the API
    # reference from the docstrings by static analysis (no TensorFlow
    # import). Pinned, with the parsers under them, to the versions the
    # site is built and checked with: a new release may warn where this
    # one did not, which fails the strict build.
    extras_require={"test": ["pytest>=8", "pytest-xdist>=3.6.1",
                             "tensorflow-serving-api>=2.21,<2.22"],
                    "docs": ["mkdocs==1.6.1", "mkdocs-material==9.8.2",
                             "mkdocstrings==1.0.8",
                             "mkdocstrings-python==2.0.11",
                             "griffelib==2.4.1", "mkdocs-autorefs==1.4.5",
                             "pymdown-extensions==13.1.2"]},
    # Every program on PATH as tf-mmjsd-<name> (bin/<name> in a clone).
    entry_points={"console_scripts": [
        f"tf-mmjsd-{name.replace('_', '-')}=tf_mmjsd.programs.{name}:run"
        for name in ("train", "evaluate", "export", "compare", "benchmark",
                     "train_classifiers", "make_example_data", "make_records",
                     "train_local_cluster")]},
)
