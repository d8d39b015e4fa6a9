"""What the installed wheel claims about itself: the cp310-abi3 tag, the
torch requirement, the local version label, and no bundled torch or CUDA
library (the factory's verify checks the same on the file)."""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

from names import ext

DIST = metadata.distribution(ext.build_info["name"])


def test_tag_is_cp310_abi3():
    wheel = DIST.read_text("WHEEL")
    tags = re.findall(r"^Tag: (.+)$", wheel, re.M)
    assert tags and all(t.startswith("cp310-abi3-") for t in tags), wheel
    assert "Root-Is-Purelib: false" in wheel


def test_requires_torch_at_least_the_stable_abi_target():
    requires = DIST.requires or []
    target = ext.build_info["torch_target"]
    assert f"torch>={target}" in [r.replace(" ", "") for r in requires], requires


def test_local_version_label_matches_the_build():
    version = DIST.version
    assert version == ext.__version__ == ext.build_info["version"]
    label = version.split("+")[1]
    cuda = ext.build_info["cuda"]
    assert label == ("cu" + cuda.replace(".", "") if cuda else "cpu"), version
    has_cuda_lib = (Path(ext.__file__).parent / f"lib{ext.build_info['import_name']}_cuda.so").exists()
    assert has_cuda_lib == bool(cuda)


def test_no_bundled_torch_or_cuda_libraries():
    files = [str(f) for f in DIST.files or []]
    bundled = [f for f in files if re.search(r"(^|/)lib(torch|c10|cudart|cublas|cudnn|nv)[^/]*\.so", f)]
    assert not bundled, bundled
    assert not [f for f in files if ".libs/" in f], "auditwheel vendored libraries"


def test_build_info_is_complete():
    info = json.loads((Path(ext.__file__).parent / "_build_info.json").read_text())
    for key in ("name", "import_name", "ops_namespace", "version", "cuda", "cuda_archs",
                "torch_headers", "torch_target", "git_commit"):
        assert key in info, key
    assert info["torch_target"] == "2.10"


def test_cmake_package_is_shipped():
    config = Path(ext.cmake_prefix_path) / ext.build_info["import_name"] / f"{ext.build_info['import_name']}Config.cmake"
    assert config.is_file()
    assert f"{ext.build_info['import_name']}::ops" in config.read_text()
