"""Files and runs: the datasets, run folders, checkpoints, configs and evaluations.

    data.py, datafiles.py   MNIST and Frey Face: loading, checksums, the data folder
    checkpoint.py           atomic checkpoints and the log of a run
    config.py               config.json: every setting of a run, with its validation
    folder.py               :class:`Run`, :func:`start`, :func:`resume` (interrupt and
                            resume a run exactly)
    evaluation.py           a finished run's parameters and its marginal likelihood
    methods.py              the method registry behind ``aevb train --method``

The run-folder API is here in one place, as ``aevb.runs.start(...)`` and so on.
"""
from . import checkpoint, config, data, datafiles, evaluation, methods  # noqa: F401
from .config import (ARCHITECTURE, N_TRAIN_EVAL, VAE_SETTINGS, check_threads,  # noqa: F401
                     load_data, make_config, n_train, read_config)
from .evaluation import evaluate_likelihood, load_params, load_run  # noqa: F401
from .folder import DIVERGED_NATS, RUN_FILES, DivergedError, Run, RunError, resume, start  # noqa

__all__ = ["Run", "RunError", "DivergedError", "start", "resume", "make_config", "read_config",
           "load_data", "n_train", "check_threads", "load_params", "load_run",
           "evaluate_likelihood", "RUN_FILES", "N_TRAIN_EVAL", "VAE_SETTINGS", "ARCHITECTURE",
           "DIVERGED_NATS", "checkpoint", "config", "data", "datafiles", "evaluation", "methods"]
