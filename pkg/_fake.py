"""Fake (meta) kernels so torch.compile and torch.export can trace the ops:
the edge count is data-dependent, so it is an unbacked symbolic size."""

from __future__ import annotations

import torch


def _edges_like(x: torch.Tensor) -> torch.Tensor:
    count = torch.library.get_ctx().new_dynamic_size()
    return x.new_empty((2, count), dtype=torch.long)


def register(namespace: str) -> None:
    @torch.library.register_fake(f"{namespace}::radius")
    def _radius(x, y, r, batch_x=None, batch_y=None, max_num_neighbors=32,
                ignore_same_index=False, batch_size=None):
        return _edges_like(x)

    @torch.library.register_fake(f"{namespace}::radius_graph")
    def _radius_graph(x, r, batch=None, loop=False, max_num_neighbors=32,
                      flow="source_to_target", batch_size=None):
        return _edges_like(x)
