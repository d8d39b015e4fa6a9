"""The fixed-shape ops (radius_padded, radius_graph_padded): their result is
the exact op's, cut or padded to the capacity, with the true count; overflow
and bad input are never silent (check_padded raises); on CUDA they run with
no sync, so they can be captured in a CUDA graph and replayed with new
positions, and they compile under torch.compile (static shapes, no graph
break).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch

from names import NS, OPS, REPO_ROOT, ext

sync_free = pytest.mark.skipif(os.environ.get("EXT_CUDA_BRUTE") == "0",
                               reason="EXT_CUDA_BRUTE=0 turns the sync-free CUDA search off")

CASES = [  # points, molecules, r, max_num_neighbors, loop, flow
    (60, 4, 0.5, None, False, "source_to_target"),
    (60, 4, 0.5, 3, False, "target_to_source"),
    (200, 1, 0.3, 32, True, "source_to_target"),
    (33, 33, 0.9, None, False, "source_to_target"),  # one point per example: no edges
]


def molecules(n: int, parts: int, device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    pos = torch.rand(n, 3, generator=g)
    batch = torch.sort(torch.randint(0, parts, (n,), generator=g)).values
    return pos.to(device), batch.to(device)


def assert_padded(padded, exact: torch.Tensor, capacity: int) -> None:
    edges, count = padded
    kept = min(exact.shape[1], capacity)
    assert edges.shape == (2, capacity) and edges.dtype == torch.long
    assert count.shape == () and count.dtype == torch.long and count.device == exact.device
    assert int(count) == exact.shape[1]
    assert torch.equal(edges[:, :kept], exact[:, :kept])
    assert bool((edges[:, kept:] == -1).all())


@pytest.mark.parametrize("n,parts,r,k,loop,flow", CASES)
def test_graph_padded_is_the_exact_result_cut_or_padded(device, n, parts, r, k, loop, flow):
    pos, batch = molecules(n, parts, device)
    exact = ext.radius_graph(pos, r, batch, loop=loop, max_num_neighbors=k, flow=flow)
    e = exact.shape[1]
    for capacity in sorted({0, max(e - 1, 0), e, e + 7}):
        got = ext.radius_graph_padded(pos, r, capacity, batch, loop=loop, max_num_neighbors=k,
                                      flow=flow)
        assert_padded(got, exact, capacity)


@pytest.mark.parametrize("k", [None, 2])
def test_bipartite_padded_is_the_exact_result(device, k):
    x, bx = molecules(80, 3, device, seed=1)
    y, by = molecules(50, 3, device, seed=2)
    exact = ext.radius(x, y, 0.4, bx, by, max_num_neighbors=k)
    e = exact.shape[1]
    assert e > 10
    for capacity in (e // 2, e, 2 * e):
        assert_padded(ext.radius_padded(x, y, 0.4, capacity, bx, by, max_num_neighbors=k),
                      exact, capacity)


def test_check_padded_names_the_capacity_needed(device):
    pos, batch = molecules(100, 2, device)
    e = ext.radius_graph(pos, 0.5, batch).shape[1]
    _, count = ext.radius_graph_padded(pos, 0.5, e, batch)
    assert ext.check_padded(count, e) == e
    _, count = ext.radius_graph_padded(pos, 0.5, e - 1, batch)
    with pytest.raises(RuntimeError, match=f"{e} edges do not fit capacity={e - 1}.*capacity >= {e}"):
        ext.check_padded(count, e - 1)


@pytest.mark.parametrize("code, message", [
    (-1, "x contains NaN"), (-2, "y contains NaN"), (-3, "non-decreasing order"),
    (-4, "larger batch_size"), (-5, "longer than the sync-free CUDA search"),
    (-7, "not a count a padded op returns")])
def test_check_padded_turns_each_code_into_its_message(code, message):
    # The codes of padded.h, as the CUDA count pass writes them.
    with pytest.raises(RuntimeError, match=rf"{NS}\.check_padded: .*{message}"):
        ext.check_padded(torch.tensor(code), 100)


def test_negative_capacity_is_an_error(device):
    pos, _ = molecules(10, 1, device)
    with pytest.raises(RuntimeError, match=rf"{NS}\.radius_graph_padded: capacity must be >= 0"):
        ext.radius_graph_padded(pos, 0.5, -1)


def bad_inputs(device):
    pos, batch = molecules(40, 2, device)
    nan = pos.clone()
    nan[7, 1] = float("nan")
    return [
        ("nan x", nan, batch, "x contains NaN or infinite coordinates"),
        ("unsorted", pos, batch.flip(0), "non-decreasing order"),
    ]


def test_bad_input_raises_eagerly_on_cpu():
    for _, pos, batch, message in bad_inputs("cpu"):
        with pytest.raises(RuntimeError, match=message):
            ext.radius_graph_padded(pos, 0.5, 100, batch)


@pytest.mark.cuda
@sync_free
def test_bad_input_is_a_negative_count_on_cuda(cuda_device):
    for _, pos, batch, message in bad_inputs(cuda_device):
        _, count = ext.radius_graph_padded(pos, 0.5, 100, batch)
        assert int(count) < 0
        with pytest.raises(RuntimeError, match=message):
            ext.check_padded(count, 100)


def test_opcheck(device):
    pos, batch = molecules(30, 2, device)
    torch.library.opcheck(OPS.radius_graph_padded.default, (pos, 0.5, 64, batch))
    torch.library.opcheck(OPS.radius_padded.default, (pos, pos[:9], 0.5, 64, batch, batch[:9]))


def test_torchscript(device):
    pos, batch = molecules(30, 2, device)
    scripted = torch.jit.script(ext.radius_graph_padded)
    assert_padded(scripted(pos, 0.5, 50, batch), ext.radius_graph(pos, 0.5, batch), 50)
    assert torch.jit.script(ext.check_padded)(scripted(pos, 0.5, 500, batch)[1], 500) >= 0


def masked_degree(pos, batch, capacity: int):
    """What a GNN layer does with the padded result: mask, then aggregate."""
    edges, count = ext.radius_graph_padded(pos, 0.5, capacity, batch)
    real = torch.arange(capacity, device=pos.device) < count
    centre = torch.where(real, edges[1], 0)
    return torch.zeros(pos.shape[0], device=pos.device).index_add_(0, centre, real.float())


def test_compiles_without_graph_breaks(device):
    # aot_eager: the graph capture (fullgraph: no break) and the fake kernels
    # are what this checks; inductor would also need a C++ toolchain here.
    torch._dynamo.reset()
    compiled = torch.compile(masked_degree, fullgraph=True, backend="aot_eager")
    for seed in range(2):
        pos, batch = molecules(50, 3, device, seed=seed)
        assert torch.equal(compiled(pos, batch, 400), masked_degree(pos, batch, 400))


# --------------------------------------------------------------------- CUDA


@pytest.mark.cuda
@pytest.mark.parametrize("op", ["radius_graph", "knn_graph"])
def test_a_segment_too_long_for_the_sync_free_path(cuda_device, op):
    """9,000 points with batch vectors: the sync-free search takes segments of
    at most 2**26 / 9000 points. The unpadded op falls back to the grid (same
    edges as the CPU); the padded one cannot without a sync, so its count says
    why."""
    pos = torch.rand(9000, 3) * 20
    batch = torch.zeros(9000, dtype=torch.long)
    batch[8500:] = 1
    call = {"radius_graph": lambda p, b: ext.radius_graph(p, 1.0, b),
            "knn_graph": lambda p, b: ext.knn_graph(p, 6, b)}[op]
    padded = {"radius_graph": lambda p, b: ext.radius_graph_padded(p, 1.0, 10, b),
              "knn_graph": lambda p, b: ext.knn_graph_padded(p, 6, b)}[op]
    assert torch.equal(call(pos.to(cuda_device), batch.to(cuda_device)).cpu(), call(pos, batch))
    if os.environ.get("EXT_CUDA_BRUTE") == "0":
        return
    edges, count = padded(pos.to(cuda_device), batch.to(cuda_device))
    with pytest.raises(RuntimeError, match="segment is longer than the sync-free"):
        ext.check_padded(count, edges.shape[1])


@pytest.mark.cuda
@sync_free
def test_cuda_graph_capture_and_replay_with_new_positions(cuda_device):
    pos, batch = molecules(300, 12, cuda_device)
    static_pos = pos.clone()
    capacity = 4 * ext.radius_graph(pos, 0.5, batch).shape[1]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up outside the graph (allocator, lazy loading)
        ext.radius_graph_padded(static_pos, 0.5, capacity, batch)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        edges, count = ext.radius_graph_padded(static_pos, 0.5, capacity, batch)
    for seed in range(1, 4):
        new_pos, _ = molecules(300, 12, cuda_device, seed=seed)
        static_pos.copy_(new_pos)
        graph.replay()
        assert_padded((edges, count), ext.radius_graph(new_pos, 0.5, batch), capacity)


@pytest.mark.cuda
def test_capture_of_an_input_too_large_for_the_sync_free_path_says_so(cuda_device):
    pos = torch.rand(10_000, 3, device=cuda_device)
    ext.radius_graph_padded(pos, 0.01, 1000)  # outside a graph: fine (it syncs)
    graph = torch.cuda.CUDAGraph()
    with pytest.raises(RuntimeError, match="CUDA graph capture forbids"):
        with torch.cuda.graph(graph):
            ext.radius_graph_padded(pos, 0.01, 1000)


@pytest.mark.cuda
@sync_free
def test_reduce_overhead_compile(cuda_device):
    torch._dynamo.reset()
    compiled = torch.compile(masked_degree, mode="reduce-overhead", fullgraph=True)
    for seed in range(4):
        pos, batch = molecules(200, 8, cuda_device, seed=seed)
        assert torch.equal(compiled(pos, batch, 2000).clone(), masked_degree(pos, batch, 2000))


# ---------------------------------------------------------------------- knn
@pytest.mark.parametrize("k,parts,loop,cosine", [(3, 4, False, False), (16, 9, True, False),
                                                 (40, 2, False, False), (5, 3, False, True)])
def test_knn_graph_padded_is_the_exact_result_padded(device, k, parts, loop, cosine):
    pos, batch = molecules(90, parts, device)
    exact = ext.knn_graph(pos, k, batch, loop=loop, cosine=cosine)
    assert_padded(ext.knn_graph_padded(pos, k, batch, loop=loop, cosine=cosine), exact, 90 * k)
    unbatched = ext.knn_graph(pos, k, loop=loop, cosine=cosine)
    assert_padded(ext.knn_graph_padded(pos, k, loop=loop, cosine=cosine), unbatched, 90 * k)


def test_knn_padded_bipartite(device):
    x, bx = molecules(70, 3, device, seed=4)
    y, by = molecules(20, 3, device, seed=5)
    assert_padded(ext.knn_padded(x, y, 6, bx, by), ext.knn(x, y, 6, bx, by), 20 * 6)
    torch.library.opcheck(OPS.knn_padded.default, (x, y, 6, bx, by))
    torch.library.opcheck(OPS.knn_graph_padded.default, (x, 4, bx))


@pytest.mark.cuda
@sync_free
def test_knn_graph_padded_in_a_cuda_graph(cuda_device):
    pos, batch = molecules(400, 10, cuda_device)
    static_pos = pos.clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        ext.knn_graph_padded(static_pos, 8, batch)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        edges, count = ext.knn_graph_padded(static_pos, 8, batch)
    for seed in range(1, 3):
        new_pos, _ = molecules(400, 10, cuda_device, seed=seed)
        static_pos.copy_(new_pos)
        graph.replay()
        assert_padded((edges, count), ext.knn_graph(new_pos, 8, batch), 400 * 8)
    nan = pos.clone()
    nan[3, 0] = float("nan")
    with pytest.raises(RuntimeError, match="x contains NaN"):
        ext.check_padded(ext.knn_graph_padded(nan, 8, batch)[1], 400 * 8)


@pytest.mark.cuda
def test_capture_of_an_exact_op_says_to_call_its_padded_form(cuda_device):
    # The exact ops wait on the host for their output size; inside a capture
    # they would wait forever, so they raise first.
    pos, batch = molecules(20, 12, cuda_device)
    ext.radius_graph(pos, 0.5, batch)  # outside a graph: fine
    for exact in (lambda: ext.radius_graph(pos, 0.5, batch), lambda: ext.knn_graph(pos, 4, batch)):
        with pytest.raises(RuntimeError, match="call its _padded form"):
            with torch.cuda.graph(torch.cuda.CUDAGraph()):
                exact()


# ------------------------------------------------------ the documented limits
# The sync-free limits are written once, as constants in the C++ source; the
# API documentation states them in words. Both are read from the checkout.
LIMITS_DOC = Path("docs") / "api.md"
PADDED_H = Path("pkg") / "csrc" / "ops" / "padded.h"
SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")


def checkout() -> Path | None:
    roots = [Path(os.environ["EXT_REPO"])] if os.environ.get("EXT_REPO") else []
    for root in roots + [REPO_ROOT]:
        if (root / LIMITS_DOC).is_file() and (root / PADDED_H).is_file():
            return root
    return None


def brute_constants(header: str) -> dict[str, int]:
    """padded.h's `constexpr int64_t kBrute... = <n> | int64_t(1) << <n>;`."""
    values = {}
    for name, expr in re.findall(r"constexpr int64_t (kBrute\w+) = ([^;]+);", header):
        m = re.fullmatch(r"int64_t\((\d+)\) << (\d+)|(\d+)", expr.strip())
        assert m, f"{PADDED_H}: {name} = {expr}, a form this test does not read"
        values[name] = int(m[1]) << int(m[2]) if m[1] else int(m[3])
    return values


def stated_numbers(text: str) -> list[int]:
    """The numbers in a sentence: 8,192 or 8192, and 2^26, 2**26 or 2²⁶."""
    powers = r"2(?:\^|\*\*)(\d+)|2([⁰¹²³⁴⁵⁶⁷⁸⁹]+)"
    numbers = [2 ** int((a or b).translate(SUPERSCRIPTS)) for a, b in re.findall(powers, text)]
    rest = re.sub(powers, " ", text)
    return numbers + [int(n.replace(",", "")) for n in re.findall(r"\d(?:[\d,]*\d)?", rest)]


def test_the_documented_sync_free_limits_are_padded_hs_constants():
    root = checkout()
    if root is None:
        pytest.skip(f"no checkout with {LIMITS_DOC} and {PADDED_H} (tests run outside the "
                    "repository, EXT_REPO unset)")
    constants = brute_constants((root / PADDED_H).read_text(encoding="utf-8"))
    assert set(constants) == {"kBruteMaxPairs", "kBruteMaxSegment", "kBruteMaxTries"}, constants
    # One list item or paragraph per limit, naming its constant.
    items = re.split(r"\n(?=\s*[-*] )|\n\s*\n", (root / LIMITS_DOC).read_text(encoding="utf-8"))
    for name, value in constants.items():
        stating = [item for item in items if f"`{name}`" in item]
        assert len(stating) == 1, f"{LIMITS_DOC}: one item should state {name}, found {len(stating)}"
        numbers = stated_numbers(stating[0].replace(f"`{name}`", ""))
        assert numbers and set(numbers) == {value}, \
            f"{LIMITS_DOC} states {numbers} for {name}, {PADDED_H} says {value}"
