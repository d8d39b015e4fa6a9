"""ext.radius / ext.radius_graph against the brute-force reference
(tests/reference.py), exactly (torch.equal), on every device under test.

Hypothesis draws the structure of each case (dtype, dimension, sizes, point
layout, radius, batches, memory layout, options); the coordinates themselves
come from a seeded torch generator (the seed is part of the drawn case, so a
failure prints everything needed to rebuild it). A second property test draws
small integer point sets directly, so that ties and pairs at exactly distance r
are common and failures shrink to tiny examples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pytest
import torch
from hypothesis import event, given
from hypothesis import strategies as st

from names import IMPORT, ext, OPS
from helpers import describe, run_python
from reference import pair_dist2, radius_graph_ref, radius_ref

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
KINDS = ["uniform", "clustered", "lattice", "duplicates", "identical", "offset"]
# Radii relative to clouds that span about [-1, 1]: "tiny" finds (almost) only
# coincident points, "huge" is larger than the whole cloud.
R_BY_SCALE = {"tiny": 1e-6, "small": 0.05, "medium": 0.3, "large": 1.0, "huge": 1e3}
LAYOUTS = ["contiguous", "transposed", "row_sliced", "col_sliced", "flat"]
K_VALUES = [None, 0, 1, 3, 32]
FLOWS = ["source_to_target", "target_to_source"]


# --------------------------------------------------------------------------
# Case generation
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cloud:
    """Everything needed to rebuild x, y and their batch vectors."""

    dtype: torch.dtype
    dim: int
    n: int  # points in x
    m: int  # points in y
    kind: str
    r: float
    spacing: float  # lattice spacing ("lattice" kind only)
    seed: int
    layout_x: str
    layout_y: str
    batch_mode: str  # "none", "both", "x_only", "y_only"
    segments: int  # batch ids are drawn from range(segments) ...
    stride: int  # ... then multiplied by stride (>1: ids skip values) ...
    first: int  # ... and shifted by first (>0: segment 0 is empty)

    def _points(self, n: int, gen: torch.Generator, pool: torch.Tensor, spacing: float):
        d = self.dim
        if self.kind == "uniform":
            p = torch.rand(n, d, generator=gen, dtype=torch.float64) * 2 - 1
        elif self.kind == "clustered":
            centre = pool[torch.randint(0, len(pool), (n,), generator=gen)]
            p = centre + torch.randn(n, d, generator=gen, dtype=torch.float64) * 0.1
        elif self.kind == "lattice":
            p = torch.randint(-3, 4, (n, d), generator=gen).double() * spacing
        elif self.kind == "duplicates":
            p = pool[torch.randint(0, len(pool), (n,), generator=gen)]
        elif self.kind == "identical":
            p = pool[:1].expand(n, d).clone()
        elif self.kind == "offset":
            p = 1e4 + torch.rand(n, d, generator=gen, dtype=torch.float64) * 2 - 1
        else:
            raise AssertionError(self.kind)
        return p.to(self.dtype)

    def _batch(self, n: int, gen: torch.Generator) -> torch.Tensor:
        ids = torch.randint(0, self.segments, (n,), generator=gen).sort().values
        return ids * self.stride + self.first

    def build(self, device):
        gen = torch.Generator().manual_seed(self.seed)
        pool = torch.rand(3, self.dim, generator=gen, dtype=torch.float64) * 2 - 1
        x = self._points(self.n, gen, pool, self.spacing)
        y = self._points(self.m, gen, pool, self.spacing)
        bx = self._batch(self.n, gen) if self.batch_mode in ("both", "x_only") else None
        by = self._batch(self.m, gen) if self.batch_mode in ("both", "y_only") else None
        x = apply_layout(x.to(device), self.layout_x)
        y = apply_layout(y.to(device), self.layout_y)
        bx = None if bx is None else bx.to(device)
        by = None if by is None else by.to(device)
        return x, y, bx, by


def apply_layout(p: torch.Tensor, layout: str) -> torch.Tensor:
    """The same values as `p` ([N, D]) in another memory layout."""
    if layout == "contiguous":
        out = p
    elif layout == "transposed":  # column-major [N, D]
        out = p.t().contiguous().t()
    elif layout == "row_sliced":  # every other row of a bigger tensor
        out = p.repeat_interleave(2, dim=0)[::2]
    elif layout == "col_sliced":  # every other column of a wider tensor
        out = p.repeat_interleave(2, dim=1)[:, ::2]
    elif layout == "flat":  # 1-D [N] input, itself strided (only for D == 1)
        out = p.reshape(-1).repeat_interleave(2)[::2]
    else:
        raise AssertionError(layout)
    assert torch.equal(out.reshape(p.shape), p)
    return out


@st.composite
def clouds(draw, max_points: int = 300, graph: bool = False) -> Cloud:
    dim = draw(st.integers(1, 5))
    kind = draw(st.sampled_from(KINDS))
    spacing = 0.0
    if kind == "lattice":
        # r is the lattice spacing times 1, sqrt(2) or 2: many pairs lie at
        # (or, after rounding to the dtype, within an ulp of) distance r.
        spacing = draw(st.sampled_from([0.1, 0.25, 0.3, 1.0]))
        r = spacing * draw(st.sampled_from([1.0, math.sqrt(2.0), 2.0]))
    else:
        r = R_BY_SCALE[draw(st.sampled_from(sorted(R_BY_SCALE)))]
    layouts = LAYOUTS if dim == 1 else LAYOUTS[:-1]
    batch_mode = draw(st.sampled_from(["none", "both"] if graph else ["none", "both", "x_only", "y_only"]))
    # With one side unbatched (all zeros), shifting the other side's ids would
    # only remove every pair; shift them when both sides are batched.
    first = draw(st.sampled_from([0, 0, 1, 4])) if batch_mode == "both" else 0
    return Cloud(
        dtype=draw(st.sampled_from(DTYPES)),
        dim=dim,
        n=draw(st.integers(0, max_points)),
        m=0 if graph else draw(st.integers(0, max_points)),
        kind=kind,
        r=r,
        spacing=spacing,
        seed=draw(st.integers(0, 2**31 - 1)),
        layout_x=draw(st.sampled_from(layouts)),
        layout_y=draw(st.sampled_from(layouts)),
        batch_mode=batch_mode,
        segments=draw(st.integers(1, 6)),
        stride=draw(st.sampled_from([1, 2, 3])),
        first=first,
    )


def needed_batch_size(*batches: Optional[torch.Tensor]) -> int:
    ids = [int(b.max()) for b in batches if b is not None and b.numel()]
    return max(ids, default=0) + 1


# --------------------------------------------------------------------------
# Checking helpers
# --------------------------------------------------------------------------


def _cpu(t: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    return None if t is None else t.cpu()


def _assert_edges(out: torch.Tensor, expected: torch.Tensor, device) -> None:
    assert out.dtype == torch.int64
    assert out.device.type == torch.device(device).type
    assert out.dim() == 2 and out.shape[0] == 2
    assert torch.equal(out.cpu(), expected), (
        f"got {out.shape[1]} edges, expected {expected.shape[1]}\n"
        f"got:\n{out.cpu()}\nexpected:\n{expected}"
    )


def check_radius(x, y, r, bx=None, by=None, k=32, ignore=False, batch_size=None):
    inputs = [t.clone() for t in (x, y, bx, by) if t is not None]
    out = ext.radius(x, y, r, bx, by, max_num_neighbors=k, batch_size=batch_size,
                       ignore_same_index=ignore)
    expected = radius_ref(x, y, r, bx, by, k, ignore)
    _assert_edges(out, expected, x.device)
    # The registered op gives the same, and the inputs are left untouched.
    op = OPS.radius(x, y, r, bx, by, k, ignore, batch_size)
    assert torch.equal(op, out)
    assert all(torch.equal(a, b) for a, b in zip(inputs, (t for t in (x, y, bx, by) if t is not None)))
    if x.device.type != "cpu":
        on_cpu = ext.radius(x.cpu(), y.cpu(), r, _cpu(bx), _cpu(by), max_num_neighbors=k,
                              batch_size=batch_size, ignore_same_index=ignore)
        assert torch.equal(out.cpu(), on_cpu), "CUDA and CPU kernels disagree"
    return out


def check_radius_graph(x, r, batch=None, loop=False, k=32, flow="source_to_target", batch_size=None):
    out = ext.radius_graph(x, r, batch, loop, k, flow, batch_size=batch_size)
    expected = radius_graph_ref(x, r, batch, loop, k, flow)
    _assert_edges(out, expected, x.device)
    op = OPS.radius_graph(x, r, batch, loop, k, flow, batch_size)
    assert torch.equal(op, out)
    if x.device.type != "cpu":
        on_cpu = ext.radius_graph(x.cpu(), r, _cpu(batch), loop, k, flow, batch_size=batch_size)
        assert torch.equal(out.cpu(), on_cpu), "CUDA and CPU kernels disagree"
    return out


# --------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------


def _events(out, x, y, r, bx, by, k, ignore):
    """Let --hypothesis-show-statistics tell how often the cases are non-trivial."""
    event("edges: none" if out.shape[1] == 0 else "edges: some")
    if k is not None and out.shape[1]:
        unlimited = radius_ref(x, y, r, bx, by, None, ignore)
        event("max_num_neighbors truncated" if unlimited.shape[1] > out.shape[1] else "not truncated")


@given(
    case=clouds(),
    k=st.sampled_from(K_VALUES),
    ignore=st.booleans(),
    batch_size_extra=st.none() | st.integers(0, 2),
)
def test_radius_matches_reference(device, case, k, ignore, batch_size_extra):
    x, y, bx, by = case.build(device)
    bs = None if batch_size_extra is None else needed_batch_size(bx, by) + batch_size_extra
    out = check_radius(x, y, case.r, bx, by, k, ignore, bs)
    _events(out, x, y, case.r, bx, by, k, ignore)


@given(
    case=clouds(graph=True),
    k=st.sampled_from(K_VALUES),
    loop=st.booleans(),
    flow=st.sampled_from(FLOWS),
    batch_size_extra=st.none() | st.integers(0, 2),
)
def test_radius_graph_matches_reference(device, case, k, loop, flow, batch_size_extra):
    x, _, batch, _ = case.build(device)
    bs = None if batch_size_extra is None else needed_batch_size(batch) + batch_size_extra
    out = check_radius_graph(x, case.r, batch, loop, k, flow, bs)
    _events(out, x, x, case.r, batch, batch, k, not loop)


@st.composite
def integer_sets(draw):
    """Few points on a small integer grid: many ties and many pairs at exactly r
    (empty sets are covered by test_empty_inputs)."""
    dim = draw(st.integers(1, 3))
    point = st.lists(st.integers(-1, 1), min_size=dim, max_size=dim)
    xs = draw(st.lists(point, min_size=1, max_size=12))
    ys = draw(st.lists(point, min_size=1, max_size=12))
    bx = sorted(draw(st.lists(st.integers(0, 2), min_size=len(xs), max_size=len(xs))))
    by = sorted(draw(st.lists(st.integers(0, 2), min_size=len(ys), max_size=len(ys))))
    use_batch = draw(st.booleans())
    return dim, xs, ys, (bx if use_batch else None), (by if use_batch else None)


@given(
    sets=integer_sets(),
    dtype=st.sampled_from(DTYPES),
    r=st.sampled_from([0.5, 1.0, math.sqrt(2.0), 1.5, 2.0, 3.0]),
    k=st.sampled_from(K_VALUES),
    ignore=st.booleans(),
    loop=st.booleans(),
    flow=st.sampled_from(FLOWS),
)
def test_small_integer_sets(device, sets, dtype, r, k, ignore, loop, flow):
    dim, xs, ys, bx, by = sets
    x = torch.tensor(xs, dtype=dtype).reshape(len(xs), dim).to(device)
    y = torch.tensor(ys, dtype=dtype).reshape(len(ys), dim).to(device)
    bx = None if bx is None else torch.tensor(bx, dtype=torch.long, device=device)
    by = None if by is None else torch.tensor(by, dtype=torch.long, device=device)
    _events(check_radius(x, y, r, bx, by, k, ignore), x, y, r, bx, by, k, ignore)
    check_radius_graph(x, r, bx, loop, k, flow)


# --------------------------------------------------------------------------
# Hand-verified examples
# --------------------------------------------------------------------------

SQUARE = [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_cluster_radius_docstring_example(device, dtype):
    # torch_cluster.radius's docstring: y0 = (-1, 0) is at distance 1 from x0
    # and x1 and sqrt(5) from x2, x3; y1 = (1, 0) mirrors it.
    x = torch.tensor(SQUARE, dtype=dtype, device=device)
    y = torch.tensor([[-1.0, 0.0], [1.0, 0.0]], dtype=dtype, device=device)
    bx = torch.tensor([0, 0, 0, 0], device=device)
    by = torch.tensor([0, 0], device=device)
    expected = torch.tensor([[0, 0, 1, 1], [0, 1, 2, 3]])
    _assert_edges(ext.radius(x, y, 1.5, bx, by), expected, device)
    _assert_edges(ext.radius(x, y, 1.5), expected, device)
    check_radius(x, y, 1.5, bx, by)
    # r == 1 exactly: the four pairs at distance 1 are not edges (strict <).
    _assert_edges(ext.radius(x, y, 1.0), torch.empty(2, 0, dtype=torch.long), device)


@pytest.mark.parametrize("dtype", DTYPES)
def test_square_radius_graph_by_hand(device, dtype):
    x = torch.tensor(SQUARE, dtype=dtype, device=device)
    # Sides have length 2, diagonals 2*sqrt(2): with r = 2.5 each corner has
    # its two side-neighbours. Node 0 -> 1, 2; 1 -> 0, 3; 2 -> 0, 3; 3 -> 1, 2.
    centre = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    neighbour = torch.tensor([1, 2, 0, 3, 0, 3, 1, 2])
    _assert_edges(ext.radius_graph(x, 2.5), torch.stack([neighbour, centre]), device)
    _assert_edges(ext.radius_graph(x, 2.5, flow="target_to_source"),
                  torch.stack([centre, neighbour]), device)
    # r == side length: nothing (strict <); with loops only the self-loops.
    _assert_edges(ext.radius_graph(x, 2.0), torch.empty(2, 0, dtype=torch.long), device)
    _assert_edges(ext.radius_graph(x, 2.0, loop=True), torch.tensor([[0, 1, 2, 3]] * 2), device)
    # Two examples of two points each: 0-1 and 2-3 are the only pairs.
    batch = torch.tensor([0, 0, 1, 1], device=device)
    _assert_edges(ext.radius_graph(x, 2.5, batch), torch.tensor([[1, 0, 3, 2], [0, 1, 2, 3]]), device)
    # Everything within r = 3, with loops: all 16 pairs, grouped by centre.
    full = torch.cartesian_prod(torch.arange(4), torch.arange(4)).t()
    _assert_edges(ext.radius_graph(x, 3.0, loop=True, flow="target_to_source"), full, device)
    _assert_edges(ext.radius_graph(x, 3.0, loop=True), full.flip(0), device)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_num_neighbors_by_hand(device, dtype):
    # 1-D points; query 1.25 is at distance 1.25, 0.25, 0.25, 1.75, 0.75 from them.
    x = torch.tensor([0.0, 1.0, 1.5, 3.0, 2.0], dtype=dtype, device=device)
    y = torch.tensor([1.25], dtype=dtype, device=device)
    everything = torch.tensor([[0, 0, 0, 0, 0], [0, 1, 2, 3, 4]])
    _assert_edges(ext.radius(x, y, 2.0, max_num_neighbors=None), everything, device)
    # Nearest two: x1 and x2 (a tie at 0.25). Nearest one: the tie goes to x1.
    _assert_edges(ext.radius(x, y, 2.0, max_num_neighbors=2), torch.tensor([[0, 0], [1, 2]]), device)
    _assert_edges(ext.radius(x, y, 2.0, max_num_neighbors=1), torch.tensor([[0], [1]]), device)
    # Nearest three add x4 (0.75); the output is still in index order.
    _assert_edges(ext.radius(x, y, 2.0, max_num_neighbors=3),
                  torch.tensor([[0, 0, 0], [1, 2, 4]]), device)
    _assert_edges(ext.radius(x, y, 2.0, max_num_neighbors=0), torch.empty(2, 0, dtype=torch.long), device)


@pytest.mark.parametrize("dtype", DTYPES)
def test_default_max_num_neighbors_is_32(device, dtype):
    # 40 identical points: every pair ties at distance 0, so the 32 kept per
    # centre are the 32 smallest indices (skipping the centre without loops).
    n = 40
    x = torch.full((n, 3), 0.5, dtype=dtype, device=device)
    out = ext.radius(x, x[:2], 1.0)
    expected = torch.stack([torch.arange(2).repeat_interleave(32), torch.arange(32).repeat(2)])
    _assert_edges(out, expected, device)

    centres, neighbours = [], []
    for i in range(n):
        kept = [j for j in range(n) if j != i][:32]
        centres += [i] * len(kept)
        neighbours += kept
    _assert_edges(ext.radius_graph(x, 1.0), torch.tensor([neighbours, centres]), device)
    assert ext.radius_graph(x, 1.0, max_num_neighbors=None).shape == (2, n * (n - 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_batch", [False, True])
def test_empty_inputs(device, dtype, with_batch):
    empty = torch.empty(2, 0, dtype=torch.long)
    some = torch.rand(5, 3, dtype=torch.float64).to(dtype).to(device)
    none = torch.empty(0, 3, dtype=dtype, device=device)
    b_some = torch.tensor([0, 0, 1, 1, 2], device=device) if with_batch else None
    b_none = torch.empty(0, dtype=torch.long, device=device) if with_batch else None
    _assert_edges(ext.radius(none, some, 1.0, b_none, b_some), empty, device)
    _assert_edges(ext.radius(some, none, 1.0, b_some, b_none), empty, device)
    _assert_edges(ext.radius(none, none, 1.0, b_none, b_none), empty, device)
    _assert_edges(ext.radius_graph(none, 1.0, b_none, loop=True), empty, device)
    # 1-D empty input.
    _assert_edges(ext.radius_graph(none[:, 0], 1.0, b_none), empty, device)
    _assert_edges(ext.radius(some[:, 0], none[:, 0], 1.0, b_some, b_none), empty, device)


def test_one_dimensional_input_is_n_by_1(device):
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(200, generator=gen) * 10).to(device)
    y = (torch.rand(50, generator=gen) * 10).to(device)
    a = ext.radius(x, y, 0.3, max_num_neighbors=None)
    assert torch.equal(a, ext.radius(x[:, None], y[:, None], 0.3, max_num_neighbors=None))
    check_radius(x, y, 0.3, k=None)
    b = ext.radius_graph(x, 0.3, loop=True, max_num_neighbors=5)
    assert torch.equal(b, ext.radius_graph(x[:, None], 0.3, loop=True, max_num_neighbors=5))
    check_radius_graph(x, 0.3, None, True, 5)


# --------------------------------------------------------------------------
# Bigger inputs, threads, scipy
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [2, 3, 4])
def test_larger_input_matches_reference(device, dim):
    # 2000 x 2000 pairs: big enough for several grid cells per axis and for
    # the CPU kernel to split the queries over threads (grain 256).
    gen = torch.Generator().manual_seed(dim)
    x = torch.rand(2000, dim, generator=gen).to(device)
    y = torch.rand(1500, dim, generator=gen).to(device)
    bx = (torch.arange(2000) * 3 // 2000).to(device)  # ids 0, 1, 2
    by = (torch.arange(1500) * 2 // 1500 * 2).to(device)  # ids 0, 2 (1 empty)
    r = {2: 0.05, 3: 0.12, 4: 0.2}[dim]
    check_radius(x, y, r, bx, by, k=None)
    check_radius(x, y, r, bx, by, k=8)
    check_radius_graph(x, r, bx, False, 16)


def test_thread_count_does_not_change_result():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(3000, 3, generator=gen)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ext.radius_graph(x, 0.08, max_num_neighbors=10)
        torch.set_num_threads(max(2, before))
        many = ext.radius_graph(x, 0.08, max_num_neighbors=10)
    finally:
        torch.set_num_threads(before)
    assert one.shape[1] > 3000
    assert torch.equal(one, many)


def test_num_workers_is_accepted_and_ignored(device):
    x = torch.rand(100, 3, device=device)
    assert torch.equal(ext.radius_graph(x, 0.3, num_workers=4), ext.radius_graph(x, 0.3))
    assert torch.equal(ext.radius(x, x[:10], 0.3, num_workers=4), ext.radius(x, x[:10], 0.3))


def _far_from_r(a: np.ndarray, b: np.ndarray, pairs: np.ndarray, r: float) -> np.ndarray:
    """Pairs (rows of indices into a and b) whose distance is not within 1e-5 of r."""
    d = np.linalg.norm(a[pairs[:, 0]] - b[pairs[:, 1]], axis=1)
    return pairs[np.abs(d - r) > 1e-5]


def _codes(pairs: np.ndarray, n: int) -> np.ndarray:
    return np.sort(pairs[:, 0].astype(np.int64) * n + pairs[:, 1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_scipy_ckdtree(device, dtype):
    spatial = pytest.importorskip("scipy.spatial")
    n, r = 20_000, 0.07  # about 30 neighbours per point inside the unit cube
    gen = torch.Generator().manual_seed(2024)
    x = torch.rand(n, 3, generator=gen, dtype=torch.float64).to(dtype)
    xn = x.double().numpy()
    tree = spatial.cKDTree(xn)

    # radius_graph vs query_pairs (unordered pairs i < j, distance <= r).
    e = ext.radius_graph(x.to(device), r, max_num_neighbors=None).cpu().numpy()
    assert e.shape[1] > 20 * n
    # Symmetric: every edge appears in both directions.
    assert np.array_equal(_codes(e.T, n), _codes(e[::-1].T, n))
    ours = e.T[e[0] < e[1]]
    theirs = tree.query_pairs(r, output_type="ndarray")
    np.testing.assert_array_equal(
        _codes(_far_from_r(xn, xn, ours, r), n), _codes(_far_from_r(xn, xn, theirs, r), n)
    )

    # radius vs query_ball_point, for 2000 query points.
    y = torch.rand(2000, 3, generator=gen, dtype=torch.float64).to(dtype)
    yn = y.double().numpy()
    ours = ext.radius(x.to(device), y.to(device), r, max_num_neighbors=None).cpu().numpy().T
    balls = tree.query_ball_point(yn, r)
    theirs = np.array([(i, j) for i, js in enumerate(balls) for j in js], dtype=np.int64)
    # Our rows index (y, x); _far_from_r wants (index into first, into second).
    np.testing.assert_array_equal(
        _codes(_far_from_r(yn, xn, ours, r), n), _codes(_far_from_r(yn, xn, theirs, r), n)
    )


# --------------------------------------------------------------------------
# torch.ops and the Python wrappers
# --------------------------------------------------------------------------


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("loop", [False, True])
@pytest.mark.parametrize("k", K_VALUES)
def test_torch_ops_radius_graph_is_the_python_function(device, flow, loop, k):
    gen = torch.Generator().manual_seed(7)
    x = torch.rand(300, 3, generator=gen).to(device)
    batch = (torch.arange(300) // 100).to(device)
    a = OPS.radius_graph(x, 0.2, batch, loop, k, flow, None)
    b = ext.radius_graph(x, 0.2, batch, loop, k, flow)
    assert (a.shape[1] > 0) == (k != 0)
    assert torch.equal(a, b)
    assert torch.equal(a.cpu(), radius_graph_ref(x, 0.2, batch, loop, k, flow))


def test_torch_ops_defaults_match_python_defaults(device):
    x = torch.rand(300, 3, device=device)
    y = torch.rand(40, 3, device=device)
    assert torch.equal(OPS.radius_graph(x, 0.3), ext.radius_graph(x, 0.3))
    assert torch.equal(OPS.radius(x, y, 0.3), ext.radius(x, y, 0.3))
    # Both defaults are max_num_neighbors=32, loop=False, source_to_target.
    assert torch.equal(ext.radius_graph(x, 0.3).cpu(), radius_graph_ref(x, 0.3, None, False, 32))
    assert torch.equal(ext.radius(x, y, 0.3).cpu(), radius_ref(x, y, 0.3, None, None, 32))


# --------------------------------------------------------------------------
# Extreme coordinates
# --------------------------------------------------------------------------


def test_float64_coordinates_near_the_range_limit(device):
    # Extent 1.6e308 (finite): distances between the far points overflow to
    # inf and are never < r**2; the points near 0 still find each other.
    x = torch.tensor([[-8e307, 0.0], [8e307, 0.0], [0.0, 0.0], [0.5, 0.0]], dtype=torch.float64,
                     device=device)
    expected = torch.tensor([[0, 1, 2, 3, 2, 3], [0, 1, 2, 2, 3, 3]])
    _assert_edges(ext.radius_graph(x, 1.0, loop=True), expected, device)
    check_radius_graph(x, 1.0, loop=True)
    check_radius_graph(x, 1e308, loop=True)


def test_float64_extent_beyond_double_range_does_not_hang(tmp_path, device):
    # Every coordinate is finite, so this is valid input; expected: only the
    # self-loops (the two points are 2e308 apart, an infinite float64 distance).
    proc = None
    try:
        proc = run_python(
            f"""
            import torch, {IMPORT} as ext
            x = torch.tensor([[-1e308], [1e308]], dtype=torch.float64, device={str(device)!r})
            print(ext.radius_graph(x, 1.0, loop=True).tolist())
            """,
            cwd=tmp_path,
            timeout=15,
        )
    except Exception as e:  # subprocess.TimeoutExpired: the call hung
        pytest.fail(f"{IMPORT}.radius_graph did not return within 15 s: {e}")
    assert proc.returncode == 0, describe(proc)
    x = torch.tensor([[-1e308], [1e308]], dtype=torch.float64)
    assert proc.stdout.strip() == str(radius_graph_ref(x, 1.0, loop=True).tolist())


def test_pair_dist2_is_what_the_docs_say():
    # A sanity check of the reference itself on values with exact results.
    x = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]])
    y = torch.tensor([[1.0, 0.0, 0.0]])
    assert torch.equal(pair_dist2(x, y), torch.tensor([[1.0, 8.0]]))
    assert pair_dist2(x.half(), y.half()).dtype == torch.float32
    assert pair_dist2(x.double(), y.double()).dtype == torch.float64


def test_result_is_exact_after_calls_of_other_sizes(device):
    """The CUDA small-input search allocates its output before it knows the
    edge count, from the previous call's edges per query (radius_kernel.cpp's
    edge_guess): a dense call after a sparse one takes the refill path, a
    sparse one after a dense one the copy-out. Each result equals the CPU's,
    is contiguous, and holds at most about twice its own memory."""
    g = torch.Generator().manual_seed(5)
    pos = torch.rand(300, 3, generator=g)
    batch = torch.sort(torch.randint(0, 3, (300,), generator=g)).values
    for r in (0.05, 0.9, 0.05, 0.3):
        want = ext.radius_graph(pos, r, batch, max_num_neighbors=None)
        got = ext.radius_graph(pos.to(device), r, batch.to(device), max_num_neighbors=None)
        assert torch.equal(got.cpu(), want) and got.is_contiguous()
        assert got.untyped_storage().nbytes() <= 16 * (2 * got.shape[1] + 4096)


def test_calls_from_threads_and_streams_and_after_an_error_are_exact(device):
    """The CUDA small-input search reports its edge count and checks straight
    into this thread's host memory and leaves its device-side checks zeroed
    for the next call (cuda/scratch.h's tickets and self-zeroing scratch): calls
    from two threads at once, on a side stream, and right after a call that
    raised for bad data must each return exactly the CPU's edges."""
    import threading

    g = torch.Generator().manual_seed(11)
    cases = []
    for n in (20, 300, 2000):
        pos = torch.rand(n, 3, generator=g)
        batch = torch.sort(torch.randint(0, 4, (n,), generator=g)).values
        cases.append((pos, batch, ext.radius_graph(pos, 0.2, batch)))
    on_device = [(p.to(device), b.to(device), want) for p, b, want in cases]
    bad = on_device[1][0].clone()
    bad[7, 1] = float("nan")
    failures = []

    def rounds(count, side_stream):
        stream = torch.cuda.Stream(device) if side_stream else None
        for _ in range(count):
            for pos, batch, want in on_device:
                if stream is None:
                    got = ext.radius_graph(pos, 0.2, batch)
                else:
                    stream.wait_stream(torch.cuda.current_stream(device))
                    with torch.cuda.stream(stream):
                        got = ext.radius_graph(pos, 0.2, batch)
                    torch.cuda.current_stream(device).wait_stream(stream)
                if not torch.equal(got.cpu(), want):
                    failures.append(f"{pos.shape[0]} points: {tuple(got.shape)}")
            try:
                ext.radius_graph(bad, 0.2, on_device[1][1])
                failures.append("NaN accepted")
            except RuntimeError as e:
                if "NaN or infinite" not in str(e):
                    failures.append(str(e))

    def run(count, side_stream=False):
        try:  # a thread's exception would not fail the test by itself
            rounds(count, side_stream)
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(repr(e))

    side = device.type == "cuda"
    threads = [threading.Thread(target=run, args=(20, side)) for _ in range(2)]
    for t in threads:
        t.start()
    run(20)  # the main thread too, on the current stream
    for t in threads:
        t.join()
    assert not failures
