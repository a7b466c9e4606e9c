"""What ``aevb reproduce`` trains: the runs behind the paper's Figures 2 to 5 (:func:`plan`).

One :class:`RunSpec` per curve: dataset, N_z, hidden units, method, N_train,
budget, and the figures it serves. The sweep (:mod:`.sweep`), the engines
(:mod:`.engines`) and the figures (:mod:`.figures`) read these tables.
"""
from dataclasses import dataclass, field, replace

from .. import methods as all_methods
from .. import runs
from ..defaults import LR, N_HIDDEN
from ..io.datafiles import DATASETS

FIGURES = ("figure2", "figure3", "figure4", "figure5")
METHODS = ("aevb", "wake-sleep", "mcem")       # the methods of Figures 2 and 3
assert set(METHODS) <= set(all_methods.METHODS)
FIGURE2_LATENT = {"mnist": (3, 5, 10, 20, 200), "frey": (2, 5, 10, 20)}
HIDDEN = N_HIDDEN                              # Section 5: 500 (MNIST), 200 (Frey Face)
DEFAULT_BUDGET = {"figure2": 10**8, "figure3": 6 * 10**7, "figure4": 10**7, "figure5": 10**7}
FIG3_STAGES = (10**6, 5 * 10**6, 10**7, 3 * 10**7, 6 * 10**7)   # the paper's points, and 10^6
DTYPE = "float32"        # about twice as fast as float64; figures and table say so
PIXELS = {"mnist": 784, "frey": 560}
# Cost of one training sample relative to AEVB's, for ordering a sweep only (measured with
# benchmarks/bench_baselines.py: wake-sleep 1.3x, MCEM 7.4-8.0x).
METHOD_COST = {"aevb": 1.0, "wake-sleep": 1.3, "mcem": 8.0}


@dataclass
class RunSpec:
    """One curve: a model, a method and a training budget (in samples evaluated)."""
    dataset: str
    n_latent: int
    n_hidden: int
    method: str = "aevb"
    n_train: int = None            # None: the dataset's standard training split
    budget: int = 10**6
    figures: tuple = ()
    stages: tuple = ()             # sample counts with an Appendix D estimate (Figure 3)
    extra: dict = field(default_factory=dict)   # more make_config settings (dtype, ...)
    lr: float = None               # Adagrad's step size; None: the dataset's default

    @property
    def default_lr(self):
        return LR["bernoulli" if self.dataset == "mnist" else "gaussian"]

    @property
    def name(self):
        """The run folder's name; a step size other than the dataset's default is part of it."""
        n = f"-n{self.n_train}" if self.n_train else ""
        lr = f"-lr{self.lr:g}" if self.lr is not None and self.lr != self.default_lr else ""
        return f"{self.dataset}-{self.method}-nz{self.n_latent}-h{self.n_hidden}{n}{lr}"

    def work(self, done=0):
        """A rough cost of training from ``done`` samples to the budget, for ordering only.

        Proportional to the samples left, the method's cost per sample and the size of
        the weight matrices (encoder D x H + H x 2 N_z, decoder N_z x H + H x 2 D at most).
        """
        size = self.n_hidden * (3 * PIXELS.get(self.dataset, 784) + 3 * self.n_latent)
        return max(self.budget - done, 0) * METHOD_COST.get(self.method, 1.0) * size

    def config(self):
        """The run's config from :func:`aevb.runs.config.make_config`; the method only if not aevb."""
        kw = dict(self.extra, n_latent=self.n_latent, n_hidden=self.n_hidden,
                  budget=self.budget)
        if self.method != "aevb":
            kw["method"] = self.method
        if self.n_train is not None:
            kw["n_train"] = self.n_train
        if self.lr is not None:
            kw["lr"] = self.lr
        return runs.make_config(self.dataset, **kw)


def plan(figures, *, budget=None, datasets=None, n_latent=None, methods=None, n_hidden=None,
         **extra):
    """The runs behind ``figures`` after the filters; runs shared by figures are merged.

    ``extra`` are more settings of :func:`aevb.runs.config.make_config` (default: float32, a
    checkpoint every 10^6 samples or a tenth of the budget if less).
    """
    figures = check_choices("figure", figures, FIGURES)
    datasets = check_choices("dataset", datasets or DATASETS, DATASETS)
    methods = check_choices("method", methods or METHODS, METHODS)
    specs = {}

    def add(fig, dataset, nz, method="aevb", hidden=None, n_train=None):
        if dataset not in datasets or method not in methods or (n_latent and nz not in n_latent):
            return
        b = int(budget or DEFAULT_BUDGET[fig])
        stages = tuple(s for s in FIG3_STAGES if s < b) + (b,) if fig == "figure3" else ()
        settings = {"dtype": DTYPE, "checkpoint_every": min(10**6, max(100, b // 10)), **extra}
        s = RunSpec(dataset, nz, n_hidden or hidden or HIDDEN[dataset], method, n_train, b,
                    (fig,), stages, settings)
        old = specs.get(s.name)
        if old:
            s = replace(old, budget=max(old.budget, b), figures=old.figures + (fig,),
                        stages=tuple(sorted(set(old.stages + stages))))
        specs[s.name] = s

    for fig in figures:
        if fig == "figure2":
            for ds, nzs in FIGURE2_LATENT.items():
                for nz in nzs:
                    for m in ("aevb", "wake-sleep"):
                        add(fig, ds, nz, m)
        elif fig == "figure3":
            for n in (1000, None):          # None: the 50,000 training images
                for m in METHODS:
                    add(fig, "mnist", 3, m, 100, n)
        elif fig == "figure4":
            add(fig, "frey", 2)
            add(fig, "mnist", 2)
        else:
            for nz in (2, 5, 10, 20):
                add(fig, "mnist", nz)
    return list(specs.values())


def check_choices(what, given, allowed):
    given = [given] if isinstance(given, str) else list(given)
    bad = [g for g in given if g not in allowed]
    if bad:
        raise ValueError(f"unknown {what} {bad[0]!r}: choose from {', '.join(allowed)}")
    return given
