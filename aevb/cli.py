"""The ``aevb`` command: ``aevb train`` (Algorithm 1 on MNIST or Frey Face) and ``aevb data``.

A run folder holds ``config.json`` (every setting, including the data
protocol), ``log.jsonl`` (one JSON object per evaluation: training samples
evaluated, train and test bound, seconds), ``params.npz`` (the final
parameters, named ``encoder.W_h`` ... ``decoder.b_logits``), ``samples.png``
(10 x 10 decoder means of z ~ p(z)) and ``curve.png`` (the bound against
samples evaluated, as in Figure 2).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from . import data as D
from .model import VAE
from .sgvb import ESTIMATORS

DEFAULT_HIDDEN = {"mnist": 500, "frey": 200}      # Section 5
N_TRAIN_EVAL = 10_000                             # train points scored at each evaluation


def _positive_int(text):
    try:
        v = int(float(text))             # accepts 1e6
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if v < 1 or v != float(text):
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number >= 1")
    return v


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not v > 0 or not np.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return v


def build_parser():
    p = argparse.ArgumentParser(prog="aevb", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"aevb {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a VAE with Algorithm 1",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--dataset", choices=D.DATASETS, default="mnist")
    t.add_argument("--n-latent", type=_positive_int, default=20, help="J (N_z in the paper)")
    t.add_argument("--n-hidden", type=_positive_int, default=None,
                   help="H; default 500 for mnist, 200 for frey (Section 5)")
    t.add_argument("--estimator", choices=ESTIMATORS, default="B", help="eq. 6 (A) or eq. 7/10 (B)")
    t.add_argument("--n-mc-samples", type=_positive_int, default=1, help="L")
    t.add_argument("--batch-size", type=_positive_int, default=100, help="M")
    t.add_argument("--optimizer", choices=("adagrad", "sgd", "adam"), default="adagrad")
    t.add_argument("--lr", type=_positive_float, default=None,
                   help="global step size; default 0.01 for mnist, 0.02 for frey")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--budget", type=_positive_int, default=None,
                        help="training samples evaluated (Figure 2's x axis); default 1e6")
    budget.add_argument("--epochs", type=_positive_int, default=None)
    t.add_argument("--binarize", choices=D.BINARIZE, default="dynamic",
                   help="MNIST only: how grey levels become binary pixels")
    t.add_argument("--full-train", action="store_true",
                   help="MNIST: train on all 60,000 images (default: the first 50,000)")
    t.add_argument("--sampling", choices=("shuffle", "replacement"), default="shuffle")
    t.add_argument("--no-weight-decay", action="store_true", help="drop the MAP prior on weights")
    t.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="float32 is about twice as fast")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data-dir", default=None, help="folder with the dataset files "
                   "(else $AEVB_DATA_DIR, else ./data)")
    t.add_argument("--offline", action="store_true", help="never download")
    t.add_argument("--out", required=True, help="run folder to create")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the results in an existing run folder")
    t.add_argument("--no-progress", action="store_true")

    d = sub.add_parser("data", help="show where the datasets are and whether they verify")
    d.add_argument("--data-dir", default=None)
    d.add_argument("--fetch", action="store_true", help="download missing files")
    return p


def _save_params(path, vae):
    arrays = {f"encoder.{k}": v for k, v in vae.encoder_params_.items()}
    arrays.update({f"decoder.{k}": v for k, v in vae.decoder_params_.items()})
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def cmd_train(args):
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise SystemExit(f"aevb train: {out} already holds files; choose another --out "
                         f"or pass --overwrite to replace them")
    download = False if args.offline else None
    if args.dataset == "mnist":
        train = D.mnist("train_full" if args.full_train else "train", args.data_dir, download)
        test = D.mnist("test", args.data_dir, download)
        train = train.with_binarization(args.binarize)
        # the test set is binarized once, with its own seed, so evaluations compare alike
        test = test.with_binarization("none" if args.binarize == "none" else "fixed",
                                      rng=[args.seed, 2])
        likelihood = "bernoulli"
    else:
        train, test = (D.frey_face(s, args.data_dir, download) for s in ("train", "test"))
        likelihood = "gaussian"
    n_hidden = args.n_hidden or DEFAULT_HIDDEN[args.dataset]
    lr = args.lr or (0.01 if args.dataset == "mnist" else 0.02)
    budget = args.epochs * len(train) if args.epochs else (args.budget or 1_000_000)
    vae = VAE(args.n_latent, n_hidden, likelihood, sigmoid_mean=True, estimator=args.estimator,
              n_mc_samples=args.n_mc_samples, batch_size=args.batch_size,
              optimizer=args.optimizer, lr=lr, weight_decay=not args.no_weight_decay,
              budget=budget, sampling=args.sampling, dtype=args.dtype,
              rng=args.seed, progress=not args.no_progress)
    config = {"aevb_version": __version__, "dataset": args.dataset,
              "train_split": train.split, "n_train": len(train), "n_test": len(test),
              "binarize": args.binarize if args.dataset == "mnist" else "none",
              "scale": train.scale, **{k: getattr(vae, k) for k in (
                  "n_latent", "n_hidden", "likelihood", "sigmoid_mean", "estimator",
                  "n_mc_samples", "batch_size", "optimizer", "lr", "weight_decay",
                  "budget", "sampling", "init_std", "dtype")},
              "seed": args.seed, "n_train_eval": min(N_TRAIN_EVAL, len(train))}
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    log_path = out / "log.jsonl"
    log_path.write_text("")
    eval_rng = np.random.default_rng([args.seed, 1])   # evaluation never touches training noise
    train_eval = D.Dataset(train.images[:N_TRAIN_EVAL], train.scale, train.image_shape,
                           name=train.name, split=train.split, binarize=train.binarize)
    records, t0 = [], time.perf_counter()

    def evaluate(v, seen):
        rec = {"samples": seen, "train_bound": v.score(train_eval, rng=eval_rng),
               "test_bound": v.score(test, rng=eval_rng),
               "seconds": round(time.perf_counter() - t0, 2)}
        records.append(rec)
        with open(log_path, "a") as f:
            f.write(json.dumps(rec) + "\n")

    vae.fit(train, callback=evaluate)
    _save_params(out / "params.npz", vae)
    from .plotting import plot_bound_curve, save_image_grid
    save_image_grid(out / "samples.png", vae.sample(100, rng=[args.seed, 3]), train.image_shape, 10)
    plot_bound_curve(out / "curve.png", records,
                     f"{args.dataset}, N_z = {args.n_latent}, {n_hidden} hidden")
    last = records[-1]
    print(f"{last['samples']} training samples evaluated in {last['seconds']:.0f} s: "
          f"train bound {last['train_bound']:.2f}, test bound {last['test_bound']:.2f} "
          f"nats per datapoint ({out})")
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


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return {"train": cmd_train, "data": cmd_data}[args.command](args)
    except (D.DataError, ValueError, FloatingPointError) as e:
        print(f"aevb {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
