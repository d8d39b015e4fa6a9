"""Turn bench/results/*.json into docs/performance.md, the README's summary
of it, and a plot.

    .venv/bin/python bench/report.py   # writes docs/performance.md, README.md between
                                       # the markers, bench/results/gpu_time_vs_n.png
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import extconfig  # noqa: E402  (our name: the key of our rows in the result files)

OURS = extconfig.load().name
RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent.parent / "README.md"
REPORT = README.parent / "docs" / "performance.md"
BEGIN, END = "<!-- perf:begin (bench/report.py) -->", "<!-- perf:end -->"
IMPLS = [OURS, "warp", "torch_cluster", "cdist"]


def gpu_rows() -> tuple[dict, list[dict]]:
    doc = json.loads((RESULTS / "gpu_bench.json").read_text())
    rows = [r for r in doc["results"] if "ms" in r]
    for extra in ("gpu_bench_warp_1e7.json", f"gpu_bench_{OURS}_1e8.json"):
        path = RESULTS / extra
        if path.exists():
            rows += [r for r in json.loads(path.read_text())["results"] if "ms" in r]
    return doc, rows


def load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def fmt_ms(ms: float) -> str:
    return f"{ms:,.2f} ms" if ms < 100 else f"{ms:,.0f} ms"


def gpu_table(doc: dict, rows: list[dict]) -> str:
    sizes = sorted({r["n"] for r in rows})
    lines = [f"GPU: {doc['device']}, torch {doc['versions']['torch']}, {doc['date'][:10]}; "
             f"{doc['setup']}. Copy bandwidth {doc['copy_bandwidth_bytes_per_s'] / 1e12:.2f} TB/s.",
             "",
             "| N | batched | " + " | ".join(IMPLS) + f" | {OURS} edges/s | {OURS} % of roofline |",
             "|---|---|" + "---|" * len(IMPLS) + "---|---|"]
    for n in sizes:
        for batched in (False, True):
            cell = {r["impl"]: r for r in rows if r["n"] == n and r["batched"] == batched}
            if OURS not in cell:
                continue
            c = cell[OURS]
            times = [fmt_ms(cell[i]["ms"]) if i in cell else "–" for i in IMPLS]
            lines.append(f"| {n:.0e} | {'yes' if batched else 'no'} | " + " | ".join(times)
                         + f" | {c['edges_per_s'] / 1e9:.1f} G | {100 * c['roofline_fraction']:.1f} % |")
    return "\n".join(lines)


def agreement(rows: list[dict]) -> str:
    """How the peers' edge sets compare with ours (same inputs)."""
    parts = []
    for impl in IMPLS[1:]:
        cmp = [(r["n"], r[f"vs_{OURS}"]) for r in rows if r["impl"] == impl and f"vs_{OURS}" in r]
        if not cmp:
            continue
        differ = sum(c["only_first"] + c["only_second"] for _, c in cmp)
        band = max(c["max_rel_distance_from_r"] for _, c in cmp)
        sizes = ", ".join(f"{n:.0e}" for n, _ in cmp)
        parts.append(f"{impl} ({sizes}): " + ("identical edge sets" if differ == 0 else
                     f"{differ} pairs differ, all within {band:.1e}·r of the radius (rounding band)"))
    return (f"Edge sets against {OURS}'s on the same inputs — " + "; ".join(parts) + f". {OURS} keeps a "
            "pair when its float32 squared distance, summed in dimension order without FMA, is < r².")


def cpu_table() -> str:
    doc = load("cpu_bench.json")
    if not doc:
        return ""
    lines = [f"CPU: {doc['machine']['cpus']} cores, torch {doc['versions']['torch']}, "
             f"scipy {doc['versions']['scipy']}, {doc['date'][:10]}; {doc['setup']}.", "",
             f"| N | {OURS}.radius_graph | cKDTree.query_pairs | cKDTree.sparse_distance_matrix |",
             "|---|---|---|---|"]
    for r in doc["results"]:
        lines.append(f"| {r['n']:.0e} | {fmt_ms(r[f'{OURS}_ms'])} | {fmt_ms(r['ckdtree_query_pairs_ms'])} "
                     f"({r['speedup_vs_query_pairs']:.2f}x) | {fmt_ms(r['ckdtree_sparse_distance_matrix_ms'])} "
                     f"({r['speedup_vs_sparse_distance_matrix']:.2f}x) |")
    return "\n".join(lines)


def knn_cpu_table() -> str:
    doc = load("knn_cpu_bench.json")
    if not doc:
        return ""
    lines = [f"knn on the CPU: {doc['machine']['cpus']} cores, torch {doc['versions']['torch']}, "
             f"scipy {doc['versions']['scipy']}, {doc['date'][:10]}; {doc['setup']}.", "",
             f"| N | {OURS}.knn_graph | cKDTree.query | same neighbours |", "|---|---|---|---|"]
    for r in doc["results"]:
        lines.append(f"| {r['n']:.0e} | {fmt_ms(r[f'{OURS}_knn_graph_ms'])} | {fmt_ms(r['ckdtree_query_k17_ms'])} "
                     f"({r['speedup_vs_ckdtree']:.2f}x) | {r['same_rows_as_ckdtree']:.0%} of rows |")
    return "\n".join(lines)


def knn_earlier() -> list[dict]:
    """The earlier knn runs (knn_gpu_earlier*.json), newest first."""
    docs = [json.loads(p.read_text()) for p in RESULTS.glob("knn_gpu_earlier*.json")]
    return sorted(docs, key=lambda d: d["date"], reverse=True)


def knn_times() -> tuple[dict, set]:
    """knn_gpu.json's times by (case, impl, n), and the keys taken from the
    earlier runs (the newest that has them): sizes this run skipped
    (torch-cluster's quadratic knn at 1e6, 8 s a call; our 1e8, 40 GB of
    output), marked * in the table."""
    doc = load("knn_gpu.json") or {"results": []}
    ms = {(r["case"], r["impl"], r["n"]): r["ms"] for r in doc["results"] if "ms" in r}
    starred = set()
    for earlier in knn_earlier():
        for r in earlier["results"]:
            key = (r["case"], r["impl"], r["n"])
            if "ms" in r and key not in ms:
                ms[key] = r["ms"]
                starred.add(key)
    return ms, starred


def knn_points() -> dict[str, list[tuple[int, float]]]:
    """knn k=16 (D = 3) times per implementation, as in the table."""
    pts: dict[str, list[tuple[int, float]]] = {}
    for (case, impl, n), t in knn_times()[0].items():  # implementations in run order
        if case == "knn_d3":
            pts.setdefault(impl, []).append((n, t))
    return {impl: sorted(p) for impl, p in pts.items()}


def plot(rows: list[dict]) -> Path | str:
    try:
        import matplotlib
    except ImportError:  # the tables above do not need it
        return "not redrawn (matplotlib is not installed)"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, kx) = plt.subplots(1, 2, figsize=(12, 4.5))
    for impl in IMPLS:
        pts = sorted((r["n"], r["ms"]) for r in rows if r["impl"] == impl and not r["batched"])
        if pts:
            ax.plot(*zip(*pts), marker="o", label=impl)
    ax.set(xscale="log", yscale="log", xlabel="points N (uniform, ~32 neighbours)",
           ylabel="time per call (ms)", title="radius search on the GPU (no batch)")
    for impl, pts in knn_points().items():
        kx.plot(*zip(*pts), marker="o", label=impl)
    kx.set(xscale="log", yscale="log", xlabel="points N (uniform, D = 3)",
           ylabel="time per call (ms)", title="knn, k = 16, on the GPU")
    for a in (ax, kx):
        a.grid(True, which="both", alpha=0.3)
        a.legend()
    out = RESULTS / "gpu_time_vs_n.png"
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


def fmt_x(ours: float, other: float | None) -> str:
    return "–" if other is None else f"{fmt_ms(other)} ({other / ours:,.1f}x)"


def knn_gpu_table() -> str:
    doc = load("knn_gpu.json")
    if not doc:
        return ""
    ms, starred = knn_times()
    lines = [f"knn, GPU: {doc['device']}, torch {doc['versions']['torch']}, {doc['date'][:10]}; "
             "uniform float32 points in the unit cube, CUDA events, median; (x) = our speed-up"
             + (f"; * from an earlier run (`knn_gpu_earlier*.json`, the newest with that size: "
                f"same machine and inputs; for {OURS}, a build before the latest knn kernels)"
                if starred else "") + ".", "",
             "| N | knn k=16 | torch_cluster knn | cdist + topk | knn_graph k=32 | radius_graph ~32 nbrs |",
             "|---|---|---|---|---|---|"]
    for n in sorted({n for (case, _, n) in ms if case in ("knn_d3", "graph_k32")}):
        ours = ms.get(("knn_d3", OURS, n))
        graph = ms.get(("graph_k32", f"{OURS}.knn_graph", n))
        radius = ms.get(("graph_k32", f"{OURS}.radius_graph", n))
        star = lambda impl: "*" if ("knn_d3", impl, n) in starred else ""  # noqa: E731
        cells = [fmt_ms(ours) + star(OURS) if ours else "–",
                 fmt_x(ours, ms.get(("knn_d3", "torch_cluster", n))) + star("torch_cluster")
                 if ours else "–",
                 fmt_x(ours, ms.get(("knn_d3", "cdist_topk", n))) if ours else "–",
                 fmt_ms(graph) if graph else "–",
                 f"{fmt_ms(radius)} (knn_graph {graph / radius:.1f}x its time)" if graph and radius else "–"]
        lines.append(f"| {n:.0e} | " + " | ".join(cells) + " |")
    d64 = {impl: t for (case, impl, _), t in ms.items() if case == "d64_batched"}
    if OURS in d64:
        lines += ["", f"D = 64, 32 clouds x 1,024 points, k = 20 (DGCNN): {fmt_ms(d64[OURS])}; batched "
                  f"cdist + topk {fmt_x(d64[OURS], d64.get('cdist_topk'))}; torch_cluster "
                  f"{fmt_x(d64[OURS], d64.get('torch_cluster'))}."]
    return "\n".join(lines)


def small_batch_table() -> str:
    doc = load("small_batch.json")
    if not doc:
        return ""
    order = (OURS, f"{OURS}_padded", f"{OURS}_graph_replay", "torch_cluster", "dense_cdist",
             "vesin_torch", "nvalchemi")
    impls = [i for i in order if any(r["us"].get(i) is not None for r in doc["results"])]
    lines = [f"Small batches (GNN workloads), GPU: {doc['device']}, torch {doc['versions']['torch']}, "
             f"{doc['date'][:10]}; {doc['setup']}. `{OURS}_padded` is radius_graph_padded (no sync), "
             f"`{OURS}_graph_replay` that call captured once in a CUDA graph and replayed; syncs are "
             "the host's waits for the device inside one call (CUDA sync calls in torch.profiler, or "
             "1 where the call waits behind a GPU spin queued before it).", "",
             "| workload | atoms | " + " | ".join(impls) + " | syncs (exact / padded) |",
             "|---|---|" + "---|" * (len(impls) + 1)]
    for r in doc["results"]:
        cells = [f"{r['us'][i]:,.0f} µs" if r["us"].get(i) is not None else "–" for i in impls]
        syncs = r.get("syncs_per_call", {})
        sync_cell = f"{syncs.get(OURS, '–')} / {syncs.get(f'{OURS}_padded', '–')}"
        lines.append(f"| {r['workload']} | {r['atoms']:,} | " + " | ".join(cells) + f" | {sync_cell} |")
    repeats = [d for d in (load("small_batch_repeat1.json"), load("small_batch_repeat2.json")) if d]
    if repeats:
        spread = "; ".join(
            f"{r['workload']} " + " / ".join(f"{d['results'][i]['us'][OURS]:,.0f}" for d in repeats)
            for i, r in enumerate(doc["results"]))
        lines += ["", f"The same machine varies from run to run: `{OURS}` in {len(repeats)} more "
                      f"run{'s' if len(repeats) > 1 else ''} of the session (`small_batch_repeat*.json`; "
                      f"the builds are described in tag archive/gpu-logs-2026-12), µs: {spread}."]
    prof = load("latency_profile.json")
    if prof:
        f = prof["floor"]
        rows = {(r["workload"], r["op"]): r for r in prof["results"]}
        one = rows.get(("one molecule", "radius_graph"))
        lines += ["", f"This machine's floor in the same session (`latency_profile.json`): one tiny "
                      f"torch kernel {f['tiny_kernel_wall_us']:,.0f} µs ({f['tiny_kernel_host_us']:,.0f} µs "
                      f"of host time), a kernel and a device-to-host read (`x.sum().item()`) "
                      f"{f['round_trip_wall_us']:,.0f} µs."
                  + (f" The one-molecule radius_graph there: {one['wall_us']:,.0f} µs, of which "
                     f"{one['host_us']:,.0f} µs host time; GPU time per call: "
                     + ", ".join(f"{k.split('(')[0].split('::')[-1].split('<')[0].strip()} {v:,.1f} µs"
                                 for k, v in list(one["kernels"].items())[:4]) + "." if one else "")]
    knn = [(r["workload"], r["knn_graph"]) for r in doc["results"] if "knn_graph" in r]
    if knn:
        cells = "; ".join(f"{w} {k['us'][OURS]:,.0f} / {k['us'][f'{OURS}_padded']:,.0f} / "
                          f"{k['us'][f'{OURS}_graph_replay']:,.0f} µs" for w, k in knn)
        syncs = {(k["syncs_per_call"][OURS], k["syncs_per_call"][f"{OURS}_padded"])
                 for _, k in knn if "syncs_per_call" in k}
        sync_text = (f" (syncs exact / padded: {' ; '.join(f'{a} / {b}' for a, b in sorted(syncs))})"
                     if syncs else "")
        lines += ["", f"knn_graph (k = {knn[0][1]['k']}) exact / padded / graph replay: {cells}"
                      f"{sync_text}."]
    cpu = load("small_batch_cpu.json")
    if cpu:
        row = cpu["results"][0]
        lines += ["", f"The one-molecule call on the CPU of the 2-core build machine "
                      f"(`small_batch_cpu.json`, {row['torch_threads']} threads): "
                      f"{row['cpu_us'][OURS]:,.1f} µs ({row['cpu_us'][f'{OURS}_padded']:,.1f} µs padded)."]
    return "\n".join(lines)


def summary(rows: list[dict]) -> str:
    """Three lines for the README: the largest sizes all peers ran, in one run."""
    doc = load("gpu_bench.json")
    ms = {(r["impl"], r["n"], r["batched"]): r["ms"] for r in rows}
    n = max(r["n"] for r in rows if r["impl"] == "torch_cluster" and not r["batched"])
    knn = {(r["case"], r["impl"], r["n"]): r["ms"] for r in (load("knn_gpu.json") or {"results": []})["results"]
           if "ms" in r}
    lines = [f"On an {doc['device']} (torch {doc['versions']['torch']}, {doc['date'][:10]}; `bench/results/gpu_bench.json`): "
             f"`radius_graph` over {n:,.0f} uniform points with ~32 neighbours takes "
             f"{ms[(OURS, n, False)]:,.2f} ms, torch-cluster {ms[('torch_cluster', n, False)]:,.0f} ms."]
    k16 = [(key[2], t) for key, t in knn.items() if key[1] == OURS and key[0] == "knn_d3"]
    peer = {key[2]: t for key, t in knn.items() if key[1] == "torch_cluster" and key[0] == "knn_d3"}
    both = [(n, t) for n, t in k16 if n in peer]
    if both:
        n, t = max(both)
        lines.append(f"`knn` (k = 16) over {n:,.0f} points: {t:,.2f} ms, torch-cluster {peer[n]:,.0f} ms "
                     "(`bench/results/knn_gpu.json`).")
    return " ".join(lines) + " All tables, the CPU and the small-batch numbers: [docs/performance.md](docs/performance.md)."


def main() -> None:
    doc, rows = gpu_rows()
    section = "\n\n".join(filter(None, [gpu_table(doc, rows), agreement(rows), cpu_table(),
                                          knn_gpu_table(), knn_cpu_table(), small_batch_table()]))
    REPORT.write_text("# Performance\n\nWritten by `bench/report.py` from the result files in `bench/results/` "
                      "(each says when, where and with what it was measured); the scripts beside it made them.\n\n"
                      f"{section}\n\n![GPU time vs N: radius and knn](../bench/results/gpu_time_vs_n.png)\n")
    text = README.read_text()
    block = f"{BEGIN}\n{summary(rows)}\n{END}"
    text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    README.write_text(text)
    print(f"wrote {REPORT}, updated {README.name}; plot {plot(rows)}")


if __name__ == "__main__":
    main()
