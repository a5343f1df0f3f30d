#!/usr/bin/env bash
# Every GPU check of the project in one run: the CUDA tests and the DCNN training benchmark.
# Needs python3 with torch, torchvision, numpy, safetensors, pydantic, pyyaml and pytest (the
# DCNN's settings are the profile's schema); the rest of the stack is not imported.
#
#     bash benchmarks/gpu_checks.sh [OUTDIR] [PART ...]
#
# PARTs: tests, eager, compile, deterministic (default: all four, about 7 minutes on an H100),
# and autotune (torch.compile max-autotune at 224 px, batch 512: several minutes of
# compilation; run it alone, with a timeout). Each part's output is also written to OUTDIR
# (default: benchmarks/gpu-out).
set -uo pipefail
out=${1:-benchmarks/gpu-out}
shift || true
parts=${*:-tests eager compile deterministic}
mkdir -p "$out"
export PYTHONPATH=lib${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
bench="$py benchmarks/bench_dcnn.py --seconds 6"
{
  date -u; nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  $py -c "import sys, torch, torchvision; print('python', sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
  nproc
} 2>&1 | tee "$out/machine.txt"
for part in $parts; do
  case $part in
    tests) $py -m pytest tests/test_dcnn_cuda.py -p no:cacheprovider -q -rA 2>&1 | tee "$out/tests.txt" ;;
    eager) $bench 2>&1 | tee "$out/bench_eager.txt" ;;
    compile)
      $bench --sizes 224 --compile 2>&1 | tee "$out/bench_compile.txt"
      $bench --sizes 64 --compile 2>&1 | tee -a "$out/bench_compile.txt"
      $bench --sizes 224 --batch 512 --compile 2>&1 | tee -a "$out/bench_compile.txt" ;;
    deterministic) $bench --sizes 224 --deterministic 2>&1 | tee "$out/bench_deterministic.txt" ;;
    autotune) timeout 420 $bench --sizes 224 --batch 512 --compile-mode max-autotune-no-cudagraphs 2>&1 \
                | tee "$out/bench_autotune.txt" ;;
    *) echo "unknown part: $part (expected tests, eager, compile, deterministic, autotune)" >&2; exit 2 ;;
  esac
done
