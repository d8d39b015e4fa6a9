

__all__ += ["softmax"]


def softmax(x: torch.Tensor) -> torch.Tensor:
    """The softmax of each row of ``x [N, C]``, float32 or float64 (cuDNN on the GPU)."""
    return _ops.softmax(x)
