"""``aevb reproduce FIGURE ...``: the command line of :mod:`aevb.reproduce`."""
import os

from ..reproduce.spec import DTYPE, FIGURES, check_choices
from ..reproduce.sweep import DEFAULT_OUT
from . import types as argtypes


def add_parser(subparsers):
    """``aevb reproduce FIGURE ...`` (registered through aevb.cli.main.EXTENSIONS)."""
    r = subparsers.add_parser("reproduce", help="train and draw the paper's Figures 2-5 "
                              "(a resumable sweep on local cores or a Dask cluster)")
    r.add_argument("figure", help="figure2, figure3, figure4, figure5 or all")
    r.add_argument("--out", default=DEFAULT_OUT,
                   help=f"sweep folder (default: ./{DEFAULT_OUT}; the committed results were "
                   f"made with --out results)")
    r.add_argument("--budget", type=argtypes.budget, default=None,
                   help="training samples per curve (default: the paper's: 1e8 for Figure 2, "
                   "6e7 for Figure 3, 1e7 for the models of Figures 4 and 5)")
    r.add_argument("--datasets", nargs="+", default=None, metavar="NAME", help="mnist, frey")
    r.add_argument("--n-latent", nargs="+", type=argtypes.positive_int, default=None, metavar="N_Z")
    r.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                   help="aevb, wake-sleep, mcem")
    r.add_argument("--n-hidden", type=argtypes.positive_int, default=None,
                   help="override the paper's hidden units (quick trials only)")
    r.add_argument("--dtype", choices=("float32", "float64"), default=DTYPE,
                   help="default float32 (about twice as fast as float64)")
    r.add_argument("--checkpoint-every", type=argtypes.positive_int, default=None,
                   help="training samples between checkpoints (default 1e6, or 1/10 of the "
                   "budget if smaller): at most this much is lost per run if killed")
    r.add_argument("--jobs", type=int, default=None,
                   help=f"local processes (default: the machine's {os.cpu_count()} cores)")
    r.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a Dask scheduler (tcp://host:8786) instead of local processes "
                   "(then --jobs is not used: each worker thread trains one run)")
    r.add_argument("--step-size", choices=("rule", "fixed"), default=None,
                   help="rule: choose each run's Adagrad step size from 0.01, 0.02, 0.1 by its "
                   "training bound at 5e5 samples, as the paper did (Section 5); fixed: the "
                   "dataset's default (0.01 MNIST, 0.02 Frey Face). Default: the sweep "
                   "folder's own, rule for a new one")
    r.add_argument("--data-dir", default=None)
    r.add_argument("--offline", action="store_true", help="never download")
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--draw-only", action="store_true",
                   help="train nothing: draw the figures and the table from the run folders "
                   "as they are (for example while a sweep is training)")
    r.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args):
    figures = FIGURES if args.figure == "all" else check_choices("figure", args.figure,
                                                                 FIGURES + ("all",))
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be a whole number >= 1, got {args.jobs}")
    every = {"checkpoint_every": args.checkpoint_every} if args.checkpoint_every else {}
    from ..reproduce.sweep import sweep
    return sweep(figures, args.out, jobs=args.jobs, scheduler=args.scheduler,
                 data_dir=args.data_dir, download=False if args.offline else None,
                 progress=not args.no_progress, budget=args.budget, datasets=args.datasets,
                 n_latent=args.n_latent, methods=args.methods, n_hidden=args.n_hidden,
                 dtype=args.dtype, train=not args.draw_only, step_size=args.step_size, **every)
