"""knn / knn_graph against the brute-force reference
(tests/reference.py: knn_ref), exactly (torch.equal), on every device under
test; on CUDA also against the CPU kernel.

The property tests reuse test_radius's case generation (dtypes, point
layouts, memory layouts, batches with empty or skipped segments) with the
dimensions knn cares about (1-3: the grid search; 4, 16, 64: brute force)
and k from 1 to beyond every segment.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch
from hypothesis import event, given
from hypothesis import strategies as st

from names import NS, OPS, ext
from reference import knn_graph_ref, knn_ref, pair_cosine
from test_radius import DTYPES, FLOWS, _assert_edges, _cpu, clouds, integer_sets, needed_batch_size

DIMS = [1, 2, 3, 4, 16, 64]
K_VALUES = [1, 2, 5, 16, 33, 400]
EMPTY = torch.empty(2, 0, dtype=torch.long)


def check_op(name: str, args: tuple, batch_size, expected: torch.Tensor) -> torch.Tensor:
    """ext.<name>(*args, batch_size=...) equals `expected`, the registered op
    (schema order: batch_size last) gives the same, the inputs are left
    untouched, and on CUDA the CPU kernel agrees."""
    before = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    out = getattr(ext, name)(*args, batch_size=batch_size)
    _assert_edges(out, expected, args[0].device)
    assert torch.equal(getattr(OPS, name)(*args, batch_size), out)
    assert all(not isinstance(a, torch.Tensor) or torch.equal(a, b) for a, b in zip(args, before))
    if args[0].device.type != "cpu":
        on_cpu = getattr(ext, name)(*(_cpu(a) if isinstance(a, torch.Tensor) else a for a in args),
                                      batch_size=batch_size)
        assert torch.equal(out.cpu(), on_cpu), "CUDA and CPU kernels disagree"
    return out


def check_knn(x, y, k, bx=None, by=None, cosine=False, batch_size=None):
    return check_op("knn", (x, y, k, bx, by, cosine), batch_size, knn_ref(x, y, k, bx, by, cosine))


def check_knn_graph(x, k, batch=None, loop=False, flow="source_to_target", cosine=False, batch_size=None):
    return check_op("knn_graph", (x, k, batch, loop, flow, cosine), batch_size,
                    knn_graph_ref(x, k, batch, loop, flow, cosine))


@st.composite
def knn_clouds(draw, graph: bool = False):
    case = draw(clouds(max_points=200, graph=graph))
    dim = draw(st.sampled_from(DIMS))
    layouts = ["contiguous", "transposed", "row_sliced", "col_sliced"] + (["flat"] if dim == 1 else [])
    return dataclasses.replace(case, dim=dim, layout_x=draw(st.sampled_from(layouts)),
                               layout_y=draw(st.sampled_from(layouts)))


def _events(out, y_count, k):
    event("some queries short of k" if out.shape[1] < y_count * k else "every query has k")


# --------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------


@given(case=knn_clouds(), k=st.sampled_from(K_VALUES), cosine=st.booleans(),
       batch_size_extra=st.none() | st.integers(0, 2))
def test_knn_matches_reference(device, case, k, cosine, batch_size_extra):
    x, y, bx, by = case.build(device)
    bs = None if batch_size_extra is None else needed_batch_size(bx, by) + batch_size_extra
    _events(check_knn(x, y, k, bx, by, cosine, bs), y.shape[0], k)


@given(case=knn_clouds(graph=True), k=st.sampled_from(K_VALUES), loop=st.booleans(),
       flow=st.sampled_from(FLOWS), cosine=st.booleans(),
       batch_size_extra=st.none() | st.integers(0, 2))
def test_knn_graph_matches_reference(device, case, k, loop, flow, cosine, batch_size_extra):
    x, _, batch, _ = case.build(device)
    bs = None if batch_size_extra is None else needed_batch_size(batch) + batch_size_extra
    _events(check_knn_graph(x, k, batch, loop, flow, cosine, bs), x.shape[0], k)


@given(sets=integer_sets(), dtype=st.sampled_from(DTYPES), k=st.integers(1, 6),
       cosine=st.booleans(), loop=st.booleans(), flow=st.sampled_from(FLOWS))
def test_small_integer_sets(device, sets, dtype, k, cosine, loop, flow):
    # test_radius's few points on a small integer grid: distances tie all the time.
    dim, xs, ys, bx, by = sets
    x = torch.tensor(xs, dtype=dtype).reshape(len(xs), dim).to(device)
    y = torch.tensor(ys, dtype=dtype).reshape(len(ys), dim).to(device)
    bx = None if bx is None else torch.tensor(bx, dtype=torch.long, device=device)
    by = None if by is None else torch.tensor(by, dtype=torch.long, device=device)
    check_knn(x, y, k, bx, by, cosine)
    check_knn_graph(x, k, bx, loop, flow, cosine)


# --------------------------------------------------------------------------
# Hand-verified examples
# --------------------------------------------------------------------------

SQUARE = [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_cluster_docstring_examples(device, dtype):
    x = torch.tensor(SQUARE, dtype=dtype, device=device)
    batch = torch.tensor([0, 0, 0, 0], device=device)
    y = torch.tensor([[-1.0, 0.0], [1.0, 0.0]], dtype=dtype, device=device)
    by = torch.tensor([0, 0], device=device)
    # torch_cluster.knn's docstring: [[0, 0, 1, 1], [0, 1, 2, 3]].
    _assert_edges(ext.knn(x, y, 2, batch, by), torch.tensor([[0, 0, 1, 1], [0, 1, 2, 3]]), device)
    # knn_graph(x, k=2, batch, loop=False): each corner's two side neighbours.
    _assert_edges(ext.knn_graph(x, 2, batch),
                  torch.tensor([[1, 2, 0, 3, 0, 3, 1, 2], [0, 0, 1, 1, 2, 2, 3, 3]]), device)
    _assert_edges(ext.knn_graph(x, 2, batch, flow="target_to_source"),
                  torch.tensor([[0, 0, 1, 1, 2, 2, 3, 3], [1, 2, 0, 3, 0, 3, 1, 2]]), device)
    # With loops the point itself comes first (distance 0).
    _assert_edges(ext.knn_graph(x, 2, batch, loop=True, flow="target_to_source"),
                  torch.tensor([[0, 0, 1, 1, 2, 2, 3, 3], [0, 1, 1, 0, 2, 0, 3, 1]]), device)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nearest_first_then_index(device, dtype):
    # 1-D; query 1.25 is at 1.25, 0.25, 0.25, 1.75, 0.75 from the points.
    x = torch.tensor([0.0, 1.0, 1.5, 3.0, 2.0], dtype=dtype, device=device)
    y = torch.tensor([1.25], dtype=dtype, device=device)
    _assert_edges(ext.knn(x, y, 5), torch.tensor([[0] * 5, [1, 2, 4, 0, 3]]), device)
    _assert_edges(ext.knn(x, y, 1), torch.tensor([[0], [1]]), device)
    _assert_edges(ext.knn(x, y, 3), torch.tensor([[0] * 3, [1, 2, 4]]), device)


@pytest.mark.parametrize("dtype", DTYPES)
def test_segments_shorter_than_k_and_empty_segments(device, dtype):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(9, 3, generator=gen, dtype=torch.float64).to(dtype).to(device)
    bx = torch.tensor([0, 0, 0, 0, 0, 2, 2, 4, 4], device=device)  # segments 1 and 3 empty
    y = torch.rand(6, 3, generator=gen, dtype=torch.float64).to(dtype).to(device)
    by = torch.tensor([0, 1, 2, 3, 4, 5], device=device)
    out = check_knn(x, y, 3, bx, by)
    # y0: 3 of 5; y1, y3, y5: none; y2: both of segment 2; y4: both of segment 4.
    assert torch.equal(out[0].cpu(), torch.tensor([0, 0, 0, 2, 2, 4, 4]))
    assert bool((out[1].cpu()[:3] < 5).all()) and set(out[1].cpu()[3:].tolist()) == {5, 6, 7, 8}
    # k larger than every segment: every point of the segment, nearest first.
    big = check_knn(x, y, 100, bx, by)
    assert big.shape[1] == 5 + 2 + 2
    g = check_knn_graph(x, 100, bx)
    assert g.shape[1] == 5 * 4 + 2 * 1 + 2 * 1
    g = check_knn_graph(x, 100, bx, loop=True)
    assert g.shape[1] == 5 * 5 + 2 * 2 + 2 * 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_point_segments_have_no_neighbours_without_loops(device, dtype):
    x = torch.rand(4, 2, dtype=torch.float64).to(dtype).to(device)
    batch = torch.arange(4, device=device)
    _assert_edges(ext.knn_graph(x, 3, batch), EMPTY, device)
    _assert_edges(ext.knn_graph(x, 3, batch, loop=True), torch.arange(4).repeat(2, 1), device)
    _assert_edges(ext.knn_graph(x[:1], 3), EMPTY, device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [2, 16])
def test_identical_points(device, dtype, dim):
    # All distances tie: the neighbours are the smallest indices.
    n, k = 40, 5
    x = torch.full((n, dim), 0.5, dtype=dtype, device=device)
    out = ext.knn_graph(x, k, flow="target_to_source")
    expected = torch.stack([torch.arange(n).repeat_interleave(k),
                            torch.tensor([[j for j in range(n) if j != i][:k] for i in range(n)]).flatten()])
    _assert_edges(out, expected, device)
    for cosine in (False, True):
        check_knn(x, x[:3], k, cosine=cosine)
        check_knn_graph(x, k, cosine=cosine)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_batch", [False, True])
def test_empty_inputs(device, dtype, with_batch):
    some = torch.rand(5, 3, dtype=torch.float64).to(dtype).to(device)
    none = torch.empty(0, 3, dtype=dtype, device=device)
    b_some = torch.tensor([0, 0, 1, 1, 2], device=device) if with_batch else None
    b_none = torch.empty(0, dtype=torch.long, device=device) if with_batch else None
    for cosine in (False, True):
        _assert_edges(ext.knn(none, some, 3, b_none, b_some, cosine), EMPTY, device)
        _assert_edges(ext.knn(some, none, 3, b_some, b_none, cosine), EMPTY, device)
        _assert_edges(ext.knn(none, none, 3, b_none, b_none, cosine), EMPTY, device)
        _assert_edges(ext.knn_graph(none, 3, b_none, loop=True, cosine=cosine), EMPTY, device)
        _assert_edges(ext.knn_graph(none[:, 0], 3, b_none), EMPTY, device)


def test_cosine_zero_vectors_are_at_distance_one(device):
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]], device=device)
    y = torch.tensor([[0.0, 0.0], [2.0, 0.0]], device=device)
    d = pair_cosine(x, y)
    assert torch.equal(d, torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 2.0, 1.0]]))
    # y0 (zero): every x at distance 1, by index. y1: x1 (0), then x0 and x3 (1), x2 (2).
    _assert_edges(ext.knn(x, y, 4, cosine=True),
                  torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1], [0, 1, 2, 3, 1, 0, 3, 2]]), device)


def test_non_contiguous_inputs(device):
    gen = torch.Generator().manual_seed(5)
    base = torch.rand(300, 8, generator=gen).to(device)
    for dim in (3, 8):
        x = base[::2, :dim]  # strided rows and columns
        y = base.t().contiguous().t()[:50, :dim]  # column-major
        batch = (torch.arange(300, device=device) // 100)[::2]
        assert not x.is_contiguous()
        check_knn(x, y, 7, batch, None)
        check_knn_graph(x, 7, batch, loop=False)
        check_knn(x, y, 7, cosine=True)


def test_x_passed_as_y_equals_a_copy(device):
    # With y (and batch_y) the very tensor x (and batch_x), as in the graph
    # ops, the backends scan and sort the points once.
    gen = torch.Generator().manual_seed(6)
    x = torch.rand(3000, 3, generator=gen).to(device)
    batch = (torch.arange(3000) // 1000).to(device)
    same = check_knn(x, x, 12, batch, batch)
    assert torch.equal(same, ext.knn(x, x.clone(), 12, batch, batch.clone()))
    within = ext.radius(x, x, 0.08, batch, batch, max_num_neighbors=None)
    assert within.shape[1] > 3000
    assert torch.equal(within, ext.radius(x, x.clone(), 0.08, batch, batch.clone(), max_num_neighbors=None))


# --------------------------------------------------------------------------
# Bigger inputs, threads, scipy
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [1, 2, 3, 16])
def test_larger_input_matches_reference(device, dim):
    gen = torch.Generator().manual_seed(dim)
    x = torch.rand(1500, dim, generator=gen).to(device)
    y = torch.rand(700, dim, generator=gen).to(device)
    bx = (torch.arange(1500) * 3 // 1500).to(device)  # ids 0, 1, 2
    by = (torch.arange(700) * 2 // 700 * 2).to(device)  # ids 0, 2 (1 empty)
    check_knn(x, y, 16, bx, by)
    check_knn(x, y, 40)
    check_knn_graph(x, 16, bx)


def test_clustered_and_far_apart_points(device):
    # Dense clusters far apart: the grid has mostly empty cells and the rings
    # must grow far before a query's k-th neighbour is certain.
    gen = torch.Generator().manual_seed(11)
    centres = torch.tensor([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0], [0.0, 0.0, 250.0]], dtype=torch.float64)
    x = (centres[torch.randint(0, 3, (600,), generator=gen)]
         + torch.randn(600, 3, generator=gen, dtype=torch.float64) * 0.01).to(device)
    check_knn_graph(x, 8)
    check_knn(x, x[:40] + 50.0, 30)
    check_knn_graph(x.float(), 250)


def test_thread_count_does_not_change_result():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(5000, 3, generator=gen)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = (ext.knn_graph(x, 10), ext.knn_graph(x[:, :2].repeat(1, 3), 10))
        torch.set_num_threads(max(2, before))
        many = (ext.knn_graph(x, 10), ext.knn_graph(x[:, :2].repeat(1, 3), 10))
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(a, b) for a, b in zip(one, many))


def test_num_workers_is_accepted_and_ignored(device):
    x = torch.rand(100, 3, device=device)
    assert torch.equal(ext.knn_graph(x, 4, num_workers=4), ext.knn_graph(x, 4))
    assert torch.equal(ext.knn(x, x[:10], 4, num_workers=4), ext.knn(x, x[:10], 4))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_scipy_ckdtree(device, dtype):
    spatial = pytest.importorskip("scipy.spatial")
    n, k = 20_000, 17
    gen = torch.Generator().manual_seed(2024)
    x = torch.rand(n, 3, generator=gen, dtype=torch.float64).to(dtype)
    xn = x.double().numpy()
    dist, idx = spatial.cKDTree(xn).query(xn, k=k)
    e = ext.knn_graph(x.to(device), k, loop=True, flow="target_to_source").cpu().numpy()
    ours = e[1].reshape(n, k)
    # Same neighbours except where scipy's float64 distances tie within the
    # rounding of ours (float32 input: 1e-6 relative).
    differ = (ours != idx).any(1)
    assert differ.mean() < 0.01
    theirs_d = dist[differ]
    ours_d = np.linalg.norm(xn[ours[differ]] - xn[differ.nonzero()[0]][:, None], axis=2)
    np.testing.assert_allclose(ours_d, theirs_d, rtol=1e-6 if dtype == torch.float32 else 1e-12)


# --------------------------------------------------------------------------
# torch.ops and the Python wrappers
# --------------------------------------------------------------------------


def test_torch_ops_defaults_match_python_defaults(device):
    x = torch.rand(300, 3, device=device)
    y = torch.rand(40, 3, device=device)
    assert torch.equal(OPS.knn_graph(x, 6), ext.knn_graph(x, 6))
    assert torch.equal(OPS.knn(x, y, 6), ext.knn(x, y, 6))
    # Defaults: loop=False, source_to_target, Euclidean.
    assert torch.equal(ext.knn_graph(x, 6).cpu(), knn_graph_ref(x, 6, None, False))
    assert torch.equal(ext.knn(x, y, 6).cpu(), knn_ref(x, y, 6))


def test_output_too_large_names_the_size():
    # 2^22 queries x 2^22 neighbours: a 256 TiB output, beyond any 47-bit
    # address space, so the allocation fails even where memory is overcommitted.
    x = torch.zeros(2**22, 1)
    with pytest.raises(RuntimeError, match=rf"^{re.escape(NS)}\.knn: cannot allocate the \[2, 17592186044416\] "
                                           r"int64 output \(2.*GB\) on cpu: out of memory\? Lower k"):
        ext.knn(x, x, 2**22)


def test_exported_names():
    assert {"knn", "knn_graph"} <= set(ext.__all__)
    assert ext.knn is ext.ops.knn and ext.knn_graph is ext.ops.knn_graph
