"""Run folders: configs, training with checkpoints and exact resume, and what a run gives back.

Its modules::

    config.py       config.json: every setting of a run (defaults from aevb.defaults),
                    the data it selects
    folder.py       Run, start, resume (interrupt and resume a run exactly)
    evaluation.py   load_run, the one reader of a run folder, and log p(x) (aevb evaluate)

The methods a run can train are in :mod:`aevb.methods`; the file formats in :mod:`aevb.io`.
"""
from . import config, evaluation, folder  # noqa: F401
from .config import ARCHITECTURE, N_TRAIN_EVAL, check_threads, load_data, make_config, n_train, read_config  # noqa: F401,E501
from .evaluation import evaluate_likelihood, load_params, load_run  # noqa: F401
from .folder import (DIVERGED_NATS, RUN_FILES, DivergedError, FolderBusy, ResultsAtRisk,  # noqa
                     Run, RunError, check_resumable, lock_folder, resume, start)

__all__ = ["Run", "RunError", "DivergedError", "FolderBusy", "ResultsAtRisk", "check_resumable",
           "lock_folder", "start",
           "resume", "make_config", "read_config",
           "load_data", "n_train", "check_threads", "load_params", "load_run",
           "evaluate_likelihood", "RUN_FILES", "N_TRAIN_EVAL", "ARCHITECTURE", "DIVERGED_NATS",
           "config", "evaluation", "folder"]
