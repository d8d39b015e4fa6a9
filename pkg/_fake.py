"""Fake (meta) kernels so torch.compile and torch.export can trace the ops:
the edge count is data-dependent, so it is an unbacked symbolic size.

They run where the real kernels never do (meta and fake tensors), so they
repeat the real kernels' checks of devices and dtypes, with the same text as
csrc/ops/common/args.cpp, rather than letting torch fail later with a
message about fake-tensor device propagation.
"""

from __future__ import annotations

from typing import Optional

import torch


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


def register(namespace: str) -> None:
    @torch.library.register_fake(f"{namespace}::radius")
    def _radius(x, y, r, batch_x=None, batch_y=None, max_num_neighbors=32,
                ignore_same_index=False, batch_size=None):
        op = f"{namespace}.radius"
        check_same_kind(op, x, y)
        check_batch_device(op, "batch_x", batch_x, x, "x")
        check_batch_device(op, "batch_y", batch_y, y, "y")
        return _edges_like(x)

    @torch.library.register_fake(f"{namespace}::radius_graph")
    def _radius_graph(x, r, batch=None, loop=False, max_num_neighbors=32,
                      flow="source_to_target", batch_size=None):
        check_batch_device(f"{namespace}.radius_graph", "batch", batch, x, "x")
        return _edges_like(x)
