"""torch.library.opcheck on every op, torch.compile(fullgraph=True) over code
that uses their (data-dependent or static) size output, and torch.export of
knn / knn_graph."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo.testing

from names import NS, OPS, ext
from reference import radius_graph_ref, radius_ref


def _points(n, d=3, dtype=torch.float32, device="cpu", seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=gen, dtype=torch.float64).to(dtype).to(device)


def _radius_samples(device):
    x = _points(60, device=device)
    y = _points(20, device=device, seed=1)
    bx = (torch.arange(60) // 25).to(device)  # ids 0, 1, 2
    by = (torch.arange(20) // 10 * 2).to(device)  # ids 0, 2
    return {
        "defaults": (x, y, 0.3),
        "batch_unlimited": (x, y, 0.3, bx, by, None),
        "all_args": (x, y, 0.3, bx, by, 3, True, 4),
        "k0_no_batch": (x, x, 0.3, None, None, 0, True, None),
        "float64_1d": (x[:, 0].double(), y[:, 0].double(), 0.05, None, None, None),
        "float16_5d": (_points(40, 5, torch.float16, device), _points(7, 5, torch.float16, device, 2), 0.8),
        "empty_y": (x, y[:0], 0.3, bx, by[:0], None),
    }


def _graph_samples(device):
    x = _points(60, device=device)
    batch = (torch.arange(60) // 25 * 2).to(device)  # ids 0, 2, 4
    return {
        "defaults": (x, 0.3),
        "batch_unlimited_loop": (x, 0.3, batch, True, None),
        "all_args": (x, 0.3, batch, False, 2, "target_to_source", 5),
        "bfloat16_1d": (x[:, 0].bfloat16(), 0.05, batch, False, None, "source_to_target", None),
        "empty": (x[:0], 0.3, batch[:0], True, None),
    }


@pytest.mark.parametrize("sample", list(_radius_samples("cpu")))
def test_opcheck_radius(device, sample):
    args = _radius_samples(device)[sample]
    assert not any(isinstance(a, torch.Tensor) and a.requires_grad for a in args)
    torch.library.opcheck(OPS.radius.default, args)


@pytest.mark.parametrize("sample", list(_graph_samples("cpu")))
def test_opcheck_radius_graph(device, sample):
    args = _graph_samples(device)[sample]
    torch.library.opcheck(OPS.radius_graph.default, args)


def degree_stats(x, batch):
    """radius_graph, then arithmetic on its output: in-degree of every node
    (index_add, static size), the edge count, and a per-edge length sum."""
    edges = ext.radius_graph(x, 0.2, batch, loop=False, max_num_neighbors=8)
    src, dst = edges[0], edges[1]
    deg = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    deg = deg.index_add(0, dst, torch.ones_like(dst))
    length = (x[src] - x[dst]).norm(dim=-1).sum()
    return edges, deg * 2 + 1, edges.shape[1], length


def _assert_same_outputs(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        if isinstance(e, torch.Tensor):
            assert g.dtype == e.dtype and g.shape == e.shape
            if e.is_floating_point():
                # The float reduction may be reordered by compilation.
                torch.testing.assert_close(g, e)
            else:
                assert torch.equal(g, e)
        else:
            assert g == e


def test_compile_fullgraph_aot_eager(device):
    # No dynamo config is needed: the fake kernel returns [2, u0] with u0 an
    # unbacked size (ctx.new_dynamic_size()), which dynamo traces as is.
    torch._dynamo.reset()
    counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(degree_stats, fullgraph=True, backend=counter)
    for n, seed in [(500, 0), (800, 1), (300, 2)]:
        x = _points(n, device=device, seed=seed)
        batch = (torch.arange(n) * 3 // n).to(device)
        expected = degree_stats(x, batch)
        assert expected[2] > n
        assert torch.equal(expected[0].cpu(), radius_graph_ref(x, 0.2, batch, False, 8))
        _assert_same_outputs(compiled(x, batch), expected)
    # One captured graph per (re)compilation, each containing the op.
    assert 1 <= counter.frame_count <= 2
    assert all(f"{NS}.radius_graph" in g.code for g in counter.graphs)


def test_compile_with_bincount(device):
    # bincount's output size depends on the data too (max(index) + 1), and
    # dynamo may graph-break on such ATen ops unless
    # capture_dynamic_output_shape_ops is on (torch 2.14 happens to trace it
    # either way). The flag is for bincount only: our op needs no flag
    # (test_compile_fullgraph_aot_eager runs with the default config).
    def fn(x, y):
        e = ext.radius(x, y, 0.15, max_num_neighbors=None)
        per_query = torch.bincount(e[0], minlength=y.shape[0])
        return e, per_query, per_query.float().mean()

    torch._dynamo.reset()
    with torch._dynamo.config.patch(capture_dynamic_output_shape_ops=True):
        compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
        x = _points(1000, device=device)
        y = _points(100, device=device, seed=5)
        expected = fn(x, y)
        assert torch.equal(expected[0].cpu(), radius_ref(x, y, 0.15, None, None, None))
        _assert_same_outputs(compiled(x, y), expected)


# --------------------------------------------------------------------------
# knn / knn_graph
# --------------------------------------------------------------------------


def _knn_samples(device):
    x = _points(60, device=device)
    y = _points(20, device=device, seed=1)
    bx = (torch.arange(60) // 25).to(device)  # ids 0, 1, 2
    by = (torch.arange(20) // 10 * 2).to(device)  # ids 0, 2
    return {
        "defaults": (x, y, 4),
        "batch": (x, y, 4, bx, by),
        "all_args": (x, y, 30, bx, by, True, 4),
        "k_beyond_x": (x[:3], y, 5),
        "float64_1d": (x[:, 0].double(), y[:, 0].double(), 2),
        "float16_16d": (_points(40, 16, torch.float16, device), _points(7, 16, torch.float16, device, 2), 3),
        "empty_y": (x, y[:0], 3, bx, by[:0]),
    }


def _knn_graph_samples(device):
    x = _points(60, device=device)
    batch = (torch.arange(60) // 25 * 2).to(device)  # ids 0, 2, 4
    return {
        "defaults": (x, 5),
        "batch_loop": (x, 5, batch, True),
        "all_args": (x, 40, batch, False, "target_to_source", True, 5),
        "bfloat16_1d": (x[:, 0].bfloat16(), 3, batch, False),
        "empty": (x[:0], 3, batch[:0], True),
        "one_point": (x[:1], 3),
    }


@pytest.mark.parametrize("sample", list(_knn_samples("cpu")))
def test_opcheck_knn(device, sample):
    torch.library.opcheck(OPS.knn.default, _knn_samples(device)[sample])


@pytest.mark.parametrize("sample", list(_knn_graph_samples("cpu")))
def test_opcheck_knn_graph(device, sample):
    torch.library.opcheck(OPS.knn_graph.default, _knn_graph_samples(device)[sample])


def knn_features(x, batch):
    """knn_graph (data-dependent size with a batch, static without), then
    message passing on its output: mean neighbour offset per node."""
    edges = ext.knn_graph(x, 6, batch, loop=False)
    src, dst = edges[0], edges[1]
    agg = torch.zeros_like(x).index_add(0, dst, x[src] - x[dst])
    near = ext.knn(x, x[:50], 3)  # static size: 50 * 3
    return edges, agg / 6, near, near.shape[1] + edges.shape[1]


@pytest.mark.parametrize("with_batch", [False, True])
def test_compile_fullgraph_knn(device, with_batch):
    torch._dynamo.reset()
    counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(knn_features, fullgraph=True, backend=counter)
    for n, seed in [(500, 0), (800, 1)]:
        x = _points(n, device=device, seed=seed)
        batch = (torch.arange(n) * 3 // n).to(device) if with_batch else None
        expected = knn_features(x, batch)
        _assert_same_outputs(compiled(x, batch), expected)
    assert 1 <= counter.frame_count <= 2
    assert all(f"{NS}.knn_graph" in g.code and f"{NS}.knn" in g.code for g in counter.graphs)


class KnnModule(torch.nn.Module):
    def forward(self, x, batch):
        edges = ext.knn_graph(x, 8, batch, flow="target_to_source")
        plain = ext.knn(x, x[:10], 4, cosine=True)
        return edges, plain


def test_export_knn(device):
    x = _points(300, device=device)
    batch = (torch.arange(300) // 100).to(device)
    ep = torch.export.export(KnnModule(), (x, batch))
    assert f"{NS}.knn_graph" in str(ep.graph) and f"{NS}.knn" in str(ep.graph)
    x2 = _points(300, device=device, seed=3)
    got, expected = ep.module()(x2, batch), KnnModule()(x2, batch)
    assert all(torch.equal(g, e) for g, e in zip(got, expected))
    # Without a batch vector the edge count is static: 300 * 8.
    ep = torch.export.export(KnnModule(), (x, None))
    assert ep.module()(x2, None)[0].shape == (2, 2400)
