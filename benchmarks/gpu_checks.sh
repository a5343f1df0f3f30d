#!/usr/bin/env bash
# Every GPU check of the project in one run (about 6 minutes on an H100): the CUDA tests
# and the DCNN training benchmark, eager, deterministic and compiled. Needs python3 with
# torch, torchvision, numpy, safetensors and pytest; the rest of the stack is not imported.
#
#     bash benchmarks/gpu_checks.sh [OUTDIR]
#
# Each part's output is also written to OUTDIR (default: benchmarks/gpu-out).
set -uo pipefail
out=${1:-benchmarks/gpu-out}
mkdir -p "$out"
export PYTHONPATH=lib${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
{
  date -u; nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  $py -c "import sys, torch, torchvision; print('python', sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
  nproc
} 2>&1 | tee "$out/machine.txt"
$py -m pytest tests/test_dcnn_cuda.py -p no:cacheprovider -q -rA 2>&1 | tee "$out/tests.txt"
$py benchmarks/bench_dcnn.py --seconds 6 2>&1 | tee "$out/bench_eager.txt"
$py benchmarks/bench_dcnn.py --seconds 6 --sizes 224 --compile 2>&1 | tee "$out/bench_compile.txt"
$py benchmarks/bench_dcnn.py --seconds 6 --sizes 224 --deterministic 2>&1 | tee "$out/bench_deterministic.txt"
$py benchmarks/bench_dcnn.py --seconds 6 --sizes 64 --compile 2>&1 | tee -a "$out/bench_compile.txt"
$py benchmarks/bench_dcnn.py --seconds 6 --sizes 224 --batch 512 --compile 2>&1 | tee -a "$out/bench_compile.txt"
