"""``aevb adversarial ...``: the command line of :mod:`aevb.adversarial` (Szegedy et al. 2014)."""
import numpy as np


def add_parser(subparsers):
    """``aevb adversarial table1|table2|attack``; registered through ``aevb.cli.EXTENSIONS``."""
    p = subparsers.add_parser("adversarial", help="adversarial examples of Szegedy et al. "
                              "(arXiv 1312.6199): Tables 1 and 2 on MNIST")
    sub = p.add_subparsers(dest="table", required=True)
    t1 = sub.add_parser("table1", help="train the models, attack them, write Table 1 "
                        "(errors, mean minimum distortion), the examples and a figure")
    t1.add_argument("--out", required=True, help="folder for the models, examples and tables")
    t1.add_argument("--vae", default=None, metavar="RUN_DIR",
                    help="an 'aevb train' run folder whose encoder feeds the VAE-softmax "
                    "model (in place of the paper's AE400-10); without it that row is left out")
    t1.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    t1.add_argument("--fc10-epochs", type=int, default=None,
                    help="epochs of the three FC10 models (default: --epochs)")
    t1.add_argument("--n-train", type=int, default=60000,
                    help="first N of the 60,000 MNIST training images (default all)")
    t1.add_argument("--n-examples", type=int, default=150,
                    help="test images to attack per model (default 150)")
    t1.add_argument("--seed", type=int, default=0)
    t1.add_argument("--data-dir", default=None)
    t2 = sub.add_parser("table2", help="cross-model error rates of the adversarial examples "
                        "written by table1, with Gaussian noise as a control")
    t2.add_argument("--out", required=True, help="folder for Table 2")
    t2.add_argument("--models", default=None, metavar="DIR",
                    help="table1's output folder (default: --out)")
    t2.add_argument("--seed", type=int, default=0)
    a = sub.add_parser("attack", help="one adversarial example for one image")
    a.add_argument("--models", required=True, metavar="DIR", help="table1's output folder")
    a.add_argument("--model", required=True, help="a model name in DIR/models.npz")
    a.add_argument("--image", required=True, help=".npy file: one image, 784 values in [0, 1]")
    a.add_argument("--label", type=int, required=True, help="the image's true label")
    a.add_argument("--target", type=int, required=True, help="the label to reach")
    a.add_argument("--out", required=True, help=".npy file for the adversarial image")
    p.set_defaults(func=_run)


def _run(args):
    from pathlib import Path

    from ..adversarial import classifier as C
    from ..adversarial import tables as T
    from ..adversarial.attack import attack
    from ..io import datasets as D
    for name in ("epochs", "fc10_epochs", "n_train", "n_examples"):
        v = getattr(args, name, 1)
        if v is not None and v < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {v}")
    if args.table == "table1":
        vae = T.load_vae_encoder(args.vae) if args.vae else None
        train = D.mnist("train_full", args.data_dir)
        train = D.Dataset(train.images[:args.n_train], train.scale, train.image_shape,
                          train.labels[:args.n_train], "mnist", "train_full")
        T.table1(args.out, train, D.mnist("test", args.data_dir), vae=vae, vae_source=args.vae,
                 epochs=args.epochs, fc10_epochs=args.fc10_epochs, n_examples=args.n_examples,
                 seed=args.seed)
    elif args.table == "table2":
        T.table2(args.out, args.models, seed=args.seed)
    else:
        path = Path(args.models) / "models.npz"
        if not path.is_file():
            raise ValueError(f"{args.models} holds no models.npz; run 'aevb adversarial table1 "
                             f"--out {args.models}' first")
        models = C.load_models(path)
        if args.model not in models:
            raise ValueError(f"no model {args.model!r} in {path}; choose from {list(models)}")
        try:
            x = np.load(args.image, allow_pickle=False).reshape(-1)
        except (OSError, ValueError) as e:
            raise ValueError(f"cannot read {args.image} as a .npy image ({e})") from None
        res = attack(models[args.model], x, args.label, args.target)
        if not res.success:
            print(f"no perturbation found that makes {args.model} say {args.target}")
            return 1
        np.save(args.out, res.x_adv)
        print(f"{args.model} labels the adversarial image {res.predicted} (target "
              f"{args.target}); distortion {res.distortion:.4f}; written to {args.out}")
    return 0
