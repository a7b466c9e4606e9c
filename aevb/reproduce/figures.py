"""The paper's Figures 2 to 5 and a comparison table, drawn from the run folders of a sweep.

Every number comes from the run folders that :mod:`aevb.reproduce.sweep` trains
(``log.jsonl``, ``likelihood-curve.jsonl``, ``params.npz``); the paper's
values come from ``aevb/reproduce/paper/figure2.csv`` and ``figure3.csv``, read from the
vector paths of the paper's PDF (arXiv 1312.6114v10; their headers give the
accuracy), and are labelled as read from the paper's plots. matplotlib is
imported only inside the functions that draw.
"""
import csv
from pathlib import Path

import numpy as np

from .. import runs
from ..io import checkpoint as ckpt
from ..plotting import image_grid, latent_grid
from .engines import CURVE_FILE, finished, seen
from .spec import HIDDEN, METHODS

PAPER_DIR = Path(__file__).parent / "paper"
TABLE_AT = (10**6, 10**7, 10**8)
COLORS = {"aevb": "tab:red", "wake-sleep": "tab:blue", "mcem": "tab:green"}
SPLIT_STYLE = {"train": ("-", "o"), "test": ("--", "s")}
PAPER_NOTE = "markers: the paper's values, read from its plots (arXiv 1312.6114v10)"


def paper_values(name):
    """Rows of ``aevb/reproduce/paper/<name>.csv`` as dicts, numbers converted."""
    with open(PAPER_DIR / f"{name}.csv") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    for r in rows:
        for k, v in r.items():
            if k in ("n_latent", "n_train", "samples"):
                r[k] = int(v)
            elif k not in ("dataset", "method", "split"):
                r[k] = float(v)
    return rows


def _pyplot():
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def curves(out, entry):
    """{split: (samples, values)} of one run: the bound (log.jsonl) or Figure 3's log p(x)."""
    folder = Path(out) / entry["folder"]
    if "figure3" in entry["figures"]:
        recs, key = ckpt.read_log(folder / CURVE_FILE), "{}_log_px"
    else:
        recs, key = ckpt.read_log(folder / "log.jsonl"), "{}_bound"
    return {s: (np.array([r["samples"] for r in recs]),
                np.array([r[key.format(s)] for r in recs])) for s in ("train", "test")}


def _entries(manifest, figure):
    return [e for e in manifest["runs"].values() if figure in e["figures"]]


def _panel(ax, out, entries, paper_rows, xmin, marker=None):
    lo, hi = [], []
    for e in entries:
        for split, (x, y) in curves(out, e).items():
            keep = x >= xmin
            ls, _ = SPLIT_STYLE[split]
            ax.plot(x[keep], y[keep], ls, color=COLORS[e["method"]], lw=1.2, marker=marker,
                    ms=4)
            lo.extend(y[keep]), hi.extend(y[keep])
    for r in paper_rows:
        ax.plot(r["samples"], r["value"], SPLIT_STYLE[r["split"]][1], mfc="none", ms=5,
                color=COLORS[r["method"]])
        lo.append(r["value"]), hi.append(r["value"])
    ax.set_xscale("log")
    if lo:
        pad = 0.05 * (max(hi) - min(lo) + 1e-9)
        ax.set_ylim(min(lo) - pad, max(hi) + pad)


def _legend(ax, methods):
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], ls=ls, color=COLORS[m], label=f"{m} ({split})")
               for m in METHODS if m in methods for split, (ls, _) in SPLIT_STYLE.items()]
    handles += [Line2D([], [], ls="none", marker=mk, mfc="none", color="k",
                       label=f"paper ({split})") for split, (_, mk) in SPLIT_STYLE.items()]
    ax.legend(handles=handles, fontsize=6)


def _reached(out, entries):
    return ", ".join(sorted({f"{runs_reached(out, e):.0e}" for e in entries}))


def runs_reached(out, e):
    x, _ = curves(out, e)["test"]
    return int(x.max()) if len(x) else 0


def figure2(out, manifest, path):
    """Figure 2: a panel per (dataset, N_z), the bound against samples (log x), train and test."""
    plt = _pyplot()
    entries = _entries(manifest, "figure2")
    paper = paper_values("figure2")
    datasets = [d for d in ("mnist", "frey") if any(e["dataset"] == d for e in entries)]
    cols = max(len({e["n_latent"] for e in entries if e["dataset"] == d}) for d in datasets)
    size = (max(3.2 * cols, 8), 3.2 * len(datasets))
    fig, axes = plt.subplots(len(datasets), cols, figsize=size, squeeze=False)
    for row, d in zip(axes, datasets):
        nzs = sorted({e["n_latent"] for e in entries if e["dataset"] == d})
        for ax, nz in zip(row, nzs):
            mine = [e for e in entries if e["dataset"] == d and e["n_latent"] == nz]
            rows = [dict(r, value=r["bound"]) for r in paper if r["dataset"] == d
                    and r["n_latent"] == nz and r["method"] in {e["method"] for e in mine}]
            top = max(runs_reached(out, e) for e in mine)
            _panel(ax, out, mine, rows, 1e5 if top >= 1e6 else 0)
            ax.set_title(f"{'MNIST' if d == 'mnist' else 'Frey Face'}, $N_z$ = {nz}",
                         fontsize=9)
            ax.set_xlabel("# training samples evaluated", fontsize=8)
            ax.set_ylabel("L (nats per datapoint)", fontsize=8)
        for ax in row[len(nzs):]:
            ax.axis("off")
    _legend(axes[0, 0], {e["method"] for e in entries})
    fig.suptitle(f"Figure 2: lower bound; lines: this sweep (budgets reached: "
                 f"{_reached(out, entries)}; {entries[0]['dtype']})\n{PAPER_NOTE}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figure3(out, manifest, path):
    """Figure 3: Appendix D log p(x) on 1000 train / test points, N_train 1000 and 50000."""
    plt = _pyplot()
    entries = _entries(manifest, "figure3")
    paper = paper_values("figure3")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, n in zip(axes, (1000, 50000)):
        mine = [e for e in entries if (e["n_train"] or 50000) == n]
        rows = [dict(r, value=r["log_px"]) for r in paper if r["n_train"] == n
                and r["method"] in {e["method"] for e in mine}]
        _panel(ax, out, mine, rows, 0, marker=".")    # a few estimates per curve
        ax.set_title(f"MNIST, $N_{{train}}$ = {n}" + ("" if mine else " (no runs yet)"),
                     fontsize=9)
        ax.set_xlabel("# training samples evaluated", fontsize=8)
        ax.set_ylabel("marginal log-likelihood (nats)", fontsize=8)
        if mine:
            _legend(ax, {e["method"] for e in mine})
    fig.suptitle(f"Figure 3 (N_z = 3, 100 hidden, Appendix D estimator); lines: this sweep "
                 f"(budgets reached: {_reached(out, entries) or 'none'})\n{PAPER_NOTE}",
                 fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _image_panels(out, entries, path, title, images_of):
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(entries), figsize=(max(4.2 * len(entries), 8), 5),
                             squeeze=False)
    for ax, e in zip(axes[0], entries):
        vae = runs.load_run(Path(out) / e["folder"])
        config = runs.read_config(Path(out) / e["folder"])
        shape = (28, 28) if config["dataset"] == "mnist" else (28, 20)
        images, n_cols, what = images_of(vae, config)
        ax.imshow(image_grid(np.clip(images, 0, 1), shape, n_cols), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{config['dataset']}, $N_z$ = {config['n_latent']}: {what}\n"
                     f"{seen(Path(out) / e['folder']):.0e} training samples", fontsize=9)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figure4(out, manifest, path):
    """Figure 4: decoder means on an n x n grid of inverse-CDF midpoints (Frey 10, MNIST 20)."""
    entries = sorted(_entries(manifest, "figure4"), key=lambda e: e["dataset"] != "frey")

    def images(vae, config):
        n = 20 if config["dataset"] == "mnist" else 10
        return vae.decode(latent_grid(n)), n, f"{n} x {n} manifold"
    return _image_panels(out, entries, path, "Figure 4: learned 2-D manifolds "
                         "(grid midpoints (i + 0.5)/n through the Gaussian inverse CDF)", images)


def figure5(out, manifest, path):
    """Figure 5: 100 decoder means of z ~ N(0, I) per MNIST model, N_z = 2, 5, 10, 20."""
    entries = sorted(_entries(manifest, "figure5"), key=lambda e: e["n_latent"])

    def images(vae, config):
        return vae.sample(100, rng=[config["seed"], 5]), 10, "samples"
    return _image_panels(out, entries, path, "Figure 5: random samples (decoder means)", images)


def paper_at(points, at):
    """The paper's value at ``at`` samples: its point within 10 % of ``at`` in x, else None.

    The curves read from the PDF end at, e.g., 9.77 x 10^7 rather than 10^8.
    """
    near = [x for x in points if abs(np.log(x / at)) < np.log(1.1)]
    return points[min(near, key=lambda x: abs(np.log(x / at)))] if near else None


def table(out, manifest):
    """Rows of ours against the paper at 10^6, 10^7, 10^8 (and the budget reached) per curve.

    The paper's column is filled only for the paper's model (its hidden units).
    """
    paper = {}
    for r in paper_values("figure2"):
        key = ("figure2", r["dataset"], r["n_latent"], r["method"], r["split"], None)
        paper.setdefault(key, {})[r["samples"]] = r["bound"]
    for r in paper_values("figure3"):
        key = ("figure3", "mnist", 3, r["method"], r["split"], r["n_train"])
        paper.setdefault(key, {})[r["samples"]] = r["log_px"]
    rows = []
    for e in sorted(manifest["runs"].values(), key=lambda e: (e["dataset"], e["n_latent"],
                                                            e["method"], e["n_train"] or 0)):
        for fig in (f for f in ("figure2", "figure3") if f in e["figures"]):
            data = curves(out, dict(e, figures=[fig]))
            same_model = e["n_hidden"] == (100 if fig == "figure3" else HIDDEN[e["dataset"]])
            for split in ("train", "test"):
                xs, ys = data[split]
                reached = int(xs.max()) if len(xs) else 0
                n_train = (e["n_train"] or 50000) if fig == "figure3" else None
                points = paper.get((fig, e["dataset"], e["n_latent"], e["method"], split,
                                    n_train), {}) if same_model else {}
                for at in sorted(set(TABLE_AT) | ({reached} if reached else set())):
                    ours = next((float(y) for x, y in zip(xs, ys) if x == at), None)
                    theirs = paper_at(points, at)
                    rows.append({"figure": fig, "dataset": e["dataset"],
                                 "n_latent": e["n_latent"], "n_hidden": e["n_hidden"],
                                 "n_train": n_train or "", "method": e["method"],
                                 "split": split, "samples": at, "ours": ours, "paper": theirs,
                                 "difference": None if ours is None or theirs is None
                                 else ours - theirs, "reached": reached})
    return rows


def write_table(out, manifest):
    """table.csv (full precision) and table.md (one decimal); returns both paths."""
    rows = table(out, manifest)
    out = Path(out)
    cols = list(rows[0]) if rows else ["figure"]
    with open(out / "table.csv", "w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    fmt = lambda v: "—" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))  # noqa
    md = ["Ours against the paper (paper: read from its plots, about +-0.3 nats MNIST, +-5 "
          "Frey Face, +-0.5 Figure 3). Figure 2: lower bound; Figure 3: Appendix D log p(x); "
          "nats per datapoint. 'reached': samples the run has been trained to.", "",
          "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    md += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    (out / "table.md").write_text("\n".join(md) + "\n")
    return [out / "table.csv", out / "table.md"]


def draw(out, figures, manifest):
    """Draw each of ``figures`` that has finished runs, and the table; returns the paths."""
    out = Path(out)
    draw_one = {"figure2": figure2, "figure3": figure3, "figure4": figure4, "figure5": figure5}
    paths = []
    for fig in figures:
        entries = _entries(manifest, fig)
        ready = [e for e in entries if (out / e["folder"] / "log.jsonl").is_file()
                 and (fig in ("figure2", "figure3") or finished(out / e["folder"]))]
        if ready:
            sub = {"runs": {e["folder"]: e for e in ready}}
            paths.append(draw_one[fig](out, sub, out / f"{fig}.png"))
    if manifest.get("step_sizes"):
        from .stepsize import table as step_size_table
        (out / "step-sizes.md").write_text(step_size_table(manifest["step_sizes"]))
        paths.append(out / "step-sizes.md")
    return paths + write_table(out, manifest)
