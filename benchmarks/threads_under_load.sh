#!/bin/sh
# aevb train with each --threads setting while other CPU-bound processes run.
#
#   sh benchmarks/threads_under_load.sh [BUSY] [ROUNDS] [BUDGET]
#
# BUSY (default 2) busy loops run for the whole measurement; the settings
# alternate within each round so that drift hits them alike. --threads 1 is
# one BLAS thread with updates in turn (the default), 2 adds the helper update
# thread, 3 is two BLAS threads plus the helper (what the default was before).
# Needs AEVB_DATA_DIR; prints one line per run: round, threads, seconds, load.
busy=${1:-2}; rounds=${2:-2}; budget=${3:-2e5}
out=$(mktemp -d)
unset OPENBLAS_NUM_THREADS OMP_NUM_THREADS MKL_NUM_THREADS
pids=""
i=0
while [ $i -lt "$busy" ]; do sh -c 'while :; do :; done' & pids="$pids $!"; i=$((i + 1)); done
trap 'kill $pids 2>/dev/null; rm -rf "$out"' EXIT INT TERM
r=1
while [ $r -le "$rounds" ]; do
  for t in 1 2 3; do
    start=$(date +%s.%N)
    aevb train --dataset mnist --n-latent 20 --budget "$budget" --dtype float32 --threads $t \
      --out "$out/r$r-t$t" --no-progress > /dev/null 2>&1 || echo "run failed: threads $t"
    end=$(date +%s.%N)
    echo "round $r threads $t seconds $(echo "$end - $start" | bc) load $(cut -d' ' -f1 /proc/loadavg)"
  done
  r=$((r + 1))
done
