#!/bin/sh
# install-cuda.sh  (run by docker/Dockerfile)
#
# Installs NVIDIA's pip wheels into a scratch directory and lays them out as a
# normal CUDA toolkit in /usr/local/cuda-<major.minor> (bin/ include/ lib/
# lib64/ nvvm/), with /usr/local/cuda -> it. The exact wheel versions pip chose
# are recorded in /usr/local/cuda/pip-components.txt. Reads CUDA_VERSION,
# CUDA_RPM_REPO (CUDA 12 only) and pip's PIP_*
# settings from the environment.
set -eu

: "${CUDA_VERSION:?}"

# A build argument that was not given may arrive as an empty variable, which
# pip would read as an empty setting: drop those.
for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_CERT PIP_TRUSTED_HOST; do
    eval "value=\${$var:-}"
    [ -n "$value" ] || unset "$var"
done
# Nothing of pip stays behind: no cache, no byte-code.
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
       PYTHONDONTWRITEBYTECODE=1

# Any CPython of the image runs pip: manylinux has them in /opt/python,
# elsewhere python3.
py=
for candidate in /opt/python/cp3*/bin/python "$(command -v python3 || true)"; do
    if [ -x "$candidate" ] && "$candidate" -m pip --version >/dev/null 2>&1; then
        py=$candidate
        break
    fi
done
[ -n "$py" ] || { echo "install-cuda.sh: no Python with pip in this image" >&2; exit 1; }

major_minor=$(echo "$CUDA_VERSION" | cut -d. -f1,2)
major=${major_minor%%.*}
root=/usr/local/cuda-$major_minor
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

install() {
    "$py" -m pip install --quiet --no-compile --target "$stage" "$@"
    "$py" -m pip list --format=freeze --path "$stage" >> "$root/pip-components.txt"
}

mkdir -p "$root"
if [ "$major" -lt 13 ]; then
    # PyPI's CUDA 12 wheels hold no nvcc (only ptxas/libnvvm) and no
    # libcudart_static.a: NVIDIA's RPM repository for the RHEL 8 base.
    [ -n "${CUDA_RPM_REPO:-}" ] || { echo "install-cuda.sh: CUDA $major_minor needs NVIDIA's RPM" \
        "repository: --build-arg CUDA_RPM_REPO=<its base URL, the directory holding rhel8/>" >&2; exit 1; }
    rpm_arch=$(uname -m)
    [ "$rpm_arch" = aarch64 ] && rpm_arch=sbsa
    curl -fsSL "$CUDA_RPM_REPO/rhel8/$rpm_arch/cuda-rhel8.repo" -o /etc/yum.repos.d/cuda.repo
    v=$(echo "$major_minor" | tr . -)
    # nvcc (with crt, cicc, ptxas), cudart (static), CCCL: the same three parts as below.
    dnf install -y -q "cuda-nvcc-$v" "cuda-cudart-devel-$v" "cuda-cccl-$v"
    dnf clean all
    rpm -q "cuda-nvcc-$v" "cuda-cudart-devel-$v" "cuda-cccl-$v" >> "$root/pip-components.txt"
    [ -e "$root/lib64" ] || ln -s targets/"$(uname -m | sed 's/aarch64/sbsa/')"-linux/lib "$root/lib64"
    ln -sfn "cuda-$major_minor" /usr/local/cuda
    "$root/bin/nvcc" --version
    exit 0
fi
# nvcc (+ptxas, nvlink, cicc), the CUDA runtime (static and shared) and
# CCCL (thrust/cub/libcudacxx, which cuda_fp16.h needs via nv/target).
install "cuda-toolkit[nvcc,cudart,cccl]==$CUDA_VERSION"
cp -a "$stage/nvidia/cu$major/." "$root/"
# nvcc.profile links from lib64/; the wheels ship lib/ only.
[ -e "$root/lib64" ] || ln -s lib "$root/lib64"
# CMake's FindCUDAToolkit insists on an unversioned libcudart.so even when
# linking the static runtime; the wheels ship libcudart.so.<major> only.
for lib in "$root"/lib/libcudart.so.*; do
    [ -e "$root/lib/libcudart.so" ] || ln -s "$(basename "$lib")" "$root/lib/libcudart.so"
done
ln -sfn "cuda-$major_minor" /usr/local/cuda
"$root/bin/nvcc" --version

