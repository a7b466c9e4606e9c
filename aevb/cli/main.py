"""The ``aevb`` command: ``train`` (Algorithm 1), ``evaluate`` (log p(x)), ``data``, and the
subcommands of ``EXTENSIONS`` (``reproduce``, ``adversarial``, ``exercises``).

``aevb train --out RUN_DIR`` starts a run; ``aevb train --resume RUN_DIR``
continues one from its last checkpoint (:mod:`aevb.runs` describes the
folder). Errors in the input are one line on stderr and exit status 2; a run
that fails while training exits with 1 and keeps its last good checkpoint;
Ctrl-C or SIGTERM checkpoint and exit with 130 or 143.
"""
import argparse
import importlib
import sys
from pathlib import Path

from .. import defaults as DF
from .. import methods, runs
from ..core.sgvb import ESTIMATORS
from ..inference.posterior import POSTERIORS
from ..io import datasets as D
from ..io.checkpoint import CheckpointError
from ..methods import FULL_VB_SETTINGS as FULL_VB
from ..methods import METHODS
from ..version import __version__
from . import types as argtypes

# Modules that add a subcommand of their own: each defines ``add_parser(subparsers)``,
# which adds its parser and sets ``func`` (args -> exit status) with set_defaults.
EXTENSIONS = ("aevb.cli.reproduce", "aevb.cli.adversarial", "aevb.exercises")

# Settings of a run (aevb.defaults); with --resume they come from the run's config.json instead.
SETTINGS = {"dataset": "mnist", "n_latent": DF.N_LATENT, "n_hidden": None,
            "estimator": DF.ESTIMATOR, "n_mc_samples": DF.N_MC_SAMPLES,
            "batch_size": DF.BATCH_SIZE, "optimizer": DF.OPTIMIZER, "lr": None,
            "adagrad_warmup": DF.ADAGRAD_WARMUP, "method": DF.METHOD,
            "posterior": DF.POSTERIOR, "n_train": None, "binarize": None,
            "test_binarize": None, "full_train": False, "sampling": DF.SAMPLING,
            "weight_decay": DF.WEIGHT_DECAY,
            "dtype": DF.RUN_DTYPE, "seed": DF.SEED, "checkpoint_every": DF.CHECKPOINT_EVERY}

class Parser(argparse.ArgumentParser):
    """argparse, with a wrong command line said in one line instead of the whole usage."""

    def error(self, message):
        """Print ``message`` as one line on stderr, with where to look, and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (`{self.prog} --help` lists the "
                     f"arguments)\n")


def build_parser():
    p = Parser(prog="aevb", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"aevb {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a VAE with Algorithm 1, or resume a run")
    where = t.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="run folder to create")
    where.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its checkpoint")
    S = argparse.SUPPRESS            # defaults filled in later, so --resume can tell what was given
    t.add_argument("--dataset", choices=D.DATASETS, default=S, help="default: mnist")
    t.add_argument("--method", choices=METHODS, default=S,
                   help="aevb (default, Algorithm 1), wake-sleep or mcem (the paper's "
                   "baselines), full-vb (Appendix F)")
    t.add_argument("--posterior", choices=POSTERIORS, default=S,
                   help="q(z|x) for --method aevb: gaussian (default, the paper's) or a "
                   "Section 2.4 family, trained with estimator A")
    t.add_argument("--theta-draws", type=argtypes.positive_int, default=S, metavar="S",
                   help="full-vb: theta draws per minibatch (default 1; M is Algorithm 2's "
                   "one per datapoint, M times the cost)")
    t.add_argument("--init-logvar", type=argtypes.finite_float, default=S,
                   help="full-vb: initial log sigma_theta^2 (default -10)")
    t.add_argument("--logvar-lr", type=argtypes.positive_float, default=S,
                   help="full-vb: Adagrad step size for log sigma_theta^2 (default: --lr)")
    t.add_argument("--n-train", type=argtypes.positive_int, default=S, metavar="N",
                   help="train on the first N training images only (Figure 3: 1000)")
    t.add_argument("--n-latent", type=argtypes.positive_int, default=S, help="J (N_z); default 20")
    t.add_argument("--n-hidden", type=argtypes.positive_int, default=S,
                   help="H; default 500 for mnist, 200 for frey (Section 5)")
    t.add_argument("--estimator", choices=ESTIMATORS, default=S,
                   help="eq. 6 (A) or eq. 7/10 (B, default)")
    t.add_argument("--n-mc-samples", type=argtypes.positive_int, default=S, help="L; default 1")
    t.add_argument("--batch-size", type=argtypes.positive_int, default=S, help="M; default 100")
    t.add_argument("--optimizer", choices=("adagrad", "sgd", "adam"), default=S,
                   help="default: adagrad")
    t.add_argument("--lr", type=argtypes.positive_float, default=S,
                   help="global step size; default 0.01 for mnist, 0.02 for frey")
    t.add_argument("--adagrad-warmup", type=argtypes.whole_number, default=S, metavar="STEPS",
                   help="Adagrad's first steps that only accumulate g^2 (the authors' code); "
                   "default 100, 0 for plain Adagrad")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--budget", type=argtypes.budget, default=None,
                        help="total training samples evaluated (Figure 2's x axis); default 1e6")
    budget.add_argument("--epochs", type=argtypes.positive_int, default=None)
    t.add_argument("--binarize", choices=D.BINARIZE, default=S,
                   help="MNIST: how grey levels become binary pixels; default dynamic")
    t.add_argument("--test-binarize", choices=D.TEST_BINARIZE, default=S,
                   help="MNIST: how the test digits become binary pixels: fixed (default, one "
                   "Bernoulli draw from the run's seed) or threshold (grey level above 0.5)")
    t.add_argument("--full-train", action="store_true", default=S,
                   help="MNIST: train on all 60,000 images (default: the first 50,000)")
    t.add_argument("--sampling", choices=("shuffle", "replacement"), default=S,
                   help="default: shuffle")
    t.add_argument("--no-weight-decay", dest="weight_decay", action="store_false", default=S,
                   help="drop the MAP prior on the weights")
    t.add_argument("--dtype", choices=("float64", "float32"), default=S,
                   help="default float64; float32 is about twice as fast")
    t.add_argument("--seed", type=argtypes.seed, default=S, help="default 0")
    t.add_argument("--checkpoint-every", type=argtypes.positive_int, default=S,
                   help="training samples between checkpoints; default 1e5")
    t.add_argument("--data-dir", default=None, help="folder with the dataset files "
                   "(else $AEVB_DATA_DIR, else the default folder: README, \"Where the data are looked for\")")
    t.add_argument("--offline", action="store_true", help="never download")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the results in an existing run folder")
    t.add_argument("--debug-nans", action="store_true",
                   help="make NumPy raise at the first overflow or invalid operation")
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--threads", type=argtypes.positive_int, default=1,
                   help="cores to use: 1 (default) = one BLAS thread, updates in turn; N >= 2 "
                   "= N-1 BLAS threads and the decoder's update on a helper thread")

    e = sub.add_parser("evaluate", help="estimate log p(x) for a run (importance sampling "
                       "or the Appendix D HMC estimator)")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--estimator", choices=("is", "hmc"), default="is")
    e.add_argument("--splits", nargs="+", choices=("train", "test"), default=["test"])
    e.add_argument("--n-points", type=argtypes.positive_int, default=1000,
                   help="first N points of each split (the paper: 1000)")
    e.add_argument("--n-samples", type=argtypes.positive_int, default=None,
                   help="K for is (default 5000); posterior samples for hmc (default 1000)")
    e.add_argument("--paper", action="store_true",
                   help="hmc: the paper's settings (50 samples, 4 leapfrog steps, a KDE)")
    e.add_argument("--seed", type=argtypes.seed, default=0)
    e.add_argument("--data-dir", default=None)
    e.add_argument("--offline", action="store_true", help="never download")

    d = sub.add_parser("data", help="show where the datasets are and whether they verify")
    d.add_argument("--data-dir", default=None)
    d.add_argument("--fetch", action="store_true", help="download missing files")
    for name in EXTENSIONS:
        importlib.import_module(name).add_parser(sub)
    return p

def cmd_train(args):
    given = {k: v for k, v in vars(args).items() if k in SETTINGS or k in FULL_VB}
    download = False if args.offline else None
    if args.resume:
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise ValueError(f"--resume takes the settings from {args.resume}/config.json; "
                             f"drop {flags} (only --budget or --epochs may change)")
        budget = args.budget
        if args.epochs:
            budget = args.epochs * runs.n_train(runs.read_config(args.resume))
        run = runs.resume(args.resume, budget=budget, data_dir=args.data_dir, download=download,
                          threads=args.threads)
    else:
        settings = {**SETTINGS, **given}
        mnist_only = [k for k in ("binarize", "test_binarize", "full_train") if k in given]
        if settings["dataset"] != "mnist" and mnist_only:
            flags = ", ".join("--" + k.replace("_", "-") for k in mnist_only)
            verb = "are" if len(mnist_only) > 1 else "is"
            raise ValueError(f"{flags} {verb} for --dataset mnist only (Frey Face is grey "
                             f"levels with its own split); drop {'them' if verb == 'are' else 'it'}")
        if settings["posterior"] != "gaussian" and "estimator" not in given:
            settings["estimator"] = "A"            # no closed-form KL: eq. 6 (aevb.methods)
        full_vb = {k: settings.pop(k) for k in FULL_VB if k in settings}
        if full_vb and settings["method"] != "full-vb":
            flags = ", ".join("--" + k.replace("_", "-") for k in full_vb)
            raise ValueError(f"{flags} are for --method full-vb only; drop them")
        config = runs.make_config(**settings, **full_vb, budget=args.budget or DF.BUDGET)
        methods.check_method(config)
        if args.epochs:
            config["budget"] = args.epochs * runs.n_train(config)
        run = runs.start(args.out, config, data_dir=args.data_dir, download=download,
                         overwrite=args.overwrite, threads=args.threads)
    return run.run(progress=not args.no_progress, debug_nans=args.debug_nans)

def cmd_evaluate(args):
    res = runs.evaluate_likelihood(
        args.run_dir, args.estimator, splits=args.splits, n_points=args.n_points,
        n_samples=args.n_samples, paper=args.paper, seed=args.seed, data_dir=args.data_dir,
        download=False if args.offline else None, echo=lambda text: print(text, flush=True))
    for split, r in res["splits"].items():
        elbo = (f"; ELBO {r['elbo_mean']:.2f}, {r['elbo_draws']} draws per point"
                if "elbo_mean" in r else "")
        print(f"{split}: log p(x) = {r['log_px_mean']:.2f} +- {r['log_px_sem']:.2f} nats "
              f"({args.estimator}, {r['n_points']} points, {r['seconds']:.1f} s{elbo})")
    if "write_error" in res:
        print(f"aevb evaluate: error: {res['write_error']}; the result above is not saved",
              file=sys.stderr)
        return 2
    print(f"written to {args.run_dir}/{res['file']}")
    return 0

def cmd_data(args):
    if args.fetch:
        for names in D.FILES.values():
            for name in names:
                D.locate(name, args.data_dir, download=True)
    print("searched, in order: " + ", ".join(str(d) for d in D.search_dirs(args.data_dir)))
    bad = 0
    for dataset, name, found, verdict in D.status(args.data_dir):
        print(f"{dataset:6s} {name:28s} {verdict:10s} {found or ''}")
        bad += verdict != "verified"
    return 1 if bad else 0

def _check_data_dir(args):
    """An explicit --data-dir must exist (else the files would silently come from
    $AEVB_DATA_DIR or the default folder); ``aevb data --fetch`` may create it."""
    data_dir = getattr(args, "data_dir", None)
    if data_dir is not None and not getattr(args, "fetch", False) and \
            not Path(data_dir).expanduser().is_dir():
        raise ValueError(f"the data folder {data_dir} given with --data-dir does not exist: give "
                         f"a folder that holds the dataset files, or leave --data-dir out to "
                         f"use $AEVB_DATA_DIR or the default folder")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        _check_data_dir(args)
        commands = {"train": cmd_train, "evaluate": cmd_evaluate, "data": cmd_data}
        return commands[args.command](args) if args.command in commands else args.func(args)
    except (D.DataError, CheckpointError, ValueError) as e:
        print(f"aevb {args.command}: error: {e}", file=sys.stderr)
        return 2
    except runs.RunError as e:
        print(f"aevb {args.command}: training failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:         # train and reproduce stop cleanly on their own
        print(f"aevb {args.command}: interrupted; nothing was written", file=sys.stderr)
        return 130
    except OSError as e:               # a read-only folder, a full disk: nothing half written
        where = f" {e.filename}" if e.filename else ""
        print(f"aevb {args.command}: error: cannot write{where}: {e.strerror or e}; free some "
              f"space or choose a folder you can write to (files written before are "
              f"unchanged)", file=sys.stderr)
        return 2

if __name__ == "__main__":
    sys.exit(main())
