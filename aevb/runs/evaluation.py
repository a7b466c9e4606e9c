"""What a run folder gives back: its parameters, a fitted VAE, and log p(x) (``aevb evaluate``).

:func:`load_params` and :func:`load_run` read a finished run's ``params.npz``
(else its last checkpoint); :func:`evaluate_likelihood` estimates the
marginal likelihood of the first 1,000 points of each split (Figure 3,
Appendix D) and writes it into the folder.
"""
import time
from pathlib import Path

import numpy as np

from . import checkpoint as ckpt
from . import data as D
from ..model import VAE
from .config import VAE_SETTINGS, _write_json, load_data, read_config

ELBO_DRAWS = 100             # aevb evaluate: noise draws per point for the ELBO it prints


def load_params(out):
    """(encoder, decoder, source) of a run: params.npz if finished, else its checkpoint."""
    out = Path(out)
    if (out / "params.npz").is_file():
        return (*ckpt.load_params(out / "params.npz"), "params.npz")
    if (out / "checkpoint.npz").is_file():
        enc, dec, state, _ = ckpt.load(out / "checkpoint.npz")
        return enc, dec, f"checkpoint.npz at {state['seen']} training samples"
    raise ckpt.CheckpointError(f"{out} holds neither params.npz nor checkpoint.npz")


def load_run(out):
    """A fitted :class:`aevb.VAE` from run folder ``out`` (params.npz, else its checkpoint).

    Its settings are the run's (config.json); ``n_samples_seen_`` says how far
    it was trained.
    """
    config = read_config(out)
    if config["method"] not in ("aevb", "wake-sleep") or config["posterior"] != "gaussian":
        what = config["method"] if config["posterior"] == "gaussian" else \
            f"{config['posterior']}-posterior"
        raise ValueError(f"{out} is a {what} run: load_run gives a VAE (Gaussian q(z|x)) for "
                         f"aevb and wake-sleep runs only; read its parameters with "
                         f"aevb.runs.load_params")
    enc, dec, source = load_params(out)
    seen = config["budget"]
    if source.startswith("checkpoint"):
        seen = ckpt.load(Path(out) / "checkpoint.npz")[2]["seen"]
    vae = VAE(**{k: config[k] for k in VAE_SETTINGS}, rng=config["seed"])
    return vae._set_fitted(enc, dec, seen)


def _mcem_chains(out):
    """MCEM's persistent chains (N, J) from a run folder's checkpoint: posterior samples of
    the training points, where HMC started from the prior may not find an overfit model's
    narrow posteriors within its burn-in."""
    _, _, state, _ = ckpt.load(Path(out) / "checkpoint.npz")
    return state["extra"]["z"]


def evaluate_likelihood(out, estimator="is", *, splits=("test",), n_points=1000,
                        n_samples=None, paper=False, seed=0, data_dir=None, download=None):
    """Estimate log p(x) on the first ``n_points`` of each split; write likelihood-EST[-paper].json.

    ``estimator`` is ``is`` (importance sampling, K = ``n_samples``, default
    5000) or ``hmc`` (Appendix D, ``n_samples`` posterior samples, default
    1000; ``paper=True`` uses the paper's settings). MNIST points are
    binarized once with a seed (the test set exactly as during training).
    For an MCEM run (no encoder) one chain of each training point starts
    from MCEM's own chain for it and the others from the prior; test points
    have no such chain, so all of theirs start from the prior.
    """
    from ..inference import likelihood as LK
    if estimator not in ("is", "hmc"):
        raise ValueError(f"unknown estimator {estimator!r}: use 'is' or 'hmc'")
    out = Path(out)
    config = read_config(out)
    if config["posterior"] != "gaussian":
        raise ValueError(f"{out} has a {config['posterior']} posterior: aevb evaluate's "
                         f"estimators use a Gaussian q(z|x) (is) or the encoder's means (hmc)")
    mcem = config["method"] == "mcem"
    if mcem and estimator == "is":
        raise ValueError(f"{out} is an MCEM run, which has no encoder to propose from: use "
                         f"--estimator hmc (Appendix D)")
    enc, dec, source = load_params(out)
    train, test, _ = load_data(config, data_dir, download)
    vae = VAE(config["n_latent"], config["n_hidden"], config["likelihood"],
              sigmoid_mean=config["sigmoid_mean"])
    sigmoid = vae._sigmoid
    if not mcem:
        vae._set_fitted(enc, dec)
    result = {"estimator": estimator, "params": source, "seed": seed, "splits": {}}
    rng = np.random.default_rng(seed)
    for split in splits:
        data = {"train": train, "test": test}[split]
        data = D.Dataset(data.images[:n_points], data.scale, data.image_shape,
                         binarize=data.binarize)
        if data.binarize == "dynamic":
            data = data.with_binarization("fixed", rng=[config["seed"], 4])
        x = data.to_float(np.float64)
        t0 = time.perf_counter()
        if estimator == "is":
            est = LK.importance_sampled(enc, dec, x, n_samples or 5000, rng, sigmoid)
        else:
            kw = dict(LK.PAPER) if paper else {"n_samples": n_samples or 1000}
            if mcem:
                from ..baselines.mcem import log_likelihood
                z0 = None
                if split == "train":     # MCEM's own chain is one of the candidate starts
                    z0 = _mcem_chains(out)[:len(x)].astype(x.dtype)
                est = log_likelihood(dec, x, rng, z0=z0, sigmoid_mean=sigmoid, **kw)
            else:
                est = LK.appendix_d(enc, dec, x, rng=rng, sigmoid_mean=sigmoid, **kw)
        seconds = time.perf_counter() - t0
        result["settings"] = est.settings
        result["splits"][split] = {
            "n_points": len(x), "log_px_mean": est.mean, "log_px_sem": est.sem,
            "mc_stderr_mean": float(np.mean(est.stderr)), "seconds": round(seconds, 2),
            **({"start": est.settings["start"]} if mcem else {})}
        if not mcem:                                   # MCEM has no bound
            elbo = vae.score_samples(x, rng=rng, n_mc_samples=ELBO_DRAWS)
            result["splits"][split].update(elbo_mean=float(elbo.mean()),
                                           elbo_draws=ELBO_DRAWS)
    result["file"] = f"likelihood-{estimator}{'-paper' if paper else ''}.json"
    try:
        _write_json(out / result["file"], result)
    except OSError as e:
        result["write_error"] = f"could not write {out / result['file']} ({e.strerror})"
    return result
