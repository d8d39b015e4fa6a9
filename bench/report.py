"""Turn bench/results/*.json into the README's performance section and a plot.

    .venv/bin/python bench/report.py   # rewrites README.md between the markers,
                                       # writes bench/results/gpu_time_vs_n.png
"""

from __future__ import annotations

import json
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- perf:begin (bench/report.py) -->", "<!-- perf:end -->"
IMPLS = ["cuneb", "warp", "torch_cluster", "cdist"]


def gpu_rows() -> tuple[dict, list[dict]]:
    doc = json.loads((RESULTS / "gpu_bench.json").read_text())
    rows = [r for r in doc["results"] if "ms" in r]
    for extra in ("gpu_bench_warp_1e7.json", "gpu_bench_cuneb_1e8.json"):
        path = RESULTS / extra
        if path.exists():
            rows += [r for r in json.loads(path.read_text())["results"] if "ms" in r]
    return doc, rows


def fmt_ms(ms: float) -> str:
    return f"{ms:,.2f} ms" if ms < 100 else f"{ms:,.0f} ms"


def gpu_table(doc: dict, rows: list[dict]) -> str:
    sizes = sorted({r["n"] for r in rows})
    lines = [f"GPU: {doc['device']}, torch {doc['versions']['torch']}, {doc['date'][:10]}; "
             f"{doc['setup']}. Copy bandwidth {doc['copy_bandwidth_bytes_per_s'] / 1e12:.2f} TB/s.",
             "",
             "| N | batched | " + " | ".join(IMPLS) + " | cuneb edges/s | cuneb % of roofline |",
             "|---|---|" + "---|" * len(IMPLS) + "---|---|"]
    for n in sizes:
        for batched in (False, True):
            cell = {r["impl"]: r for r in rows if r["n"] == n and r["batched"] == batched}
            if "cuneb" not in cell:
                continue
            c = cell["cuneb"]
            times = [fmt_ms(cell[i]["ms"]) if i in cell else "–" for i in IMPLS]
            lines.append(f"| {n:.0e} | {'yes' if batched else 'no'} | " + " | ".join(times)
                         + f" | {c['edges_per_s'] / 1e9:.1f} G | {100 * c['roofline_fraction']:.1f} % |")
    return "\n".join(lines)


def agreement(rows: list[dict]) -> str:
    """How the peers' edge sets compare with cuneb's (same inputs)."""
    parts = []
    for impl in IMPLS[1:]:
        cmp = [(r["n"], r["vs_cuneb"]) for r in rows if r["impl"] == impl and "vs_cuneb" in r]
        if not cmp:
            continue
        differ = sum(c["only_first"] + c["only_second"] for _, c in cmp)
        band = max(c["max_rel_distance_from_r"] for _, c in cmp)
        sizes = ", ".join(f"{n:.0e}" for n, _ in cmp)
        parts.append(f"{impl} ({sizes}): " + ("identical edge sets" if differ == 0 else
                     f"{differ} pairs differ, all within {band:.1e}·r of the radius (rounding band)"))
    return ("Edge sets against cuneb's on the same inputs — " + "; ".join(parts) + ". cuneb keeps a "
            "pair when its float32 squared distance, summed in dimension order without FMA, is < r².")


def cpu_table() -> str:
    path = RESULTS / "cpu_bench.json"
    if not path.exists():
        return ""
    doc = json.loads(path.read_text())
    lines = [f"CPU: {doc['machine']['cpus']} cores, torch {doc['versions']['torch']}, "
             f"scipy {doc['versions']['scipy']}, {doc['date'][:10]}; {doc['setup']}.", "",
             "| N | cuneb.radius_graph | cKDTree.query_pairs | cKDTree.sparse_distance_matrix |",
             "|---|---|---|---|"]
    for r in doc["results"]:
        lines.append(f"| {r['n']:.0e} | {fmt_ms(r['cuneb_ms'])} | {fmt_ms(r['ckdtree_query_pairs_ms'])} "
                     f"({r['speedup_vs_query_pairs']:.2f}x) | {fmt_ms(r['ckdtree_sparse_distance_matrix_ms'])} "
                     f"({r['speedup_vs_sparse_distance_matrix']:.2f}x) |")
    return "\n".join(lines)


def knn_cpu_table() -> str:
    path = RESULTS / "knn_cpu_bench.json"
    if not path.exists():
        return ""
    doc = json.loads(path.read_text())
    lines = [f"knn on the CPU: {doc['machine']['cpus']} cores, torch {doc['versions']['torch']}, "
             f"scipy {doc['versions']['scipy']}, {doc['date'][:10]}; {doc['setup']}.", "",
             "| N | cuneb.knn_graph | cKDTree.query | same neighbours |", "|---|---|---|---|"]
    for r in doc["results"]:
        lines.append(f"| {r['n']:.0e} | {fmt_ms(r['cuneb_knn_graph_ms'])} | {fmt_ms(r['ckdtree_query_k17_ms'])} "
                     f"({r['speedup_vs_ckdtree']:.2f}x) | {r['same_rows_as_ckdtree']:.0%} of rows |")
    return "\n".join(lines)


def plot(rows: list[dict]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for impl in IMPLS:
        pts = sorted((r["n"], r["ms"]) for r in rows if r["impl"] == impl and not r["batched"])
        if pts:
            ax.plot(*zip(*pts), marker="o", label=impl)
    ax.set(xscale="log", yscale="log", xlabel="points N (uniform, ~32 neighbours)",
           ylabel="time per call (ms)", title="radius search on the GPU (no batch)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    out = RESULTS / "gpu_time_vs_n.png"
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


def main() -> None:
    doc, rows = gpu_rows()
    section = "\n\n".join(filter(None, [gpu_table(doc, rows), agreement(rows), cpu_table(),
                                        knn_cpu_table()]))
    text = README.read_text()
    block = f"{BEGIN}\n{section}\n\n![GPU time vs N](bench/results/gpu_time_vs_n.png)\n{END}"
    text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    README.write_text(text)
    print(f"updated {README.name}; plot {plot(rows)}")


if __name__ == "__main__":
    main()
