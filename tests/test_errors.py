"""Every kind of bad input raises RuntimeError with a message that starts with
the op's name and names the problem, through the Python functions and through
torch.ops directly (and from inside TorchScript); radius, radius_graph, knn
and knn_graph."""

from __future__ import annotations

import re

import pytest
import torch

from names import IMPORT, NS, ext, OPS
from helpers import describe, run_python

N = 10


def pts(device, n=N, d=3, dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    return torch.rand(n, d, generator=gen, dtype=torch.float64).to(dtype).to(device)


def ids(values, device, dtype=torch.long):
    return torch.tensor(values, dtype=dtype, device=device)


def with_value(p, index, value):
    p = p.clone()
    p.view(-1)[index] = value
    return p


SORTED = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
UNSORTED = [0, 0, 1, 1, 0, 1, 1, 2, 2, 2]
NEGATIVE = [-1, 0, 0, 1, 1, 1, 1, 2, 2, 2]


def _radius_args(x, y=None, r=0.5, batch_x=None, batch_y=None, max_num_neighbors=32,
                 ignore_same_index=False, batch_size=None):
    return dict(x=x, y=x if y is None else y, r=r, batch_x=batch_x, batch_y=batch_y,
                max_num_neighbors=max_num_neighbors, ignore_same_index=ignore_same_index,
                batch_size=batch_size)


def _graph_args(x, r=0.5, batch=None, loop=False, max_num_neighbors=32,
                flow="source_to_target", batch_size=None):
    return dict(x=x, r=r, batch=batch, loop=loop, max_num_neighbors=max_num_neighbors,
                flow=flow, batch_size=batch_size)


FLOAT_DTYPES = "must be float16, bfloat16, float32 or float64"
SORT_MSG = "must hold non-negative ids in non-decreasing order"
R_MSG = r"r must be a finite number > 0, got "
NONFINITE = "contains NaN or infinite coordinates"

# Each case: a function building the arguments on a device, and the message
# (a regex, matched right after the op's name at the start of the text).
RADIUS_CASES = {
    # dtypes of the points
    "x_int64": (lambda d: _radius_args(pts(d).long(), pts(d)), f"x {FLOAT_DTYPES}, got int64"),
    "y_int32": (lambda d: _radius_args(pts(d), pts(d).int()), f"y {FLOAT_DTYPES}, got int32"),
    "x_bool": (lambda d: _radius_args(pts(d) > 0.5, pts(d)), f"x {FLOAT_DTYPES}, got bool"),
    "dtype_mismatch": (lambda d: _radius_args(pts(d), pts(d, dtype=torch.float64)),
                       "x is float32 but y is float64; convert both to one dtype"),
    "dtype_mismatch_half": (lambda d: _radius_args(pts(d, dtype=torch.float16), pts(d, dtype=torch.bfloat16)),
                            "x is float16 but y is bfloat16"),
    # shapes of the points
    "x_3d": (lambda d: _radius_args(pts(d)[None], pts(d)), r"x must be 1-D \[N\] or 2-D \[N, D\] points, got a 3-D tensor"),
    "y_3d": (lambda d: _radius_args(pts(d), pts(d)[None]), r"y must be 1-D \[N\] or 2-D \[N, D\] points, got a 3-D tensor"),
    "x_0d": (lambda d: _radius_args(pts(d)[0, 0], pts(d)), r"x must be 1-D \[N\] or 2-D \[N, D\] points, got a 0-D tensor"),
    "dim_mismatch": (lambda d: _radius_args(pts(d), pts(d, d=2)), "x has 3 coordinates per point but y has 2; they must match"),
    "dim_mismatch_1d": (lambda d: _radius_args(pts(d)[:, 0], pts(d)), "x has 1 coordinates per point but y has 3"),
    "zero_dims": (lambda d: _radius_args(pts(d, d=0), pts(d, d=0)), "x has 0 coordinates per point"),
    # batch vectors
    "batch_x_float": (lambda d: _radius_args(pts(d), batch_x=ids(SORTED, d, torch.float32)),
                      r"batch_x must be int64, got float32; convert it with batch_x\.long\(\)"),
    "batch_y_int32": (lambda d: _radius_args(pts(d), batch_y=ids(SORTED, d, torch.int32)),
                      "batch_y must be int64, got int32"),
    "batch_x_length": (lambda d: _radius_args(pts(d), batch_x=ids(SORTED[:-1], d)),
                       "batch_x has 9 entries but x has 10 points"),
    "batch_y_length": (lambda d: _radius_args(pts(d), pts(d, n=4), batch_y=ids(SORTED, d)),
                       "batch_y has 10 entries but y has 4 points"),
    "batch_x_2d": (lambda d: _radius_args(pts(d), batch_x=ids(SORTED, d)[:, None]),
                   "batch_x must be a 1-D vector, got a 2-D tensor"),
    "batch_y_unsorted": (lambda d: _radius_args(pts(d), batch_y=ids(UNSORTED, d)), f"batch_y {SORT_MSG}"),
    "batch_x_unsorted": (lambda d: _radius_args(pts(d), batch_x=ids(UNSORTED, d), batch_y=ids(SORTED, d)),
                         f"batch_x {SORT_MSG}"),
    "batch_x_negative": (lambda d: _radius_args(pts(d), batch_x=ids(NEGATIVE, d)), f"batch_x {SORT_MSG}"),
    # radius
    "r_zero": (lambda d: _radius_args(pts(d), r=0.0), R_MSG + "0"),
    "r_negative": (lambda d: _radius_args(pts(d), r=-1.5), R_MSG + "-1.5"),
    "r_nan": (lambda d: _radius_args(pts(d), r=float("nan")), R_MSG + "nan"),
    "r_inf": (lambda d: _radius_args(pts(d), r=float("inf")), R_MSG + "inf"),
    "r_minus_inf": (lambda d: _radius_args(pts(d), r=float("-inf")), R_MSG + "-inf"),
    # coordinates
    "x_nan": (lambda d: _radius_args(with_value(pts(d), 7, float("nan")), pts(d)), f"x {NONFINITE}"),
    "y_inf": (lambda d: _radius_args(pts(d), with_value(pts(d), 29, float("inf"))), f"y {NONFINITE}"),
    "y_minus_inf_half": (lambda d: _radius_args(pts(d, dtype=torch.float16), with_value(pts(d, dtype=torch.float16), 0, float("-inf"))),
                         f"y {NONFINITE}"),
    "x_nan_bfloat16": (lambda d: _radius_args(with_value(pts(d, dtype=torch.bfloat16), 3, float("nan")), pts(d, dtype=torch.bfloat16)),
                       f"x {NONFINITE}"),
    "x_nan_float64": (lambda d: _radius_args(with_value(pts(d, dtype=torch.float64), 3, float("nan")), pts(d, dtype=torch.float64)),
                      f"x {NONFINITE}"),
    # options
    "max_num_neighbors_negative": (lambda d: _radius_args(pts(d), max_num_neighbors=-1),
                                   r"max_num_neighbors must be >= 0 or None \(unlimited\), got -1"),
    "batch_size_too_small": (lambda d: _radius_args(pts(d), batch_x=ids(SORTED, d), batch_size=2),
                             "batch_size=2 but the batch vectors hold id 2; pass batch_size >= 3 or None"),
    "batch_size_too_small_y": (lambda d: _radius_args(pts(d), pts(d, n=3), batch_y=ids([0, 4, 4], d), batch_size=4),
                               "batch_size=4 but the batch vectors hold id 4; pass batch_size >= 5"),
    "batch_size_zero": (lambda d: _radius_args(pts(d), batch_size=0), "batch_size must be >= 1 or None, got 0"),
    "sparse_batch_ids": (lambda d: _radius_args(pts(d), batch_x=ids(SORTED[:-1] + [10**12], d)),
                         "the largest batch id is 1000000000000 for only 10 points; renumber the ids densely"),
}

GRAPH_CASES = {
    "x_int64": (lambda d: _graph_args(pts(d).long()), f"x {FLOAT_DTYPES}, got int64"),
    "x_uint8": (lambda d: _graph_args(pts(d).to(torch.uint8)), f"x {FLOAT_DTYPES}, got uint8"),
    "x_3d": (lambda d: _graph_args(pts(d)[None]), r"x must be 1-D \[N\] or 2-D \[N, D\] points, got a 3-D tensor"),
    "zero_dims": (lambda d: _graph_args(pts(d, d=0)), "x has 0 coordinates per point"),
    "batch_float": (lambda d: _graph_args(pts(d), batch=ids(SORTED, d, torch.float64)),
                    r"batch must be int64, got float64; convert it with batch\.long\(\)"),
    "batch_length": (lambda d: _graph_args(pts(d), batch=ids(SORTED + [2], d)), "batch has 11 entries but x has 10 points"),
    "batch_2d": (lambda d: _graph_args(pts(d), batch=ids(SORTED, d).reshape(2, 5)), "batch must be a 1-D vector, got a 2-D tensor"),
    "batch_unsorted": (lambda d: _graph_args(pts(d), batch=ids(UNSORTED, d)), f"batch {SORT_MSG}"),
    "batch_negative": (lambda d: _graph_args(pts(d), batch=ids(NEGATIVE, d)), f"batch {SORT_MSG}"),
    "r_zero": (lambda d: _graph_args(pts(d), r=0.0), R_MSG + "0"),
    "r_negative": (lambda d: _graph_args(pts(d), r=-2.0), R_MSG + "-2"),
    "r_nan": (lambda d: _graph_args(pts(d), r=float("nan")), R_MSG + "nan"),
    "r_inf": (lambda d: _graph_args(pts(d), r=float("inf")), R_MSG + "inf"),
    "x_nan": (lambda d: _graph_args(with_value(pts(d), 4, float("nan"))), f"x {NONFINITE}"),
    "x_inf_half": (lambda d: _graph_args(with_value(pts(d, dtype=torch.float16), 4, float("inf"))), f"x {NONFINITE}"),
    "max_num_neighbors_negative": (lambda d: _graph_args(pts(d), max_num_neighbors=-5),
                                   r"max_num_neighbors must be >= 0 or None \(unlimited\), got -5"),
    "batch_size_too_small": (lambda d: _graph_args(pts(d), batch=ids(SORTED, d), batch_size=1),
                             "batch_size=1 but the batch vectors hold id 2; pass batch_size >= 3 or None"),
    "batch_size_zero": (lambda d: _graph_args(pts(d), batch_size=0), "batch_size must be >= 1 or None, got 0"),
    "flow": (lambda d: _graph_args(pts(d), flow="sideways"),
             "flow must be 'source_to_target' or 'target_to_source', got 'sideways'"),
    "flow_case": (lambda d: _graph_args(pts(d), flow="Source_To_Target"),
                  "flow must be 'source_to_target' or 'target_to_source', got 'Source_To_Target'"),
    "sparse_batch_ids": (lambda d: _graph_args(pts(d), batch=ids([0] * 9 + [10**12], d)),
                         "the largest batch id is 1000000000000 .*renumber the ids densely"),
}


def call_radius(api: str, a: dict):
    if api == "python":
        return ext.radius(**a)
    return OPS.radius(a["x"], a["y"], a["r"], a["batch_x"], a["batch_y"],
                                  a["max_num_neighbors"], a["ignore_same_index"], a["batch_size"])


def call_graph(api: str, a: dict):
    if api == "python":
        return ext.radius_graph(**a)
    return OPS.radius_graph(a["x"], a["r"], a["batch"], a["loop"],
                                        a["max_num_neighbors"], a["flow"], a["batch_size"])


@pytest.mark.parametrize("api", ["python", "torch.ops"])
@pytest.mark.parametrize("case", list(RADIUS_CASES), ids=list(RADIUS_CASES))
def test_radius_bad_input(device, api, case):
    build, message = RADIUS_CASES[case]
    args = build(device)
    with pytest.raises(RuntimeError, match="^" + re.escape(f"{NS}.radius: ") + message):
        call_radius(api, args)


@pytest.mark.parametrize("api", ["python", "torch.ops"])
@pytest.mark.parametrize("case", list(GRAPH_CASES), ids=list(GRAPH_CASES))
def test_radius_graph_bad_input(device, api, case):
    build, message = GRAPH_CASES[case]
    args = build(device)
    with pytest.raises(RuntimeError, match="^" + re.escape(f"{NS}.radius_graph: ") + message):
        call_graph(api, args)


def test_the_same_arguments_are_accepted_when_fixed(device):
    # The valid twins of a few cases above run (so the failures above are
    # about the one bad argument, not about the fixtures).
    x = pts(device)
    assert ext.radius(x, x, 0.5, ids(SORTED, device), ids(SORTED, device), batch_size=3).shape[0] == 2
    assert ext.radius_graph(x, 0.5, ids(SORTED, device), batch_size=3).shape[0] == 2
    assert ext.radius_graph(x, 0.5, ids([0] * 9 + [2**20 - 1], device)).shape[0] == 2
    assert ext.radius_graph(x, 0.5, flow="target_to_source").shape[0] == 2


def test_device_mismatch(cuda_device):
    x = pts("cpu")
    with pytest.raises(RuntimeError, match=rf"^{re.escape(NS)}\.radius: x is on cpu but y is on cuda:\d"):
        ext.radius(x, x.to(cuda_device), 0.5)
    with pytest.raises(RuntimeError, match=rf"^{re.escape(NS)}\.radius: batch_x is on cpu but x is on cuda:\d"):
        ext.radius(x.to(cuda_device), x.to(cuda_device), 0.5, ids(SORTED, "cpu"))
    with pytest.raises(RuntimeError, match=rf"^{re.escape(NS)}\.radius_graph: batch is on cpu but x is on cuda:\d"):
        ext.radius_graph(x.to(cuda_device), 0.5, ids(SORTED, "cpu"))


# --------------------------------------------------------------------------
# knn / knn_graph: the shared checks, with knn's options
# --------------------------------------------------------------------------


def _knn_args(x, y=None, k=3, batch_x=None, batch_y=None, cosine=False, batch_size=None):
    return dict(x=x, y=x if y is None else y, k=k, batch_x=batch_x, batch_y=batch_y,
                cosine=cosine, batch_size=batch_size)


def _knn_graph_args(x, k=3, batch=None, loop=False, flow="source_to_target", cosine=False,
                    batch_size=None):
    return dict(x=x, k=k, batch=batch, loop=loop, flow=flow, cosine=cosine, batch_size=batch_size)


K_MSG = r"k must be >= 1 \(the number of neighbours per point\), got "
KNN_CASES = {
    "k_zero": (lambda d: _knn_args(pts(d), k=0), K_MSG + "0"),
    "k_negative": (lambda d: _knn_args(pts(d), k=-4), K_MSG + "-4"),
    "x_int64": (lambda d: _knn_args(pts(d).long(), pts(d)), f"x {FLOAT_DTYPES}, got int64"),
    "dtype_mismatch": (lambda d: _knn_args(pts(d), pts(d, dtype=torch.float64)),
                       "x is float32 but y is float64; convert both to one dtype"),
    "x_3d": (lambda d: _knn_args(pts(d)[None], pts(d)), r"x must be 1-D \[N\] or 2-D \[N, D\] points, got a 3-D tensor"),
    "dim_mismatch": (lambda d: _knn_args(pts(d), pts(d, d=2)), "x has 3 coordinates per point but y has 2; they must match"),
    "batch_x_length": (lambda d: _knn_args(pts(d), batch_x=ids(SORTED[:-1], d)),
                       "batch_x has 9 entries but x has 10 points"),
    "batch_y_int32": (lambda d: _knn_args(pts(d), batch_y=ids(SORTED, d, torch.int32)),
                      "batch_y must be int64, got int32"),
    "batch_y_unsorted": (lambda d: _knn_args(pts(d), batch_y=ids(UNSORTED, d)), f"batch_y {SORT_MSG}"),
    "batch_x_negative": (lambda d: _knn_args(pts(d), batch_x=ids(NEGATIVE, d)), f"batch_x {SORT_MSG}"),
    "x_nan": (lambda d: _knn_args(with_value(pts(d), 7, float("nan")), pts(d)), f"x {NONFINITE}"),
    "y_inf_cosine": (lambda d: _knn_args(pts(d), with_value(pts(d), 29, float("inf")), cosine=True),
                     f"y {NONFINITE}"),
    "x_nan_half_16d": (lambda d: _knn_args(with_value(pts(d, d=16, dtype=torch.float16), 3, float("nan")),
                                           pts(d, d=16, dtype=torch.float16)), f"x {NONFINITE}"),
    "batch_size_too_small": (lambda d: _knn_args(pts(d), batch_x=ids(SORTED, d), batch_size=2),
                             "batch_size=2 but the batch vectors hold id 2; pass batch_size >= 3 or None"),
    "batch_size_zero": (lambda d: _knn_args(pts(d), batch_size=0), "batch_size must be >= 1 or None, got 0"),
    "sparse_batch_ids": (lambda d: _knn_args(pts(d), batch_x=ids(SORTED[:-1] + [10**12], d)),
                         "the largest batch id is 1000000000000 for only 10 points; renumber the ids densely"),
}

KNN_GRAPH_CASES = {
    "k_zero": (lambda d: _knn_graph_args(pts(d), k=0), K_MSG + "0"),
    "x_uint8": (lambda d: _knn_graph_args(pts(d).to(torch.uint8)), f"x {FLOAT_DTYPES}, got uint8"),
    "zero_dims": (lambda d: _knn_graph_args(pts(d, d=0)), "x has 0 coordinates per point"),
    "batch_float": (lambda d: _knn_graph_args(pts(d), batch=ids(SORTED, d, torch.float64)),
                    r"batch must be int64, got float64; convert it with batch\.long\(\)"),
    "batch_length": (lambda d: _knn_graph_args(pts(d), batch=ids(SORTED + [2], d)), "batch has 11 entries but x has 10 points"),
    "batch_unsorted": (lambda d: _knn_graph_args(pts(d), batch=ids(UNSORTED, d)), f"batch {SORT_MSG}"),
    "batch_unsorted_cosine": (lambda d: _knn_graph_args(pts(d), batch=ids(UNSORTED, d), cosine=True),
                              f"batch {SORT_MSG}"),
    "x_nan": (lambda d: _knn_graph_args(with_value(pts(d), 4, float("nan"))), f"x {NONFINITE}"),
    "batch_size_too_small": (lambda d: _knn_graph_args(pts(d), batch=ids(SORTED, d), batch_size=1),
                             "batch_size=1 but the batch vectors hold id 2; pass batch_size >= 3 or None"),
    "flow": (lambda d: _knn_graph_args(pts(d), flow="sideways"),
             "flow must be 'source_to_target' or 'target_to_source', got 'sideways'"),
}


def call_knn(api: str, a: dict):
    if api == "python":
        return ext.knn(**a)
    return OPS.knn(a["x"], a["y"], a["k"], a["batch_x"], a["batch_y"], a["cosine"],
                               a["batch_size"])


def call_knn_graph(api: str, a: dict):
    if api == "python":
        return ext.knn_graph(**a)
    return OPS.knn_graph(a["x"], a["k"], a["batch"], a["loop"], a["flow"], a["cosine"],
                                     a["batch_size"])


@pytest.mark.parametrize("api", ["python", "torch.ops"])
@pytest.mark.parametrize("case", list(KNN_CASES), ids=list(KNN_CASES))
def test_knn_bad_input(device, api, case):
    build, message = KNN_CASES[case]
    with pytest.raises(RuntimeError, match="^" + re.escape(f"{NS}.knn: ") + message):
        call_knn(api, build(device))


@pytest.mark.parametrize("api", ["python", "torch.ops"])
@pytest.mark.parametrize("case", list(KNN_GRAPH_CASES), ids=list(KNN_GRAPH_CASES))
def test_knn_graph_bad_input(device, api, case):
    build, message = KNN_GRAPH_CASES[case]
    with pytest.raises(RuntimeError, match="^" + re.escape(f"{NS}.knn_graph: ") + message):
        call_knn_graph(api, build(device))


def test_knn_same_arguments_are_accepted_when_fixed(device):
    x = pts(device)
    assert ext.knn(x, x, 3, ids(SORTED, device), ids(SORTED, device), batch_size=3).shape == (2, 30)
    assert ext.knn_graph(x, 3, ids(SORTED, device), batch_size=3).shape == (2, 24)  # 3*2 + 4*3 + 3*2
    assert ext.knn_graph(x, 1, flow="target_to_source", cosine=True).shape == (2, 10)


def test_knn_device_mismatch(cuda_device):
    x = pts("cpu")
    with pytest.raises(RuntimeError, match=rf"^{re.escape(NS)}\.knn: x is on cpu but y is on cuda:\d"):
        ext.knn(x, x.to(cuda_device), 3)
    with pytest.raises(RuntimeError, match=rf"^{re.escape(NS)}\.knn_graph: batch is on cpu but x is on cuda:\d"):
        ext.knn_graph(x.to(cuda_device), 3, ids(SORTED, "cpu"))


def test_knn_bad_data_is_reported_even_when_the_other_side_is_empty(device):
    empty = torch.empty(0, 3, device=device)
    y = pts(device, n=3)
    with pytest.raises(RuntimeError, match=rf"^{re.escape(NS)}\.knn: y " + NONFINITE):
        ext.knn(empty, with_value(y, 0, float("nan")), 2)
    with pytest.raises(RuntimeError, match=rf"^{re.escape(NS)}\.knn: batch_y " + SORT_MSG):
        ext.knn(empty, y, 2, None, ids([1, 0, 0], device))


# --------------------------------------------------------------------------
# Errors from inside TorchScript
# --------------------------------------------------------------------------


def test_error_inside_scripted_function_surfaces():
    @torch.jit.script
    def graph(x: torch.Tensor, r: float) -> torch.Tensor:
        return OPS.radius_graph(x, r, None, False, 32, "source_to_target", None)

    x = pts("cpu")
    assert torch.equal(graph(x, 0.5), ext.radius_graph(x, 0.5))
    with pytest.raises((torch.jit.Error, RuntimeError),
                       match=re.escape(f"{NS}.radius_graph: r must be a finite number > 0, got -1")):
        graph(x, -1.0)
    with pytest.raises((torch.jit.Error, RuntimeError),
                       match=re.escape(f"{NS}.radius_graph: x contains NaN or infinite coordinates")):
        graph(with_value(x, 0, float("nan")), 0.5)


def test_error_inside_scripted_python_wrapper_surfaces():
    radius = torch.jit.script(ext.radius)
    x = pts("cpu")
    assert torch.equal(radius(x, x, 0.5), ext.radius(x, x, 0.5))
    with pytest.raises((torch.jit.Error, RuntimeError),
                       match=re.escape(f"{NS}.radius: x is float32 but y is float64; convert both to one dtype")):
        radius(x, x.double(), 0.5)
    with pytest.raises((torch.jit.Error, RuntimeError),
                       match=re.escape(f"{NS}.radius: batch_y must hold non-negative ids in non-decreasing order")):
        radius(x, x, 0.5, None, ids(UNSORTED, "cpu"))


# --------------------------------------------------------------------------
# Regressions: a crash and checks once skipped for empty inputs
# --------------------------------------------------------------------------


def test_batch_id_int64_max_raises_instead_of_crashing(tmp_path, device):
    # Like the 10**12 case above, the id is far too sparse for 10 points.
    # Seen: CPU segfaults; CUDA returns edges without an error.
    proc = run_python(
        f"""
        import torch, {IMPORT} as ext
        batch = torch.zeros(10, dtype=torch.long, device={str(device)!r})
        batch[-1] = 2**63 - 1
        try:
            ext.radius_graph(torch.rand(10, 3, device={str(device)!r}), 0.5, batch)
        except RuntimeError as e:
            print(e)
        else:
            print("no error")
        """,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 0, describe(proc)
    assert re.match(rf"{re.escape(NS)}\.radius_graph: .*batch", proc.stdout), describe(proc)


EMPTY_SIDE_CASES = {
    "nan_in_y": (lambda e, y: dict(x=e, y=with_value(y, 0, float("nan"))), f"y {NONFINITE}"),
    "batch_y_unsorted": (lambda e, y: dict(x=e, y=y, batch_y=ids([1, 0, 0], "cpu")), f"batch_y {SORT_MSG}"),
    "batch_size_too_small": (lambda e, y: dict(x=e, y=y, batch_y=ids([0, 1, 5], "cpu"), batch_size=2),
                             "batch_size=2 but the batch vectors hold id 5"),
}


@pytest.mark.parametrize("case", list(EMPTY_SIDE_CASES), ids=list(EMPTY_SIDE_CASES))
def test_bad_data_is_reported_even_when_the_other_side_is_empty(device, case):
    build, message = EMPTY_SIDE_CASES[case]
    empty = torch.empty(0, 3, device=device)
    y = pts(device, n=3)
    args = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in build(empty, y).items()}
    with pytest.raises(RuntimeError, match="^" + re.escape(f"{NS}.radius: ") + message):
        ext.radius(r=1.0, **args)


# The fake kernels (torch.compile / export, meta tensors) repeat the real
# kernels' device and dtype checks, with the same words.

def _message(fn) -> str:
    with pytest.raises(RuntimeError) as info:
        fn()
    return str(info.value)


def _fake_mode():
    from torch._subclasses.fake_tensor import FakeTensorMode

    return FakeTensorMode(allow_non_fake_inputs=False)


@pytest.mark.parametrize("mode", ["meta", "fake"])
def test_fake_kernels_name_device_mixes_like_the_real_ones(mode):
    def run(op):
        x = torch.rand(10, 3)
        if mode == "meta":
            return _message(lambda: op(x, torch.empty(4, 3, device="meta")))
        with _fake_mode():
            return _message(lambda: op(torch.empty(10, 3), torch.empty(4, 3, device="meta")))

    assert run(lambda x, y: ext.radius(x, y, 0.5)) == \
        f"{NS}.radius: x is on cpu but y is on meta; move both to one device"
    meta_batch = torch.zeros(10, dtype=torch.long, device="meta")
    assert _message(lambda: ext.radius_graph(torch.rand(10, 3), 0.5, meta_batch)) == \
        f"{NS}.radius_graph: batch is on meta but x is on cpu; move both to one device"


def test_fake_and_real_kernels_word_a_dtype_mix_alike():
    real = _message(lambda: ext.radius(torch.rand(5, 3), torch.rand(5, 3, dtype=torch.float64), 0.5))
    with _fake_mode():
        fake = _message(lambda: ext.radius(torch.empty(5, 3), torch.empty(5, 3, dtype=torch.float64), 0.5))
    assert fake == real == f"{NS}.radius: x is float32 but y is float64; convert both to one dtype"


def test_fake_and_real_kernels_word_a_device_mix_alike(cuda_device):
    x, y = torch.rand(5, 3), torch.rand(5, 3, device=cuda_device)
    real = _message(lambda: ext.radius(x, y, 0.5))
    with _fake_mode() as mode:
        fake = _message(lambda: ext.radius(mode.from_tensor(x), mode.from_tensor(y), 0.5))
    assert fake == real
    b = torch.zeros(5, dtype=torch.long)
    real = _message(lambda: ext.radius_graph(y, 0.5, b))
    with _fake_mode() as mode:
        fake = _message(lambda: ext.radius_graph(mode.from_tensor(y), 0.5, mode.from_tensor(b)))
    assert fake == real
