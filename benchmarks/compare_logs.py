"""Compare two run folders' logs record by record, bitwise: does a rerun reproduce a curve?

    python benchmarks/compare_logs.py results/runs/frey-aevb-nz10-h200 sweep/runs/frey-aevb-nz10-h200

Prints, for the sample counts both logs have, how many records agree to the last bit in
every bound or log p(x) they hold; exits 1 if any differs.
"""
import argparse
import sys
from pathlib import Path

from aevb.io.checkpoint import read_log


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a")
    p.add_argument("b")
    args = p.parse_args(argv)
    a = {r["samples"]: r for r in read_log(Path(args.a) / "log.jsonl")}
    b = {r["samples"]: r for r in read_log(Path(args.b) / "log.jsonl")}
    common = sorted(set(a) & set(b))
    keys = [k for k in (a[common[0]] if common else {}) if k.endswith(("_bound", "_log_px"))]
    same = [n for n in common if all(a[n].get(k) == b[n].get(k) for k in keys)]
    print(f"{len(same)} of {len(common)} common records bitwise equal in {', '.join(keys)} "
          f"(up to {max(common) if common else 0} samples)")
    return 0 if len(same) == len(common) else 1


if __name__ == "__main__":
    sys.exit(main())
