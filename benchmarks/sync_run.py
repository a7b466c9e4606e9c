"""Copy a long run's log and config into the committed results, as it reaches a new stage.

    python benchmarks/sync_run.py SWEEP_RUN_FOLDER [--results results]

``SWEEP_RUN_FOLDER`` is ``OUT/runs/NAME`` of a sweep kept outside the repository (its
checkpoints stay there: parameters are never committed). Its ``log.jsonl`` and
``config.json`` replace ``results/runs/NAME``'s, and the manifest's entry for NAME gets the
samples and the training clock of the log's last record; the run is ``done`` once it has
reached its budget, ``interrupted`` before. Then redraw the figures and the table with
``aevb reproduce all --draw-only --out results``, and check that the new log reproduces the
committed one where they overlap with ``python benchmarks/compare_logs.py``.
"""
import argparse
import json
import shutil
import sys
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="OUT/runs/NAME of the sweep that trains it")
    parser.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args(argv)
    name = args.run.name
    manifest_path = args.results / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if name not in manifest["runs"]:
        print(f"error: {name} is not a run of {manifest_path}", file=sys.stderr)
        return 2
    records = [json.loads(line) for line in
               (args.run / "log.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    if not records:
        print(f"error: {args.run}/log.jsonl holds no record yet", file=sys.stderr)
        return 2
    last = records[-1]
    for f in ("log.jsonl", "config.json"):
        shutil.copyfile(args.run / f, args.results / "runs" / name / f)
    entry = manifest["runs"][name]
    entry["samples"] = last["samples"]
    entry["seconds"] = round(last["seconds"], 1)
    entry["state"] = "done" if last["samples"] >= entry["budget"] else "interrupted"
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"{name}: {last['samples']:.3g} samples, train {last['train_bound']:.1f}, "
          f"test {last['test_bound']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
