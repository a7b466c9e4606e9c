"""The pages the site generates from the repository, so that they cannot drift from it.

Written into ``docs/generated/`` (kept out of git) when the builder starts:

- ``api/``: one page per public module of the installed package, found by walking it, and an
  index grouped by subpackage, in the order imports run (the mathematics first);
- ``notebooks/``: a copy of each notebook in ``notebooks/`` (committed without outputs; MyST-NB
  executes the copies), with the notebooks' links to source files turned into links to their API
  pages; ``generated/results`` points at the repository's ``results/`` so that a notebook that
  reads ``../results`` finds it as it does in the repository;
- ``runs.md``: every run of ``results/manifest.json`` with how far it got and its clock;
- ``horizon.md``: the log records past 10^7 samples of the runs that went that far;
- ``departures/``: the pages of ``results/departures/``, one per departure from the paper;
- ``catalogue.md``: the mutation catalogue of ``tests/mutations/catalogue.py``;
- ``bench.md``: the tables of ``benchmarks/results.json``.

A file is rewritten only when its text changes.

It also serves MathJax from the site itself: the files of the ``sphinx-mathjax-offline``
package are copied into ``_static/mathjax`` (that package's own extension is not declared safe
for parallel reading, which would make the notebooks execute one at a time).
"""
import importlib
import importlib.util
import json
import os
import pkgutil
import re
from pathlib import Path

import aevb

DOCS = Path(__file__).resolve().parent.parent
ROOT = DOCS.parent
OUT = DOCS / "generated"

# The order of the API index: downhill, as tests/test_package.py checks the imports run.
GROUPS = [
    ("aevb", "The package: the four model classes and load_run at the top"),
    ("aevb.core", "The paper's mathematics (NumPy only)"),
    ("aevb.inference", "Beyond the bound: log p(x), HMC, other posteriors, full VB"),
    ("aevb.baselines", "The paper's baselines: wake-sleep and Monte Carlo EM"),
    ("aevb.io", "Files: the datasets, checkpoints and logs"),
    ("aevb.models", "The objects people touch"),
    ("aevb.methods", "The registry of training methods"),
    ("aevb.defaults", "The default settings"),
    ("aevb.runs", "Run folders"),
    ("aevb.reproduce", "The paper's figures as sweeps (aevb reproduce)"),
    ("aevb.plotting", "Image grids and curves"),
    ("aevb.adversarial", "The award's runner-up: adversarial examples"),
    ("aevb.exercises", "Course exercises cut from the library"),
    ("aevb.cli", "The aevb command"),
    ("aevb.moved", "Where the names of earlier versions went"),
    ("aevb.version", "The version"),
]


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def public_modules():
    """Every module of the installed package whose dotted name has no private part."""
    names = ["aevb"]
    for info in pkgutil.walk_packages(aevb.__path__, prefix="aevb."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts):
            continue
        names.append(info.name)
    return sorted(names)


def _group_of(name):
    best = None
    for prefix, _ in GROUPS:
        if name == prefix or name.startswith(prefix + "."):
            if best is None or len(prefix) > len(best):
                best = prefix
    if best is None:
        raise RuntimeError(f"module {name} belongs to no group of the API index: add it to "
                           f"GROUPS in docs/_ext/aevb_docs.py")
    return best


def _first_line(name):
    doc = importlib.import_module(name).__doc__ or ""
    line = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    return line.replace("|", "\\|")


def write_api():
    modules = public_modules()
    for name in modules:
        _write(OUT / "api" / f"{name}.md", _module_page(name))
    lines = ["# API reference", "",
             "Every public module of the package, in the order its imports run: each module "
             "imports only from the groups above it (`tests/test_package.py` checks this from "
             "the source). Array shapes are in each function's docstring; `(M, n)` is a "
             "minibatch of M rows.", ""]
    toc = []
    for prefix, title in GROUPS:
        members = [m for m in modules if _group_of(m) == prefix]
        if not members:
            raise RuntimeError(f"GROUPS in docs/_ext/aevb_docs.py names {prefix}, which is "
                               f"not a public module of aevb")
        lines += [f"## {title}", "", "| module | what |", "|---|---|"]
        for m in members:
            lines.append(f"| [`{m}`]({m}.md) | {_first_line(m)} |")
            toc.append(m)
        lines.append("")
    lines += ["```{toctree}", ":hidden:", ""] + toc + ["```", ""]
    _write(OUT / "api" / "index.md", "\n".join(lines))
    return modules


def _module_page(name):
    """A module's page; the top level's names are documented where they are defined."""
    if name != "aevb":
        # a package documents what it defines; what it re-exports has its page where defined
        return (f"# `{name}`\n\n```{{eval-rst}}\n.. automodule:: {name}\n"
                f"   :ignore-module-all:\n```\n")
    rows = []
    for attr in aevb.__all__:
        obj = getattr(aevb, attr)
        if isinstance(obj, type(aevb)):
            rows.append(f"- [`aevb.{attr}`](aevb.{attr}.md)")
        elif callable(obj):
            role = "py:class" if isinstance(obj, type) else "py:func"
            rows.append(f"- {{{role}}}`aevb.{attr} <{obj.__module__}.{obj.__qualname__}>`")
        else:
            rows.append(f"- `aevb.{attr}` = `{obj!r}`")
    return ("# `aevb`\n\n```{eval-rst}\n.. automodule:: aevb\n   :no-members:\n```\n\n"
            "## What `import aevb` gives\n\n" + "\n".join(rows) + "\n")


SOURCE_LINK = re.compile(r"\]\(\.\./aevb/([A-Za-z0-9_/]+?)(?:/__init__)?\.py\)")


def api_links(text, modules):
    """``text`` with its links to the package's files, ``(../aevb/core/sgvb.py)``, turned into
    links to their API pages; a link to a module that is not public raises."""
    def to_api(match):
        name = "aevb." + match.group(1).replace("/", ".")
        if name not in modules:
            raise RuntimeError(f"a notebook links to ../aevb/{match.group(1)}.py, which is "
                               f"not a public module of aevb")
        return f"](../api/{name}.md)"
    return SOURCE_LINK.sub(to_api, text)


def write_notebooks(modules):
    """Copy the notebooks, links to the package's files turned into links to API pages."""
    import nbformat
    src = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not src:
        raise RuntimeError(f"no notebooks found in {ROOT / 'notebooks'}")

    for path in src:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = api_links(cell.source, modules)
        _write(OUT / "notebooks" / path.name, nbformat.writes(nb) + "\n")
    link = OUT / "results"
    if not link.is_symlink():
        link.symlink_to(os.path.relpath(ROOT / "results", OUT), target_is_directory=True)
    return [p.stem for p in src]


def _hours(seconds):
    return "" if seconds is None else f"{seconds / 3600:.2f}"


def write_runs():
    manifest = json.loads((ROOT / "results" / "manifest.json").read_text(encoding="utf-8"))
    rows = ["| run | figures | dtype | trained to | budget | state | hours |",
            "|---|---|---|---|---|---|---|"]
    for name, run in sorted(manifest["runs"].items()):
        rows.append(f"| `results/runs/{name}` | {', '.join(run['figures'])} | {run['dtype']} | "
                    f"{run['samples']:.3g} | {run['budget']:.3g} | {run['state']} | "
                    f"{_hours(run.get('seconds'))} |")
    text = ("Every run of `results/manifest.json`: how far it got (training samples), the "
            "budget it was started with, its state, and its own training clock in hours "
            "(`seconds` in the manifest, measured while other work shared the machine).\n\n"
            + "\n".join(rows) + "\n")
    _write(OUT / "runs.md", text)


def _samples(n):
    """10^7, 2 x 10^7, ... as the rest of the site writes them."""
    exponent = len(str(int(n))) - 1
    lead = int(n) / 10**exponent
    return f"10^{exponent}" if lead == 1 else f"{lead:g} x 10^{exponent}"


def write_horizon():
    """The records past 10^7 samples of every run that went that far, read from its log."""
    manifest = json.loads((ROOT / "results" / "manifest.json").read_text(encoding="utf-8"))
    rows = ["| run | samples | train bound | test bound |", "|---|---|---|---|"]
    for name, run in sorted(manifest["runs"].items()):
        if run["samples"] <= 10**7:
            continue
        log = ROOT / "results" / "runs" / name / "log.jsonl"
        for line in log.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line) if line.strip() else None
            if rec and rec["samples"] >= 10**7 and rec.get("test_bound") is not None:
                rows.append(f"| `{name}` | {_samples(rec['samples'])} | {rec['train_bound']:.1f} | "
                            f"{rec['test_bound']:.1f} |")
    _write(OUT / "horizon.md", "\n".join(rows) + "\n")


def write_departures():
    """The departure pages of ``results/departures/``, copied as they are."""
    pages = sorted((ROOT / "results" / "departures").glob("*.md"))
    if not pages:
        raise RuntimeError("results/departures/ holds no page")
    for page in pages:
        _write(OUT / "departures" / page.name, page.read_text(encoding="utf-8"))


def write_catalogue():
    """The mutation catalogue of ``tests/mutations/catalogue.py`` as a table, with its counts."""
    spec = importlib.util.spec_from_file_location(
        "aevb_mutation_catalogue", ROOT / "tests" / "mutations" / "catalogue.py")
    catalogue = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(catalogue)
    mutations = catalogue.MUTATIONS
    fast = sum(1 for m in mutations if m.tests)
    exercise = sum(1 for m in mutations if m.exercise)
    lines = [f"The catalogue holds {len(mutations)} mutations: {fast} must be caught by the fast "
             f"tests named for them, {exercise} by the checks of the exercise named for them, "
             f"with their diagnosis (some by both).", "",
             "| mutation | in | caught by | why |", "|---|---|---|---|"]
    for m in mutations:
        by = [f"`{t.split('::')[-1]}`" for t in m.tests]
        if m.exercise:
            by.append(f"exercise `{m.exercise}`: \"{m.diagnosis}\"")
        why = m.why.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{m.name}` | `aevb/{m.file}` | {', '.join(by)} | {why} |")
    _write(OUT / "catalogue.md", "\n".join(lines) + "\n")


def write_bench():
    r = json.loads((ROOT / "benchmarks" / "results.json").read_text(encoding="utf-8"))
    m = r["machine"]
    lines = [f"`{r['command']}`, {r['when']}, on a {m['cores']}-core {m['cpu']}, Python "
             f"{m['python']}, NumPy {m['numpy']}, PyTorch {m['torch']} "
             f"(`benchmarks/results.json`). Ratios are taken within each round, medians over "
             f"the rounds; 1.27x means aevb takes 1/1.27 of the other's time.", "",
             "| BLAS threads | dtype | aevb, s/epoch | images/s | fraction of floor speed "
             "| vs PyTorch | vs PyTorch fused | one thread of work: fraction of floor "
             "| one thread of work: vs PyTorch fused | load |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in r["summary"]:
        lines.append(
            f"| {s['threads']} | {s['dtype']} | {s['aevb_s_per_epoch']:.2f} | "
            f"{s['aevb_images_per_s']:,.0f} | {s['fraction_of_floor_speed']:.2f} | "
            f"{s['speedup_vs_torch-default']:.2f}x | {s['speedup_vs_torch-fused']:.2f}x | "
            f"{s['serial_fraction_of_floor_speed']:.2f} | "
            f"{s['serial_speedup_vs_torch-fused']:.2f}x | {s['load']:.1f} |")
    sc = r["scaling"]
    lines += ["", "Scaling, float32, one BLAS thread (seconds per epoch unless said):", "",
              "| what | measured |", "|---|---|",
              "| training images | " + ", ".join(f"{k}: {v:.2f}" for k, v in
                                                 sc["epoch_s_vs_n"].items()) + " |",
              "| hidden units | " + ", ".join(f"{k}: {v:.2f}" for k, v in
                                              sc["epoch_s_vs_hidden"].items()) + " |",
              "| latent units | " + ", ".join(f"{k}: {v:.2f}" for k, v in
                                              sc["epoch_s_vs_latent"].items()) + " |",
              "| one Adagrad step, all parameters (ms) | " + ", ".join(
                  f"{k}: {v:.2f}" for k, v in sc["adagrad_ms_per_step"].items()) + " |",
              f"| scoring the 10,000 test images (s) | {sc['score_10k_test_s']:.2f} |",
              f"| importance-sampled log p(x), K = 5000, 1,000 test images (s) | "
              f"{sc['is_k5000_1000_test_s']:.1f} |",
              f"| peak resident memory, all 60,000 MNIST images, float32 (MB) | "
              f"{r['peak_rss_mb_full_mnist_float32']:.0f} |", ""]
    _write(OUT / "bench.md", "\n".join(lines))


def generate(app):
    modules = write_api()
    write_notebooks(modules)
    write_runs()
    write_horizon()
    write_departures()
    write_catalogue()
    write_bench()


def mathjax_folder():
    """MathJax 3 as the ``sphinx-mathjax-offline`` package ships it."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    folder = spec and Path(spec.origin).parent / "static" / "mathjax"
    if not folder or not (folder / "tex-chtml.js").is_file():
        raise RuntimeError("MathJax not found: pip install sphinx-mathjax-offline "
                           "(pip install \".[docs]\" installs it)")
    return folder


def setup(app):
    folder = mathjax_folder()

    def copy_mathjax(app, exc):
        if exc is None:
            from sphinx.util.fileutil import copy_asset
            copy_asset(os.fspath(folder), os.path.join(app.outdir, "_static", "mathjax"))

    app.config.mathjax_path = "mathjax/tex-chtml.js"
    app.connect("builder-inited", generate)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
