

__all__ += ["bmm"]


def bmm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a [B, M, K] @ b [B, K, N]``, float32 or float64 (cuBLAS on the GPU)."""
    return _ops.bmm(a, b)
