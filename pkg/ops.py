"""The Python API: torch-cluster's signatures over the registered ops.

All functions are TorchScript-compatible, so scripted models that called
torch_cluster.radius / radius_graph / knn / knn_graph switch by changing the
import.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from ._build_info import read

_ops = getattr(torch.ops, read()["ops_namespace"])

#: What the package exports (each op's wrapper adds its name).
__all__ = ["radius", "radius_graph", "knn", "knn_graph", "radius_padded", "radius_graph_padded",
           "knn_padded", "knn_graph_padded", "check_padded"]


def radius(
    x: torch.Tensor,
    y: torch.Tensor,
    r: float,
    batch_x: Optional[torch.Tensor] = None,
    batch_y: Optional[torch.Tensor] = None,
    max_num_neighbors: Optional[int] = 32,
    num_workers: int = 1,
    batch_size: Optional[int] = None,
    ignore_same_index: bool = False,
) -> torch.Tensor:
    """For each point in ``y``, the points of ``x`` closer than ``r``.

    Returns ``[2, E]`` int64 edges ``(index into y, index into x)`` for every
    pair with squared distance ``< r**2`` in the same batch segment, sorted by
    y index then x index. At most ``max_num_neighbors`` per y point are kept:
    the nearest, ties broken by the smaller x index (``None``: all).
    ``batch_x``/``batch_y`` are sorted int64 example ids (``None``: one
    example). ``num_workers`` is accepted for torch-cluster compatibility; CPU
    threads follow ``torch.set_num_threads``. Distances are computed in
    float32 (float64 for float64 input). Invalid input raises RuntimeError.
    """
    return _ops.radius(x, y, r, batch_x, batch_y, max_num_neighbors, ignore_same_index, batch_size)


def radius_graph(
    x: torch.Tensor,
    r: float,
    batch: Optional[torch.Tensor] = None,
    loop: bool = False,
    max_num_neighbors: Optional[int] = 32,
    flow: str = "source_to_target",
    num_workers: int = 1,
    batch_size: Optional[int] = None,
) -> torch.Tensor:
    """Edges between all points of ``x`` closer than ``r`` (same batch segment).

    ``flow='source_to_target'`` (default) gives rows ``(neighbour j, centre
    i)``; ``'target_to_source'`` gives ``(i, j)``. Self-loops only with
    ``loop=True``. Edges are grouped by centre i ascending, then j ascending;
    ``max_num_neighbors`` keeps the nearest per centre. See :func:`radius`.
    """
    return _ops.radius_graph(x, r, batch, loop, max_num_neighbors, flow, batch_size)


def knn(
    x: torch.Tensor,
    y: torch.Tensor,
    k: int,
    batch_x: Optional[torch.Tensor] = None,
    batch_y: Optional[torch.Tensor] = None,
    cosine: bool = False,
    num_workers: int = 1,
    batch_size: Optional[int] = None,
) -> torch.Tensor:
    """For each point in ``y``, its ``k`` nearest points in ``x``.

    Returns ``[2, E]`` int64 edges ``(index into y, index into x)``. Each y
    point gets exactly ``min(k, points of x in its batch segment)`` neighbours
    (never padding, never a point of another segment): the smallest by
    ``(distance, x index)``, so ties go to the smaller index. Edges are sorted
    by y index, then nearest first (distance ascending, ties by x index).

    Distance: the squared Euclidean distance, or with ``cosine=True``
    ``1 - dot(x, y) / (|x| |y|)`` (1 where a vector is zero). Computed in
    float32 (float64 for float64 input), summed over dimensions in order,
    each step rounded, no fused multiply-add: CPU and CUDA return identical
    tensors. ``batch_x``/``batch_y`` are sorted int64 example ids (``None``:
    one example). ``num_workers`` is accepted for torch-cluster
    compatibility; CPU threads follow ``torch.set_num_threads``. Invalid
    input (``k < 1``, NaN/inf coordinates, unsorted batches, ...) raises
    RuntimeError.
    """
    return _ops.knn(x, y, k, batch_x, batch_y, cosine, batch_size)


def knn_graph(
    x: torch.Tensor,
    k: int,
    batch: Optional[torch.Tensor] = None,
    loop: bool = False,
    flow: str = "source_to_target",
    cosine: bool = False,
    num_workers: int = 1,
    batch_size: Optional[int] = None,
) -> torch.Tensor:
    """Edges from every point of ``x`` to its ``k`` nearest points (same batch segment).

    ``flow='source_to_target'`` (default) gives rows ``(neighbour j, centre
    i)``; ``'target_to_source'`` gives ``(i, j)``. Without ``loop`` a point is
    not its own neighbour: each gets ``min(k, segment size - 1)`` others
    (with ``loop=True`` it is a candidate like any other, at distance 0).
    Edges are grouped by centre i ascending, then nearest first (distance
    ascending, ties by the smaller j). See :func:`knn` for distances.
    """
    return _ops.knn_graph(x, k, batch, loop, flow, cosine, batch_size)


def radius_padded(
    x: torch.Tensor,
    y: torch.Tensor,
    r: float,
    capacity: int,
    batch_x: Optional[torch.Tensor] = None,
    batch_y: Optional[torch.Tensor] = None,
    max_num_neighbors: Optional[int] = 32,
    batch_size: Optional[int] = None,
    ignore_same_index: bool = False,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`radius` with a fixed-shape result, for CUDA graphs and
    ``torch.compile(mode="reduce-overhead")``.

    Returns ``(edges, num_edges)``: ``edges`` is ``[2, capacity]`` int64,
    the first ``min(E, capacity)`` edges :func:`radius` would return, then
    ``-1``; ``num_edges`` is ``E`` as an int64 scalar tensor on the inputs'
    device (``torch.arange(capacity) < num_edges`` masks the real edges).
    On CUDA the call does not synchronise on small inputs, those the
    brute-force search takes (its limits: docs/api.md, "Fixed-shape
    results"); larger inputs sync once, and raise under CUDA graph capture.
    It does not raise for bad data or a batch segment too long then:
    ``num_edges`` turns negative. :func:`check_padded` (one sync) raises for
    every problem, overflow included.
    """
    return _ops.radius_padded(x, y, r, capacity, batch_x, batch_y, max_num_neighbors,
                              ignore_same_index, batch_size)


def radius_graph_padded(
    x: torch.Tensor,
    r: float,
    capacity: int,
    batch: Optional[torch.Tensor] = None,
    loop: bool = False,
    max_num_neighbors: Optional[int] = 32,
    flow: str = "source_to_target",
    batch_size: Optional[int] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`radius_graph` with a fixed-shape result ``(edges [2, capacity],
    num_edges)``; see :func:`radius_padded`."""
    return _ops.radius_graph_padded(x, r, capacity, batch, loop, max_num_neighbors, flow,
                                    batch_size)


def knn_padded(
    x: torch.Tensor,
    y: torch.Tensor,
    k: int,
    batch_x: Optional[torch.Tensor] = None,
    batch_y: Optional[torch.Tensor] = None,
    cosine: bool = False,
    batch_size: Optional[int] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`knn` with a fixed-shape result ``(edges [2, len(y) * k],
    num_edges)``: the exact edges first, ``-1`` after them (fewer than
    ``len(y) * k`` only where a segment has fewer than ``k`` points). On CUDA
    no sync on small inputs (the limits: docs/api.md, "Fixed-shape results";
    with batch vectors a segment too long makes ``num_edges`` negative); bad
    data makes ``num_edges`` negative there too (see :func:`radius_padded`,
    :func:`check_padded`)."""
    return _ops.knn_padded(x, y, k, batch_x, batch_y, cosine, batch_size)


def knn_graph_padded(
    x: torch.Tensor,
    k: int,
    batch: Optional[torch.Tensor] = None,
    loop: bool = False,
    flow: str = "source_to_target",
    cosine: bool = False,
    batch_size: Optional[int] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`knn_graph` with a fixed-shape result ``(edges [2, len(x) * k],
    num_edges)``; see :func:`knn_padded`."""
    return _ops.knn_graph_padded(x, k, batch, loop, flow, cosine, batch_size)


def check_padded(num_edges: torch.Tensor, capacity: int) -> int:
    """The edge count of a padded call, raising if the result is not usable:
    more edges than ``capacity`` (the message names the capacity needed), or
    bad input the sync-free CUDA path could only report as a negative count.
    Synchronises once; call it outside the captured region (e.g. every few
    steps, or after the first)."""
    return _ops.check_padded(int(num_edges.item()), capacity)
