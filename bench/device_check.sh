#!/usr/bin/env bash
# The GPU proof in one command, for a CUDA machine without network access:
# installs the given wheel (built elsewhere, no rebuild) into this Python,
# then, from outside the source tree, runs
#   info  - build vs runtime facts (torch, CUDA, GPU arch coverage)
#   tests - the whole pytest suite, CUDA tests included
#   tests_grid - the radius, padded and knn CUDA tests again with
#           EXT_CUDA_BRUTE=0 (the grid search on small inputs too)
#   fuzz  - >= 2,000 generated good/bad cases, CUDA vs CPU (bench/fuzz_cuda.py)
#   fuzz_knn - the same for knn / knn_graph (fuzz_cuda.py --op knn)
#   sanitizer - compute-sanitizer memcheck, racecheck, initcheck over the
#           CUDA tests and a fuzz run of each op family
#   cpp   - the C++ example (TorchScript + AOTInductor, no Python) on CUDA
#   bench - bench/gpu_bench.py (peers are used if importable)
#   knn_bench - bench/knn_bench.py --part gpu (torch-cluster if KNN_BENCH_ARGS
#           names --torch-cluster-lib, see bench/build_torch_cluster.py)
# Results land in OUTDIR; a summary line per step goes to OUTDIR/summary.txt.
#
#   bench/device_check.sh WHEEL OUTDIR [steps...]   (default: all steps)
set -uo pipefail
wheel=$(realpath "$1"); out=$(realpath -m "$2"); shift 2
steps=${*:-info tests tests_grid fuzz fuzz_knn sanitizer cpp bench knn_bench}
repo=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"

step() {  # step NAME COMMAND... : run, log to OUTDIR/NAME.log, record status
  local name=$1; shift
  local t0=$SECONDS
  "$@" >"$out/$name.log" 2>&1
  local rc=$?
  echo "$name: rc=$rc $((SECONDS - t0))s" | tee -a "$summary"
  tail -n 3 "$out/$name.log" | sed 's/^/    /' | tee -a "$summary"
}

$py -m pip install -q --no-deps --no-index --force-reinstall "$wheel" || exit 1
cd "$(mktemp -d)"  # never import the source tree
export PYTHONUNBUFFERED=1
sanitize() { compute-sanitizer --tool "$1" --error-exitcode 99 --print-limit 20 "${@:2}"; }
for s in $steps; do
  case $s in
    info) step info $py -m "$($py "$repo/extconfig.py" import_name)" info ;;
    tests) step tests env HYPOTHESIS_PROFILE=gpu $py -m pytest "$repo/tests" -q -rs -p no:cacheprovider -m "not slow" ;;
    tests_grid) step tests_grid env EXT_CUDA_BRUTE=0 $py -m pytest "$repo/tests/test_radius.py" \
      "$repo/tests/test_padded.py" "$repo/tests/test_knn.py" -q -rs -p no:cacheprovider -m "not slow" -k cuda ;;
    fuzz) step fuzz $py "$repo/bench/fuzz_cuda.py" --cases 2500 --out "$out/fuzz.json" ;;
    fuzz_knn) step fuzz_knn $py "$repo/bench/fuzz_cuda.py" --op knn --cases 2500 --out "$out/fuzz_knn.json" ;;
    sanitizer)
      for tool in memcheck racecheck initcheck; do
        step "sanitizer_$tool" sanitize $tool $py "$repo/bench/fuzz_cuda.py" --cases 150 --seed 7 \
          --out "$out/fuzz_$tool.json"
        step "sanitizer_${tool}_knn" sanitize $tool $py "$repo/bench/fuzz_cuda.py" --op knn --cases 150 \
          --seed 7 --out "$out/fuzz_knn_$tool.json"
      done
      # test_reduce_overhead_compile fails only under the sanitizer: torch's
      # CUDA-graph trees then see untracked tensors in their pool (it passes
      # in the tests step).
      step sanitizer_tests sanitize memcheck $py -m pytest "$repo/tests" -q -p no:cacheprovider -x \
        -k "cuda and not reduce_overhead"
      ;;
    cpp) step cpp $py "$repo/examples/cpp/check.py" "$(mktemp -d)" --device cuda ;;
    bench) step bench $py "$repo/bench/gpu_bench.py" --out "$out/gpu_bench.json" ${BENCH_ARGS:-} ;;
    knn_bench) step knn_bench $py "$repo/bench/knn_bench.py" --part gpu --out "$out/knn_bench.json" ${KNN_BENCH_ARGS:-} ;;
    *) echo "unknown step $s" | tee -a "$summary" ;;
  esac
done
