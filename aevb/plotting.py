"""Figures: image grids (Figures 4 and 5) and the bound against training samples (Figure 2).

matplotlib is imported only inside the functions that draw, so ``import aevb``
stays NumPy-only.
"""
import numpy as np


def image_grid(images, image_shape, n_cols=None, pad=1):
    """Tile images (n, D) into one 2-D array, ``n_cols`` per row, 1-pixel gaps."""
    images = np.asarray(images)
    n = images.shape[0]
    h, w = image_shape
    n_cols = n_cols or int(np.ceil(np.sqrt(n)))
    n_rows = int(np.ceil(n / n_cols))
    grid = np.ones((n_rows * (h + pad) + pad, n_cols * (w + pad) + pad))
    for k in range(n):
        r, c = divmod(k, n_cols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h,
             pad + c * (w + pad): pad + c * (w + pad) + w] = images[k].reshape(h, w)
    return grid


def save_image_grid(path, images, image_shape, n_cols=None):
    """Write a grid of images with values in [0, 1] as a grey-scale PNG."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    grid = image_grid(np.clip(images, 0, 1), image_shape, n_cols)
    plt.imsave(path, grid, cmap="gray", vmin=0.0, vmax=1.0)


def latent_grid(n, dims=2):
    """Figure 4's latent points: grid midpoints (i + 0.5)/n of the unit square
    mapped through the inverse Gaussian CDF, shape (n**2, 2)."""
    from statistics import NormalDist
    u = (np.arange(n) + 0.5) / n
    q = np.array([NormalDist().inv_cdf(float(p)) for p in u])
    zz = np.stack(np.meshgrid(q, q[::-1]), axis=-1)   # first latent across, second up
    return zz.reshape(-1, dims)


def plot_bound_curve(path, records, title=""):
    """Figure 2 style: bound per datapoint against training samples evaluated (log x)."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    drawn = set()
    for key, style in (("train_bound", "-"), ("test_bound", "--"),
                       ("train_log_px", "-"), ("test_log_px", "--")):   # log p(x): MCEM's runs
        pts = [(r["samples"], r[key]) for r in records if r.get(key) is not None]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, style, marker=".", label=key.replace("_bound", ""))
            drawn.add(key.split("_", 1)[1])
    ax.set_xscale("log")
    ax.set_xlabel("# Training samples evaluated")
    ax.set_ylabel("log p(x) (nats per datapoint)" if drawn == {"log_px"}
                  else "L (nats per datapoint)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
