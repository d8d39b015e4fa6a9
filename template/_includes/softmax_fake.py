

@fake("softmax")
def _softmax(op, x):
    return torch.empty_like(x, memory_format=torch.contiguous_format)
