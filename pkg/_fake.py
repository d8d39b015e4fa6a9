"""Fake (meta) kernels so torch.compile and torch.export can trace the ops:
where the edge count is data-dependent it is an unbacked symbolic size; knn
and knn_graph without batch vectors have a static count (every query keeps
min(k, candidates))."""

from __future__ import annotations

import torch


def _edges_like(x: torch.Tensor) -> torch.Tensor:
    count = torch.library.get_ctx().new_dynamic_size()
    return x.new_empty((2, count), dtype=torch.long)


def _edges(x: torch.Tensor, queries, kept) -> torch.Tensor:
    return x.new_empty((2, queries * torch.sym_max(0, kept)), dtype=torch.long)


def register(namespace: str) -> None:
    @torch.library.register_fake(f"{namespace}::radius")
    def _radius(x, y, r, batch_x=None, batch_y=None, max_num_neighbors=32,
                ignore_same_index=False, batch_size=None):
        return _edges_like(x)

    @torch.library.register_fake(f"{namespace}::radius_graph")
    def _radius_graph(x, r, batch=None, loop=False, max_num_neighbors=32,
                      flow="source_to_target", batch_size=None):
        return _edges_like(x)

    @torch.library.register_fake(f"{namespace}::knn")
    def _knn(x, y, k, batch_x=None, batch_y=None, cosine=False, batch_size=None):
        if batch_x is not None or batch_y is not None:
            return _edges_like(x)
        return _edges(x, y.shape[0], torch.sym_min(k, x.shape[0]))

    @torch.library.register_fake(f"{namespace}::knn_graph")
    def _knn_graph(x, k, batch=None, loop=False, flow="source_to_target", cosine=False,
                   batch_size=None):
        if batch is not None:
            return _edges_like(x)
        n = x.shape[0]
        return _edges(x, n, torch.sym_min(k, n if loop else n - 1))
