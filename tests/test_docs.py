"""The README and the documentation site's own machinery (fast; the site itself is built and
checked in a browser by the README's docs command and ``docs/check_site.py``, which CI runs).
"""
import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_readme_fits_one_screen():
    """Catches the README growing back into a manual: at most 150 lines; the rest is the site."""
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= 150, f"README.md has {n} lines; move the detail into docs/ (at most 150)"


def test_readme_marks_the_three_commands_ci_runs():
    """Catches a marker renamed or dropped, which .ci/run would report only at the end of CI."""
    text = README.read_text(encoding="utf-8")
    for tag in ("train", "test", "docs"):
        block = re.search(rf"<!-- ci: {tag} -->\n```bash\n(.+)\n```", text)
        assert block, f"README.md has no '<!-- ci: {tag} -->' followed by a bash block"
    assert "docs/_build/html" in re.search(r"<!-- ci: docs -->\n```bash\n(.+)\n", text)[1], \
        "the docs command must build into docs/_build/html, where .ci/run checks the site"


def test_readme_links_name_files_that_exist():
    """Catches a link to a page that was renamed or never written (GitHub shows a 404)."""
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert targets, "the README links no page of the site"
    missing = [t for t in targets if "://" not in t and not (ROOT / t).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_every_docs_page_is_in_a_toctree_or_included():
    """Catches a page written but unreachable from the index (Sphinx warns too, but only when
    the site is built)."""
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index"}
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    unlisted = sorted(p for p in pages if not re.search(rf"^{re.escape(p)}$", index, re.M))
    assert not unlisted, f"docs pages missing from the toctree of docs/index.md: {unlisted}"


@pytest.fixture(scope="module")
def generator():
    return _load(DOCS / "_ext" / "aevb_docs.py", "aevb_docs_under_test")


def test_every_public_module_has_an_api_group(generator):
    """Catches a new module that the API index would not list (the build raises then too)."""
    modules = generator.public_modules()
    assert "aevb.core.sgvb" in modules and "aevb.models.vae" in modules
    assert not [m for m in modules if any(p.startswith("_") for p in m.split("."))]
    for m in modules:
        generator._group_of(m)


def test_notebook_links_to_source_become_api_links(generator):
    """Catches a notebook's ``(../aevb/core/sgvb.py)`` left as a link that the site cannot
    follow, a package's ``__init__.py`` sent to a page that does not exist, and a link to a
    module that does not exist passing silently."""
    modules = generator.public_modules()
    text = "see [sgvb](../aevb/core/sgvb.py) and [io](../aevb/io/__init__.py)"
    assert generator.api_links(text, modules) == \
        "see [sgvb](../api/aevb.core.sgvb.md) and [io](../api/aevb.io.md)"
    with pytest.raises(RuntimeError, match="not a public module"):
        generator.api_links("[x](../aevb/core/nothing.py)", modules)


@pytest.fixture(scope="module")
def checker():
    return _load(DOCS / "check_site.py", "check_site_under_test")


def _site(root, pages):
    for name, body in pages.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    return root


def test_link_check_passes_a_sound_site(checker, tmp_path):
    """The control for the three below: a site whose links all resolve has no failure."""
    site = _site(tmp_path, {
        "index.html": '<a href="sub/page.html#eq-8">eq. 8</a><img src="_images/f.png">'
                      '<a href="https://arxiv.org/abs/1312.6114">paper</a><a href="#top">top</a>'
                      '<span id="top"></span><script src="_static/mathjax/tex-chtml.js"></script>',
        "sub/page.html": '<span id="eq-8"></span><a href="../index.html">up</a>'})
    (site / "_images").mkdir()
    (site / "_images" / "f.png").write_bytes(b"\x89PNG")
    (site / "_static" / "mathjax").mkdir(parents=True)
    (site / "_static" / "mathjax" / "tex-chtml.js").write_text("")
    failures, n = checker.check_links(site)
    assert failures == [] and n == 2


@pytest.mark.parametrize("body, mistake", [
    ('<a href="api/missing.html">x</a>', "which is not in the site"),
    ('<a href="index.html#no-such-anchor">x</a>', "whose anchor is not on that page"),
    ('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>',
     "from the network"),
    ('<img src="//example.org/figure.png">', "from the network"),
], ids=["broken-page", "broken-anchor", "cdn-script", "protocol-relative-image"])
def test_link_check_catches(checker, tmp_path, body, mistake):
    """Catches a link to a page the build did not write, an anchor that is not there, and a
    page that needs the network (a CDN's MathJax, a remote image)."""
    failures, _ = checker.check_links(_site(tmp_path, {"index.html": body}))
    assert len(failures) == 1 and mistake in failures[0], failures


def test_check_site_refuses_a_folder_with_no_site(checker, tmp_path, capsys):
    """Catches the check passing on an empty or wrong folder (nothing checked, nothing failed)."""
    assert checker.main([str(tmp_path), "--links-only"]) == 2
    err = capsys.readouterr().err
    assert "no built site" in err and err.count("\n") == 1


def test_docs_name_tests_and_files_that_exist():
    """Catches a page (the paper map above all) that names a test file, a test or a benchmark
    that was renamed or never written: a reader would look for a check that is not there."""
    tests_text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py"))
    missing = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for path in set(re.findall(r"`((?:tests|benchmarks|notebooks)/[\w/.-]+\.(?:py|sh))", text)):
            if "NN_name" not in path and not (ROOT / path).exists():
                missing.append(f"{page.name}: {path}")
        for name in set(re.findall(r"`(test_\w+)`", text)):
            if f"def {name}(" not in tests_text:
                missing.append(f"{page.name}: {name}")
    assert not missing, f"docs pages name files or tests that do not exist: {missing}"


@pytest.mark.slow
def test_browser_check_sees_a_missing_figure_and_untypeset_math(checker, tmp_path, monkeypatch):
    """Catches the browser check passing a page whose notebook ran without its figures (a
    non-inline matplotlib backend), an image that does not load, or equations MathJax never
    typeset; the control page passes."""
    import os
    import shutil
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        message = ("chromium and chromedriver not found: install Debian's packages with "
                   "'apt-get install chromium chromium-driver'")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    png = (ROOT / "results" / "figure4.png").read_bytes()
    (tmp_path / "f.png").write_bytes(png)
    _site(tmp_path, {
        "index.html": '<img src="f.png">',
        "nofigure.html": "<p>a notebook page without its figures</p>",
        "broken.html": '<img src="missing.png">',
        "nomath.html": '<span class="math">\\(x\\)</span>',
    })
    monkeypatch.setattr(checker, "PAGES", {"index.html": (1, False), "nofigure.html": (1, False),
                                           "broken.html": (0, False), "nomath.html": (0, True)})
    failures = checker.check_browser(tmp_path)
    text = "\n".join(failures)
    assert not [f for f in failures if f.startswith("index.html")], text
    assert "nofigure.html: 0 image(s), expected at least 1" in text, text
    assert "broken.html: 1 image(s) did not load" in text, text
    assert "nomath.html: no typeset equation" in text, text


def test_instructors_table_matches_the_registry():
    """Catches the instructor's guide (exercises/README.md, also a page of the site) naming an
    exercise, its equation, its place in the code or what it builds on differently from the
    registry that ``aevb exercises`` runs."""
    from aevb.exercises.registry import EXERCISES
    text = (ROOT / "exercises" / "README.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 6 and cells[0].isdigit():
            rows[int(cells[0])] = cells
    assert sorted(rows) == [e.number for e in EXERCISES], \
        f"the guide's table lists exercises {sorted(rows)}"
    for e in EXERCISES:
        _, name, _, paper, where, needs = rows[e.number]
        assert name == f"`{e.name}`" and paper == e.paper, (e.number, name, paper)
        assert where.replace("`", "") == e.where, (e.number, where, e.where)
        assert needs == ", ".join(map(str, e.needs)), (e.number, needs, e.needs)
