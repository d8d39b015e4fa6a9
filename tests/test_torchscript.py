"""TorchScript: modules calling the ops script, save, and run in a fresh
process exactly as they do in this one, once the package is imported there."""

from __future__ import annotations

from typing import Optional, Tuple

import pytest
import torch

from names import IMPORT, NS, ext, OPS
from helpers import describe, run_python


class OpsGraph(torch.nn.Module):
    """Calls the registered op directly."""

    def __init__(self, r: float, flow: str):
        super().__init__()
        self.r = r
        self.flow = flow

    def forward(self, x: torch.Tensor, batch: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        edges = OPS.radius_graph(x, self.r, batch, False, 16, self.flow, None)
        loops = OPS.radius_graph(x, self.r, batch, True, None, "target_to_source", None)
        return edges, loops


class PythonApi(torch.nn.Module):
    """Calls the Python wrappers ext.radius_graph / ext.radius (they are
    TorchScript-compatible; scripting compiles them into the module)."""

    def forward(self, x: torch.Tensor, y: torch.Tensor, batch: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        graph = ext.radius_graph(x, 0.2, batch, loop=True, max_num_neighbors=8,
                                   flow="target_to_source")
        near = ext.radius(x, y, 0.25, batch, None, max_num_neighbors=None, ignore_same_index=True)
        return graph, near


def _inputs():
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(400, 3, generator=gen)
    y = torch.rand(50, 3, generator=gen)
    batch = torch.arange(400) // 200  # ids 0 and 1; y is all example 0
    return x, y, batch


def _run_saved(tmp_path, module, inputs, import_line=f"import torch, {IMPORT}"):
    path = tmp_path / "module.pt"
    module.save(str(path))
    torch.save(inputs, tmp_path / "inputs.pt")
    proc = run_python(
        f"""
        {import_line}
        m = torch.jit.load({str(path)!r})
        inputs = torch.load({str(tmp_path / 'inputs.pt')!r})
        torch.save(m(*inputs), {str(tmp_path / 'outputs.pt')!r})
        print("ok")
        """,
        cwd=tmp_path,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", describe(proc)
    return torch.load(tmp_path / "outputs.pt")


def _assert_same(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == torch.int64 and torch.equal(g, e)


@pytest.mark.parametrize("flow", ["source_to_target", "target_to_source"])
def test_scripted_torch_ops_module_runs_in_a_fresh_process(tmp_path, flow):
    x, _, batch = _inputs()
    eager = OpsGraph(0.15, flow)
    expected = eager(x, batch)
    assert expected[0].shape[1] > 400 and expected[1].shape[1] > expected[0].shape[1]
    assert torch.equal(expected[0], ext.radius_graph(x, 0.15, batch, False, 16, flow))
    scripted = torch.jit.script(eager)
    _assert_same(scripted(x, batch), expected)
    _assert_same(scripted(x, None), eager(x, None))
    _assert_same(_run_saved(tmp_path, scripted, (x, batch)), expected)


def test_scripted_python_api_module_runs_in_a_fresh_process(tmp_path):
    x, y, batch = _inputs()
    eager = PythonApi()
    expected = eager(x, y, batch)
    assert all(e.shape[1] > 0 for e in expected)
    scripted = torch.jit.script(eager)
    _assert_same(scripted(x, y, batch), expected)
    _assert_same(_run_saved(tmp_path, scripted, (x, y, batch)), expected)


def test_loading_the_library_alone_is_enough(tmp_path):
    # The saved module refers to the op by name (<ns>::radius_graph): any
    # process that loaded lib<name>_cpu.so can run it, without the Python package.
    x, _, batch = _inputs()
    eager = OpsGraph(0.15, "source_to_target")
    library = ext._loader.library_path(ext.build_info, "cpu")
    got = _run_saved(tmp_path, torch.jit.script(eager), (x, batch),
                     import_line=f"import torch; torch.ops.load_library({str(library)!r})")
    _assert_same(got, eager(x, batch))


def test_loading_without_the_package_fails_and_names_the_op(tmp_path):
    path = tmp_path / "module.pt"
    torch.jit.script(OpsGraph(0.15, "source_to_target")).save(str(path))
    proc = run_python(
        f"""
        import sys, torch
        try:
            torch.jit.load({str(path)!r})
        except RuntimeError as e:
            assert {IMPORT!r} not in sys.modules
            print(e)
        else:
            print("loaded without the package")
        """,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, describe(proc)
    # torch 2.14 says "Unknown builtin op: <ns>::radius_graph."
    assert "loaded without the package" not in proc.stdout and f"{NS}::radius_graph" in proc.stdout, describe(proc)


class KnnApi(torch.nn.Module):
    """knn / knn_graph (Python wrappers) and OPS.knn_graph."""

    def forward(self, x: torch.Tensor, y: torch.Tensor, batch: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        graph = ext.knn_graph(x, 6, batch, loop=False, flow="target_to_source")
        near = ext.knn(x, y, 3, batch, None, cosine=True)
        ops = OPS.knn_graph(x, 4, batch, True, "source_to_target", False, None)
        return graph, near, ops


def test_scripted_knn_module_runs_in_a_fresh_process(tmp_path):
    x, y, batch = _inputs()
    eager = KnnApi()
    expected = eager(x, y, batch)
    assert expected[0].shape == (2, 400 * 6) and expected[1].shape == (2, 50 * 3)
    scripted = torch.jit.script(eager)
    _assert_same(scripted(x, y, batch), expected)
    _assert_same(scripted(x, y, None), eager(x, y, None))
    _assert_same(_run_saved(tmp_path, scripted, (x, y, batch)), expected)
