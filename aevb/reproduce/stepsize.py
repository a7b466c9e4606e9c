"""The paper's step-size rule: each run's Adagrad step size, chosen by its training bound.

Section 5: the global step size was chosen "from {0.01, 0.02, 0.1} based on performance on the
training set in the first few iterations", for each method. The paper does not say how many
iterations are "the first few". We read it as ``SELECT_AT`` = 5 x 10^5 training samples
(5,000 steps of M = 100): at 2 x 10^5, wake-sleep on MNIST N_z = 200 has 0.01 2.2 nats above
0.02 (-178.7 against -180.8; 0.1 diverged), and at 5 x 10^5 0.02 is 10 nats above, the order
it keeps (the candidates' logs in ``results/step-size-rule/runs/``). A run whose
budget is smaller is chosen at its budget.

The candidates are ordinary runs of the sweep, from the same seed, in their own folders
(``NAME-lr0.1``; the dataset's default step size keeps the plain name, so an existing run is
its own candidate): :func:`candidates` makes them, :func:`choose` reads each one's training
bound at ``SELECT_AT`` from its ``log.jsonl`` and keeps the largest. The chosen run goes on
to the budget from there (training is the same whether or not it stopped at 5 x 10^5,
bitwise); the others stay at 5 x 10^5 as the evidence, which the sweep writes to its manifest,
to the chosen run's ``config.json`` (key ``"step_size_rule"``) and to ``step-sizes.md``.
"""
import math
from dataclasses import replace
from pathlib import Path

from ..io import checkpoint as ckpt

STEP_SIZES = (0.01, 0.02, 0.1)     # Section 5
SELECT_AT = 5 * 10**5              # "the first few iterations": our reading (module docstring)
MODES = ("rule", "fixed")          # the rule, or every run at its dataset's default step size


def select_at(spec, at=None):
    """The training samples at which ``spec``'s step size is chosen: ``at`` (default
    ``SELECT_AT``), or its budget if that is smaller."""
    return min(int(SELECT_AT if at is None else at), spec.budget)


def candidates(spec, step_sizes=STEP_SIZES, at=None):
    """One run per step size, trained to :func:`select_at`; no figure draws them."""
    b = select_at(spec, at)
    return [replace(spec, lr=float(lr), budget=b, stages=(), figures=()) for lr in step_sizes]


def measure(method):
    """What a run logs about the training set: the bound, or MCEM's estimate of log p(x) (MCEM
    has no encoder and so no bound; the paper chose its step size on the training set too)."""
    return "train_log_px" if method == "mcem" else "train_bound"


def train_bound_at(folder, at, key="train_bound"):
    """What the run in ``folder`` logged about the training set (``key``) at ``at`` samples.

    None if it has not been trained that far; NaN if the value was not finite or if the run
    stopped as diverged (:class:`aevb.runs.folder.DivergedError`: a bound more than
    ``DIVERGED_NATS`` below the untrained model's at its last two evaluations) before
    reaching ``at``.
    """
    from ..runs.folder import DIVERGED_NATS
    records = ckpt.read_log(Path(folder) / "log.jsonl")
    for r in records:
        if r.get("samples") == at:
            value = r.get(key)
            return float(value) if isinstance(value, (int, float)) and math.isfinite(value) \
                else float("nan")
    bounds = [r.get(key) for r in records if r.get("samples", at) < at]
    if key == "train_bound" and len(bounds) > 2 and \
            all(isinstance(b, (int, float)) for b in bounds) and \
            max(bounds[-2:]) < bounds[0] - DIVERGED_NATS:    # as the run's own check stops it
        return float("nan")
    return None


def choose(spec, out, step_sizes=STEP_SIZES, at=None, diverged=()):
    """The rule's evidence for ``spec``: every candidate's training bound and the chosen step size.

    Returns a dict with ``select_at``, ``candidates``, ``train_bound`` (step size as text ->
    bound, None where the candidate has not reached ``select_at``), ``chosen`` (the step size
    of the largest finite bound; None while a candidate is missing) and ``folders``.
    A candidate whose bound is not finite, or whose name is in ``diverged`` (runs that stopped
    on a FloatingPointError, as the sweep records them), cannot be chosen; if none is left,
    ValueError.
    """
    runs_dir = Path(out) / "runs"
    b = select_at(spec, at)
    bounds, folders = {}, {}
    for c in candidates(spec, step_sizes, at):
        key = f"{c.lr:g}"
        folders[key] = f"runs/{c.name}"
        bounds[key] = train_bound_at(runs_dir / c.name, b, measure(spec.method))
        if bounds[key] is None and c.name in diverged:
            bounds[key] = float("nan")
    evidence = {"rule": "Section 5: the step size of the best training-set value",
                "measure": measure(spec.method),
                "select_at": b, "candidates": [float(s) for s in step_sizes],
                "train_bound": {k: (None if v is None or math.isnan(v) else round(v, 4))
                                for k, v in bounds.items()},
                "diverged": sorted(k for k, v in bounds.items() if v is not None and math.isnan(v)),
                "chosen": None, "folders": folders}
    if any(v is None for v in bounds.values()):
        return evidence
    finite = {k: v for k, v in bounds.items() if not math.isnan(v)}
    if not finite:
        raise ValueError(f"{spec.name}: every step size of {list(step_sizes)} diverged before "
                         f"{b} samples, so the rule cannot choose one; give --step-size fixed")
    evidence["chosen"] = float(max(finite, key=finite.get))
    return evidence


def table(evidence_by_run):
    """``step-sizes.md``: one row per run, the training bound of each step size, the chosen one."""
    sizes = sorted({s for e in evidence_by_run.values() for s in e["candidates"]})
    head = ["run", "chosen at (samples)", *[f"L train, {s:g}" for s in sizes], "chosen"]
    lines = ["The paper's step-size rule (Section 5): each run's Adagrad step size is the one of "
             "{0.01, 0.02, 0.1} with the best training bound after the first samples "
             "(`aevb.reproduce.stepsize`). Nats per datapoint, float32, seed 0; 'diverged': "
             "the bound was not finite.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in sorted(evidence_by_run):
        e = evidence_by_run[name]
        cells = []
        for s in sizes:
            v = e["train_bound"].get(f"{s:g}")
            cells.append("diverged" if f"{s:g}" in e.get("diverged", ()) else
                         "—" if v is None else f"{v:.2f}")
        chosen = "—" if e["chosen"] is None else f"{e['chosen']:g}"
        lines.append(f"| {name} | {e['select_at']} | " + " | ".join(cells) + f" | {chosen} |")
    return "\n".join(lines) + "\n"
