"""Tables 1 and 2 of Szegedy et al. (arXiv 1312.6199) on MNIST, and their Figure 5 analogue.

:func:`table1` trains the paper's models (FC10(lambda) for lambda in {1e-4,
1e-2, 1}, FC100-100-10, FC200-200-10) and, in place of the paper's AE400-10,
a softmax on the posterior mean of a trained aevb VAE encoder (a departure:
the paper's autoencoder is not a VAE). It reports train error, test error and
the mean minimum distortion of :func:`aevb.adversarial.attack.attack` on the first
``n_examples`` test images that every model classifies correctly, each with a
target label drawn uniformly from the other nine (the same for every model).

:func:`table2` reads those models and examples back and gives the error rate
of every model on every model's adversarial examples (the diagonal is 100 %
by construction), and on Gaussian noise as a control: noise whose standard
deviation is the row model's own distortion on each image, and the paper's
sigma = 0.1 and 0.3, all clipped to [0, 1].

Files written to ``out``: ``models.npz``, ``examples.npz`` and
``examples.csv`` (every adversarial example with its target, the model's label
of it and its distortion), ``table1.{csv,md}``, ``figure5.png``,
``table2.{csv,md}``.
"""
import csv
import json
from pathlib import Path

import numpy as np

from . import classifier as C
from .attack import attack, distortion

# name, hidden layer sizes, weight decay lambda, the paper's (train error, test error, distortion)
PAPER = {"FC10(1e-4)": (0.067, 0.074, 0.062), "FC10(1e-2)": (0.10, 0.094, 0.1),
         "FC10(1)": (0.212, 0.20, 0.14), "FC100-100-10": (0.0, 0.0164, 0.058),
         "FC200-200-10": (0.0, 0.0154, 0.065), "AE400-10": (0.0057, 0.019, 0.086)}
PIXEL_MODELS = (("FC10(1e-4)", (), 1e-4), ("FC10(1e-2)", (), 1e-2), ("FC10(1)", (), 1.0),
                ("FC100-100-10", (100, 100), 1e-5), ("FC200-200-10", (200, 200), 1e-5))
VAE_MODEL = "VAE-softmax"          # stands in for the paper's AE400-10
NOISE_SIGMAS = (0.1, 0.3)


def load_vae_encoder(path):
    """The encoder (float64) of an aevb run folder (through :func:`aevb.runs.evaluation.load_run`) or of a
    params.npz."""
    from ..io import checkpoint as ckpt
    from ..runs import load_run
    path = Path(path)
    try:
        if path.is_dir():
            if not (path / "params.npz").is_file() and not (path / "checkpoint.npz").is_file():
                raise ValueError(f"{path} holds no trained VAE (neither params.npz nor "
                                 f"checkpoint.npz); train one with 'aevb train --out {path}'")
            model = load_run(path)
            if model.n_samples_seen_ <= 0:
                raise ValueError(f"the VAE in {path} was never trained (its checkpoint is at "
                                 f"0 training samples); run 'aevb train --resume {path}'")
            if model.encoder_params_ is None:
                raise ValueError(f"{path} is an MCEM run, which has no encoder; pass a run "
                                 f"folder of 'aevb train' (aevb or wake-sleep) to --vae")
            return model.encoder_params_.astype(np.float64)
        return ckpt.load_params(path)[0].astype(np.float64)
    except (ckpt.CheckpointError, FileNotFoundError) as e:
        raise ValueError(f"cannot read a VAE encoder from {path} ({e}); pass a run folder "
                         f"of 'aevb train' to --vae") from None


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _write_md(path, header, rows, notes):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    Path(path).write_text("\n".join(lines) + "\n\n" + "\n".join(notes) + "\n")


def _pct(v):
    return "" if v is None or not np.isfinite(v) else f"{100 * v:.2f} %"


def train_models(train, *, vae=None, epochs=20, fc10_epochs=None, seed=0, echo=print):
    """Train the pixel models (and the VAE-softmax if ``vae``) on ``train``; returns a list."""
    models = []
    specs = list(PIXEL_MODELS) + ([(VAE_MODEL, (), 1e-5)] if vae is not None else [])
    for k, (name, hidden, lam) in enumerate(specs):
        m = C.make_classifier(hidden, lam, encoder=vae if name == VAE_MODEL else None,
                              name=name, rng=[seed, k])
        n_ep = fc10_epochs if (fc10_epochs and not hidden and name != VAE_MODEL) else epochs
        C.fit(m, train, epochs=n_ep, rng=[seed, k, 1])
        m.meta["epochs"] = n_ep
        echo(f"trained {name}: {n_ep} epochs on {len(train)} images")
        models.append(m)
    return models


def pick_examples(models, test, n_examples, seed=0):
    """The first ``n_examples`` test images every model gets right, and a target for each."""
    x = test.batch(slice(None))
    ok = np.all([m.predict(x) == test.labels for m in models], axis=0)
    idx = np.flatnonzero(ok)[:n_examples]
    labels = test.labels[idx].astype(int)
    targets = (labels + np.random.default_rng([seed, 99]).integers(1, 10, idx.size)) % 10
    return idx, x[idx], labels, targets


def table1(out, train, test, *, vae=None, vae_source="", epochs=20, fc10_epochs=None,
           n_examples=150, seed=0, echo=print):
    """Train, attack, and write Table 1, the examples and the figure to ``out``; returns rows."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    models = train_models(train, vae=vae, epochs=epochs, fc10_epochs=fc10_epochs, seed=seed,
                          echo=echo)
    if vae is not None:
        models[-1].meta["vae"] = str(vae_source)
    C.save_models(out / "models.npz", models)
    idx, x, labels, targets = pick_examples(models, test, n_examples, seed)
    arrays = {"test_index": idx, "label": labels, "target": targets, "x": x}
    rows, ex_rows = [], []
    for m in models:
        res = [attack(m, x[i], labels[i], targets[i]) for i in range(len(idx))]
        adv = np.array([r.x_adv for r in res])
        pred = m.predict(adv) if len(idx) else np.zeros(0, int)   # checked again, as saved
        ok = np.array([r.success for r in res], bool) & (pred == targets)
        dist = np.where(ok, distortion(adv, x), np.nan)
        arrays[f"{m.name}/x_adv"], arrays[f"{m.name}/distortion"] = adv, dist
        arrays[f"{m.name}/success"] = ok
        ex_rows += [(m.name, int(idx[i]), int(labels[i]), int(targets[i]), int(pred[i]),
                     f"{dist[i]:.6f}", f"{res[i].c:.4g}") for i in range(len(idx))]
        tr_err, te_err = C.error_rate(m, train), C.error_rate(m, test)
        rows.append((m.name, tr_err, te_err, float(np.nanmean(dist)) if ok.any() else np.nan,
                     int(ok.sum()), len(idx)))
        echo(f"{m.name}: train error {_pct(tr_err)}, test error {_pct(te_err)}, "
             f"mean distortion {rows[-1][3]:.4f} ({ok.sum()}/{len(idx)} reached the target)")
    np.savez_compressed(out / "examples.npz", **arrays)
    _write_csv(out / "examples.csv", ("model", "test_index", "label", "target",
                                      "predicted", "distortion", "c"), ex_rows)
    header = ("model", "train_error", "test_error", "mean_min_distortion", "n_reached",
              "n_attacked", "paper_train_error", "paper_test_error", "paper_distortion")
    paper = [PAPER.get(r[0] if r[0] != VAE_MODEL else "AE400-10", (None,) * 3) for r in rows]
    _write_csv(out / "table1.csv", header, [(*r, *p) for r, p in zip(rows, paper)])
    md_rows = [(r[0], _pct(r[1]), _pct(r[2]), f"{r[3]:.3f}", f"{r[4]}/{r[5]}",
                _pct(p[0]), _pct(p[1]), p[2]) for r, p in zip(rows, paper)]
    _write_md(out / "table1.md", ("model", "train err", "test err", "mean min. distortion",
                                  "reached", "paper train", "paper test", "paper distortion"),
              md_rows, [f"Trained on {len(train)} MNIST images for {epochs} epochs "
                        f"(FC10: {fc10_epochs or epochs}) with Adam; distortion "
                        f"sqrt(sum r^2 / 784) over the first {len(idx)} test images every "
                        f"model classifies correctly, one random target each.",
                        f"{VAE_MODEL}: softmax on a VAE encoder's posterior mean "
                        f"({vae_source}), in place of the paper's AE400-10.",
                        "Paper values: Szegedy et al. 2014, Table 1 (as quoted by secondary "
                        "sources)."])
    plot_examples(out / "figure5.png", models, arrays,
                  note=f"\n{len(train)} training images, {epochs} epochs (laptop budget)")
    return rows


def plot_examples(path, models, arrays, n_cols=3, note=""):
    """Original / perturbation (magnified) / adversarial for ``n_cols`` images per model.

    ``arrays`` as in ``examples.npz``; writes ``path`` (if given) and returns the figure.
    """
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    n = min(n_cols, len(arrays["test_index"]))
    fig, axes = plt.subplots(len(models), 3 * n, figsize=(1.1 * 3 * n, 1.3 * len(models)),
                             squeeze=False)
    for row, m in enumerate(models):
        for k in range(n):
            x, adv = arrays["x"][k], arrays[f"{m.name}/x_adv"][k]
            r = adv - x
            scale = max(np.abs(r).max(), 1e-12)
            shown = (x, 0.5 + 0.5 * r / scale, adv)
            titles = (f"{arrays['label'][k]}", f"r x{0.5 / scale:.0f}",
                      f"-> {arrays['target'][k]}, d={arrays[f'{m.name}/distortion'][k]:.3f}")
            for j in range(3):
                ax = axes[row, 3 * k + j]
                ax.imshow(shown[j].reshape(28, 28), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(titles[j], fontsize=6)
        axes[row, 0].set_ylabel(m.name, fontsize=6)
    fig.suptitle("original / perturbation (magnified, grey = 0) / adversarial, "
                 f"d = sqrt(sum r^2/784){note}", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


def table2(out, models_dir=None, seed=0, echo=print):
    """Cross-model error rates on the adversarial examples of :func:`table1`; returns the matrix."""
    out, src = Path(out), Path(models_dir or out)
    for name in ("models.npz", "examples.npz"):
        if not (src / name).is_file():
            raise ValueError(f"{src} holds no {name}; run 'aevb adversarial table1 --out {src}' "
                             f"first")
    models = C.load_models(src / "models.npz")
    with np.load(src / "examples.npz", allow_pickle=False) as z:
        ex = {k: z[k] for k in z.files}
    x, labels, names = ex["x"], ex["label"], list(models)
    rng = np.random.default_rng([seed, 2])
    cols = names + ["noise, own distortion"] + [f"noise sigma={s}" for s in NOISE_SIGMAS]
    err = np.full((len(names), len(cols)), np.nan)
    col_dist = np.full(len(cols), np.nan)
    for j, src_name in enumerate(names):
        ok = ex[f"{src_name}/success"]
        col_dist[j] = float(np.mean(ex[f"{src_name}/distortion"][ok]))
        for i, m in enumerate(names):
            err[i, j] = np.mean(models[m].predict(ex[f"{src_name}/x_adv"][ok]) != labels[ok])
    for i, m in enumerate(names):
        ok = ex[f"{m}/success"]
        sig = ex[f"{m}/distortion"][ok][:, None]
        noisy = np.clip(x[ok] + sig * rng.standard_normal(x[ok].shape), 0, 1)
        err[i, len(names)] = np.mean(models[m].predict(noisy) != labels[ok])
        for k, s in enumerate(NOISE_SIGMAS):
            noisy = np.clip(x + s * rng.standard_normal(x.shape), 0, 1)
            err[i, len(names) + 1 + k] = np.mean(models[m].predict(noisy) != labels)
            col_dist[len(names) + 1 + k] = float(np.mean(distortion(noisy, x)))
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "table2.csv", ["model \\ examples of", *cols],
               [[n, *[f"{v:.4f}" for v in err[i]]] for i, n in enumerate(names)]
               + [["mean distortion", *[f"{v:.4f}" for v in col_dist]]])
    _write_md(out / "table2.md", ["model \\ adversarial examples of", *cols],
              [[n, *[_pct(v) for v in err[i]]] for i, n in enumerate(names)]
              + [["mean distortion", *["" if not np.isfinite(v) else f"{v:.3f}"
                                       for v in col_dist]]],
              [f"Error rate of each row's model on the adversarial examples made for each "
               f"column's model ({len(x)} test images, from {src}/examples.npz); the diagonal "
               f"is 100 % by construction.",
               "Noise columns: Gaussian noise, clipped to [0, 1]; 'own distortion' uses, per "
               "image, the row model's own minimum distortion as the standard deviation.",
               f"Models: {json.dumps({n: models[n].meta for n in names})}"])
    for i, n in enumerate(names):
        echo(f"{n}: " + ", ".join(f"{c} {_pct(v)}" for c, v in zip(cols, err[i])))
    return err
