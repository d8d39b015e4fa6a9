"""Fake (meta) kernels so torch.compile and torch.export can trace the ops:
a data-dependent output size is an unbacked symbolic size; knn and
knn_graph without batch vectors have a static one (every query keeps
min(k, candidates)).

They run where the real kernels never do (meta and fake tensors), so they
repeat the real kernels' checks of devices and dtypes, with the same text as
csrc/ops/common/args.cpp, rather than letting torch fail later with a
message about fake-tensor device propagation.

Each fake is a function decorated with @fake("<op>") (_loader.py registers
them); its first argument is the op's name as messages spell it
("<namespace>.<op>"), the rest are the schema's arguments.
"""

from __future__ import annotations

from typing import Optional

import torch

from ._loader import fake


def check_same_kind(op: str, x: torch.Tensor, y: torch.Tensor) -> None:
    """The fake twin of common/args.cpp's check_same_kind (dtype, then device)."""
    if x.dtype != y.dtype:
        raise RuntimeError(f"{op}: x is {_dtype(x)} but y is {_dtype(y)}; convert both to one dtype")
    if x.device != y.device:
        raise RuntimeError(f"{op}: x is on {x.device} but y is on {y.device}; move both to one device")


def check_batch_device(op: str, name: str, batch: Optional[torch.Tensor], pts: torch.Tensor,
                       pts_name: str) -> None:
    """The device check of common/args.cpp's as_batch."""
    if batch is not None and batch.device != pts.device:
        raise RuntimeError(f"{op}: {name} is on {batch.device} but {pts_name} is on {pts.device}; "
                           "move both to one device")


def _dtype(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def _edges_like(x: torch.Tensor) -> torch.Tensor:
    count = torch.library.get_ctx().new_dynamic_size()
    return x.new_empty((2, count), dtype=torch.long)


@fake("radius")
def _radius(op, x, y, r, batch_x=None, batch_y=None, max_num_neighbors=32,
            ignore_same_index=False, batch_size=None):
    check_same_kind(op, x, y)
    check_batch_device(op, "batch_x", batch_x, x, "x")
    check_batch_device(op, "batch_y", batch_y, y, "y")
    return _edges_like(x)


@fake("radius_graph")
def _radius_graph(op, x, r, batch=None, loop=False, max_num_neighbors=32,
                  flow="source_to_target", batch_size=None):
    check_batch_device(op, "batch", batch, x, "x")
    return _edges_like(x)


def _padded(x: torch.Tensor, capacity: int):
    """The fixed-shape result: [2, capacity] edges and the count, both static."""
    return x.new_empty((2, capacity), dtype=torch.long), x.new_empty((), dtype=torch.long)


@fake("radius_padded")
def _radius_padded(op, x, y, r, capacity, batch_x=None, batch_y=None, max_num_neighbors=32,
                   ignore_same_index=False, batch_size=None):
    check_same_kind(op, x, y)
    check_batch_device(op, "batch_x", batch_x, x, "x")
    check_batch_device(op, "batch_y", batch_y, y, "y")
    return _padded(x, capacity)


@fake("radius_graph_padded")
def _radius_graph_padded(op, x, r, capacity, batch=None, loop=False, max_num_neighbors=32,
                         flow="source_to_target", batch_size=None):
    check_batch_device(op, "batch", batch, x, "x")
    return _padded(x, capacity)


def _edges(x: torch.Tensor, queries, kept) -> torch.Tensor:
    return x.new_empty((2, queries * torch.sym_max(0, kept)), dtype=torch.long)


@fake("knn")
def _knn(op, x, y, k, batch_x=None, batch_y=None, cosine=False, batch_size=None):
    check_same_kind(op, x, y)
    check_batch_device(op, "batch_x", batch_x, x, "x")
    check_batch_device(op, "batch_y", batch_y, y, "y")
    if batch_x is not None or batch_y is not None:
        return _edges_like(x)
    return _edges(x, y.shape[0], torch.sym_min(k, x.shape[0]))


@fake("knn_graph")
def _knn_graph(op, x, k, batch=None, loop=False, flow="source_to_target", cosine=False,
               batch_size=None):
    check_batch_device(op, "batch", batch, x, "x")
    if batch is not None:
        return _edges_like(x)
    n = x.shape[0]
    return _edges(x, n, torch.sym_min(k, n if loop else n - 1))


@fake("knn_padded")
def _knn_padded(op, x, y, k, batch_x=None, batch_y=None, cosine=False, batch_size=None):
    check_same_kind(op, x, y)
    check_batch_device(op, "batch_x", batch_x, x, "x")
    check_batch_device(op, "batch_y", batch_y, y, "y")
    return _padded(x, y.shape[0] * k)


@fake("knn_graph_padded")
def _knn_graph_padded(op, x, k, batch=None, loop=False, flow="source_to_target", cosine=False,
                      batch_size=None):
    check_batch_device(op, "batch", batch, x, "x")
    return _padded(x, x.shape[0] * k)
