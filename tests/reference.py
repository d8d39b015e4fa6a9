"""Brute-force references for radius / radius_graph / knn / knn_graph in
plain torch.

It states the documented semantics as directly as possible, so the package's
kernels can be compared with it bit for bit (torch.equal):

* distances in float32 for float16 / bfloat16 / float32 input, float64 for
  float64 input;
* squared distances summed in dimension order with every step rounded
  (separate elementwise ops: no cdist, no .sum(), no pow, no fused ops);
* an edge (i, j) needs batch_y[i] == batch_x[j], dist2 < r*r (strict), and
  i != j when ignore_same_index;
* max_num_neighbors=k keeps, per query i, the k smallest (dist2, j);
* output [2, E] int64 sorted by i, then j;
* knn: per query i, the k smallest (distance, j) of its batch segment,
  output sorted by i, then (distance, j); cosine distance
  1 - dot / (sqrt(|x|^2) * sqrt(|y|^2)), dot and norms summed in dimension
  order, 1 where the denominator is not > 0 or the result is NaN.

Everything runs on the CPU (CUDA inputs are copied); memory is O(N * M).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch


def acc_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _points(t: torch.Tensor) -> torch.Tensor:
    t = t.detach().cpu()
    return t.reshape(-1, 1) if t.dim() == 1 else t


def _batch(b: Optional[torch.Tensor], n: int) -> torch.Tensor:
    return torch.zeros(n, dtype=torch.long) if b is None else b.detach().cpu().long()


def pair_dist2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """[M, N] squared distances (y rows, x columns), rounded like the kernels."""
    x, y = _points(x), _points(y)
    acc = acc_dtype(x.dtype)
    xa, ya = x.to(acc), y.to(acc)
    d2 = torch.zeros(ya.shape[0], xa.shape[0], dtype=acc)
    for d in range(xa.shape[1]):
        t = xa[:, d].unsqueeze(0) - ya[:, d].unsqueeze(1)
        d2 = d2 + t * t
    return d2


def radius_ref(
    x: torch.Tensor,
    y: torch.Tensor,
    r: float,
    batch_x: Optional[torch.Tensor] = None,
    batch_y: Optional[torch.Tensor] = None,
    max_num_neighbors: Optional[int] = 32,
    ignore_same_index: bool = False,
) -> torch.Tensor:
    x, y = _points(x), _points(y)
    n, m = x.shape[0], y.shape[0]
    if n == 0 or m == 0:
        return torch.empty(2, 0, dtype=torch.long)
    acc = acc_dtype(x.dtype)
    r_acc = torch.tensor(r, dtype=acc)
    r2 = r_acc * r_acc
    d2 = pair_dist2(x, y)
    keep = d2 < r2
    keep &= _batch(batch_y, m).unsqueeze(1) == _batch(batch_x, n).unsqueeze(0)
    if ignore_same_index:
        keep &= torch.arange(m).unsqueeze(1) != torch.arange(n).unsqueeze(0)
    if max_num_neighbors is not None:
        # Rank of each candidate j in row i by (dist2, j): a stable sort on
        # dist2 keeps equal distances in ascending j. Non-edges sort last.
        key = torch.where(keep, d2, torch.full_like(d2, float("inf")))
        order = torch.sort(key, dim=1, stable=True).indices
        rank = torch.empty_like(order)
        rank.scatter_(1, order, torch.arange(n).expand(m, n).contiguous())
        keep &= rank < max_num_neighbors
    # nonzero() lists (i, j) in row-major order: i ascending, then j ascending.
    return keep.nonzero().t().contiguous()


def radius_graph_ref(
    x: torch.Tensor,
    r: float,
    batch: Optional[torch.Tensor] = None,
    loop: bool = False,
    max_num_neighbors: Optional[int] = 32,
    flow: str = "source_to_target",
) -> torch.Tensor:
    return _graph(radius_ref(x, x, r, batch, batch, max_num_neighbors, ignore_same_index=not loop), flow)


def _graph(e: torch.Tensor, flow: str) -> torch.Tensor:
    """(centre, neighbour) edges in the row order `flow` asks for."""
    assert flow in ("source_to_target", "target_to_source")
    return e.flip(0) if flow == "source_to_target" else e


def _sqrt(t: torch.Tensor) -> torch.Tensor:
    """Correctly rounded square roots (numpy's are the hardware's; torch's
    vectorised float32 sqrt can be 1 ulp off)."""
    return torch.from_numpy(np.sqrt(t.numpy()))


def pair_cosine(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """[M, N] cosine distances (y rows, x columns), rounded like the kernels."""
    x, y = _points(x), _points(y)
    acc = acc_dtype(x.dtype)
    xa, ya = x.to(acc), y.to(acc)
    dot = torch.zeros(ya.shape[0], xa.shape[0], dtype=acc)
    nx2 = torch.zeros(xa.shape[0], dtype=acc)
    ny2 = torch.zeros(ya.shape[0], dtype=acc)
    for d in range(xa.shape[1]):
        dot = dot + xa[:, d].unsqueeze(0) * ya[:, d].unsqueeze(1)
        nx2 = nx2 + xa[:, d] * xa[:, d]
        ny2 = ny2 + ya[:, d] * ya[:, d]
    denom = _sqrt(ny2).unsqueeze(1) * _sqrt(nx2).unsqueeze(0)
    dist = 1 - dot / denom
    one = torch.ones((), dtype=acc)
    return torch.where((denom > 0) & ~torch.isnan(dist), dist, one)


def knn_ref(
    x: torch.Tensor,
    y: torch.Tensor,
    k: int,
    batch_x: Optional[torch.Tensor] = None,
    batch_y: Optional[torch.Tensor] = None,
    cosine: bool = False,
    ignore_same_index: bool = False,
) -> torch.Tensor:
    """[2, E] (index into y, index into x): each y's k nearest x of its segment."""
    x, y = _points(x), _points(y)
    n, m = x.shape[0], y.shape[0]
    if n == 0 or m == 0:
        return torch.empty(2, 0, dtype=torch.long)
    d = pair_cosine(x, y) if cosine else pair_dist2(x, y)
    ok = _batch(batch_y, m).unsqueeze(1) == _batch(batch_x, n).unsqueeze(0)
    if ignore_same_index:
        ok &= torch.arange(m).unsqueeze(1) != torch.arange(n).unsqueeze(0)
    rows, cols = [], []
    for i in range(m):
        j = ok[i].nonzero().flatten()  # ascending j: a stable sort keeps ties in index order
        order = torch.sort(d[i, j], stable=True).indices[:k]
        rows.append(torch.full((order.numel(),), i, dtype=torch.long))
        cols.append(j[order])
    return torch.stack([torch.cat(rows), torch.cat(cols)])


def knn_graph_ref(
    x: torch.Tensor,
    k: int,
    batch: Optional[torch.Tensor] = None,
    loop: bool = False,
    flow: str = "source_to_target",
    cosine: bool = False,
) -> torch.Tensor:
    return _graph(knn_ref(x, x, k, batch, batch, cosine, ignore_same_index=not loop), flow)
