"""The examples in the docstrings of the objects people touch run, and print what they say."""
import doctest

import pytest

import aevb

OBJECTS = [aevb.VAE, aevb.WakeSleep, aevb.MCEM, aevb.FullVB, aevb.runs.load_run]


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: o.__name__)
def test_docstring_example_runs(obj, monkeypatch, tmp_path, request):
    """Catches an example that no longer runs or no longer prints its output (each has one)."""
    monkeypatch.chdir(tmp_path)
    if obj is aevb.runs.load_run:            # its example trains a run folder on Frey Face
        request.getfixturevalue("real_data_dir")
    finder = doctest.DocTestFinder(recurse=False)
    tests = [t for t in finder.find(obj, obj.__name__, globs={}) if t.examples]
    assert tests, f"{obj.__name__} has no example in its docstring"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for t in tests:
        runner.run(t)
    assert runner.failures == 0, f"{runner.failures} example(s) of {obj.__name__} failed"
