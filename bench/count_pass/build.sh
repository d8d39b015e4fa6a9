#!/usr/bin/env bash
# Builds count_pass_bench (sm_90): this tree's count passes against those of
# BASE (a git revision, default HEAD). Needs nvcc and torch's headers
# (TORCH_INCLUDE: site-packages/torch/include). Run the binary on the GPU:
#   bench/count_pass/build.sh TORCH_INCLUDE [BASE] && bench/count_pass/count_pass_bench > out.jsonl
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "$here/../.." && pwd)
inc=$1; base=${2:-HEAD}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/base" && git -C "$repo" archive "$base" pkg/csrc | tar -x -C "$tmp/base"
sed -i 's/brute_pass_impl/brute_pass_old/g; s/\bbrute_impl\b/brute_old/g; s/knn_prep_impl/knn_prep_old/g;
        s/\blaunch_\(brute_count\|brute_fill\|knn_count_pass\|knn_counts\|norms\)\b/old_launch_\1/g' \
  "$tmp"/base/pkg/csrc/ops/cuda/*
cp "$here/base.cu" "$tmp/"
flags=(-O3 -std=c++17 -arch=sm_90 --fmad=false -I"$inc")
nvcc "${flags[@]}" -c "$tmp/base.cu" -o "$tmp/base.o"
nvcc "${flags[@]}" -I"$repo/pkg/csrc" -c "$here/count_pass_bench.cu" -o "$tmp/bench.o"
nvcc -arch=sm_90 "$tmp/base.o" "$tmp/bench.o" -o "$here/count_pass_bench"
