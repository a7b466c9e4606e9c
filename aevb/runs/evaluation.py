"""What a run folder gives back: its parameters, a fitted model, and log p(x) (``aevb evaluate``).

:func:`load_run` is the one reader of a run folder: figures, the
adversarial tables and ``aevb evaluate`` all go through it (or through
:func:`load_params`, which it uses). :func:`evaluate_likelihood` estimates
the marginal likelihood of the first 1,000 points of each split (Figure 3,
Appendix D) and writes it into the folder.
"""
import time
from pathlib import Path

import numpy as np

from .. import methods
from ..inference.fullvb import WeightPosterior
from ..io import checkpoint as ckpt
from ..io import datasets as D
from ..io.checkpoint import write_json
from ..models import VAE
from .config import load_data, n_train, read_config

ELBO_DRAWS = 100             # aevb evaluate: noise draws per point for the ELBO it prints


def load_params(out):
    """(encoder, decoder, source) of a run: params.npz if finished, else its checkpoint.

    ``source`` says which: ``"params.npz"`` or ``"checkpoint.npz at N training samples"``.
    """
    out = Path(out)
    if (out / "params.npz").is_file():
        return (*ckpt.load_params(out / "params.npz"), "params.npz")
    if (out / "checkpoint.npz").is_file():
        enc, dec, state, _ = ckpt.load(out / "checkpoint.npz")
        return enc, dec, f"checkpoint.npz at {state['seen']} training samples"
    raise ckpt.CheckpointError(f"{out} holds neither params.npz nor checkpoint.npz")


def load_run(out):
    """The fitted model of run folder ``out``: a :class:`aevb.VAE <aevb.models.vae.VAE>`,
    ``WakeSleep``, ``MCEM`` or ``FullVB``.

    The class is the run's method's (:data:`aevb.methods.METHODS`), its
    settings the run's config.json; the parameters are ``params.npz`` when the
    run is finished, else its last checkpoint, and ``n_samples_seen_`` says
    how far it was trained. An MCEM run's chains and a full-VB run's
    q(theta) come from the checkpoint.

    Examples
    --------
    >>> import aevb, tempfile
    >>> from aevb import runs
    >>> folder = tempfile.mkdtemp()
    >>> run = runs.start(folder, runs.make_config("frey", n_latent=2, n_hidden=8, budget=200))
    >>> run.run(progress=False, echo=lambda *a: None)
    0
    >>> vae = aevb.load_run(folder)
    >>> type(vae).__name__, vae.n_samples_seen_
    ('VAE', 200)
    """
    out = Path(out)
    config = read_config(out)
    enc, dec, source = load_params(out)
    model = methods.model_from_config(config)
    state, meta = None, {}
    if (out / "checkpoint.npz").is_file():
        _, _, state, meta = ckpt.load(out / "checkpoint.npz")
    seen = state["seen"] if state is not None else config["budget"]
    model._set_fitted(enc, dec, seen)
    extra = (state or {}).get("extra") or {}
    if config["method"] == "mcem" and "z" in extra:
        model.chains_, model.step_sizes_ = extra["z"], extra["step_size"]
    if config["method"] == "full-vb":
        if "logvar.W_h" not in extra:
            raise ckpt.CheckpointError(f"{out} has no checkpoint with q(theta)'s variances: a "
                                       f"full-VB run is read from its checkpoint.npz")
        model.weight_posterior_ = WeightPosterior(dec, ckpt.container(type(dec).__name__,
                                                                      "logvar", extra))
        model.n_train_ = n_train(config)
    model.source_ = source
    return model


def evaluate_likelihood(out, estimator="is", *, splits=("test",), n_points=1000,
                        n_samples=None, paper=False, seed=0, data_dir=None, download=None,
                        echo=None):
    """Estimate log p(x) on the first ``n_points`` of each split; write likelihood-EST[-paper].json.

    ``estimator`` is ``is`` (importance sampling, K = ``n_samples``, default
    5000) or ``hmc`` (Appendix D, ``n_samples`` posterior samples, default
    1000; ``paper=True`` uses the paper's settings). MNIST points are
    binarized once with a seed (the test set exactly as during training).
    For an MCEM run (no encoder) one chain of each training point starts
    from MCEM's own chain for it and the others from the prior; test points
    have no such chain, so all of theirs start from the prior. ``echo`` (``print`` on the
    command line) is told when each split starts, with what it will do.
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
    model = load_run(out)
    enc, dec, source = model.encoder_params_, model.decoder_params_, model.source_
    if estimator == "hmc":    # Appendix D keeps every posterior sample: (n_samples, n_points, J)
        settings = dict(LK.PAPER) if paper else {"n_samples": n_samples or 1000,
                                                 "n_chains": LK.N_CHAINS}
        model._check_memory(what=f"estimate log p(x) from {settings['n_samples']} posterior "
                                 f"samples of {n_points} points", batch_size=0,
                            score_rows=n_points, score_samples=settings["n_chains"],
                            posterior_samples=settings["n_samples"],
                            names={"posterior_samples": "number of samples (--n-samples)",
                                   "score_rows": "number of points (--n-points)"})
    train, test, _ = load_data(config, data_dir, download)
    sigmoid = model._sigmoid
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
        if echo is not None:
            what = (f"importance sampling, K = {n_samples or 5000}" if estimator == "is" else
                    f"Appendix D, {LK.PAPER['n_samples'] if paper else n_samples or 1000} "
                    f"posterior samples each")
            echo(f"{split}: estimating log p(x) of {len(x)} points ({what}) ...")
        if estimator == "is":
            est = LK.importance_sampled(enc, dec, x, n_samples or 5000, rng, sigmoid)
        else:
            kw = dict(LK.PAPER) if paper else {"n_samples": n_samples or 1000}
            if mcem:
                from ..baselines.mcem import log_likelihood
                z0 = None
                if split == "train":     # MCEM's own chain is one of the candidate starts
                    chains = getattr(model, "chains_", None)
                    z0 = None if chains is None else chains[:len(x)].astype(x.dtype)
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
            # the SGVB bound at the run's decoder (mu_theta for full VB), estimator B
            elbo = VAE.score_samples(model, x, rng=rng, n_mc_samples=ELBO_DRAWS)
            result["splits"][split].update(elbo_mean=float(elbo.mean()),
                                           elbo_draws=ELBO_DRAWS)
    result["file"] = f"likelihood-{estimator}{'-paper' if paper else ''}.json"
    try:
        write_json(out / result["file"], result)
    except OSError as e:
        result["write_error"] = f"could not write {out / result['file']} ({e.strerror})"
    return result
