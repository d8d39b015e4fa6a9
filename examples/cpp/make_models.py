"""Make the two deployable models the C++ example runs, plus sample inputs.

    python examples/cpp/make_models.py OUTDIR [--device cpu|cuda]

Writes OUTDIR/model.pt (TorchScript), OUTDIR/model.pt2 (torch.export +
AOTInductor package), OUTDIR/inputs.pt and OUTDIR/expected.pt (eager result).
The data-dependent edge count is an unbacked symbolic size in the exported
graph, which the extension's fake kernels provide.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import sys

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # extconfig.py: the names
import extconfig  # noqa: E402

ext = extconfig.import_package()


class NeighbourGraph(torch.nn.Module):
    """A GNN's input graph: the edges within r, then each point's k nearest
    (one [2, E] tensor, both ops in the exported graph)."""

    def __init__(self, r: float = 0.15, max_num_neighbors: int = 16, k: int = 6):
        super().__init__()
        self.r = r
        self.max_num_neighbors = max_num_neighbors
        self.k = k

    def forward(self, pos: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        within = ext.radius_graph(pos, self.r, batch, max_num_neighbors=self.max_num_neighbors)
        nearest = ext.knn_graph(pos, self.k, batch)
        return torch.cat([within, nearest], dim=1)


def sample_inputs(device: str, n: int = 600, examples: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    pos = torch.rand(n, 3, generator=g)
    batch = torch.arange(n) * examples // n
    return pos.to(device), batch.to(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    a.outdir.mkdir(parents=True, exist_ok=True)
    model = NeighbourGraph().eval()
    pos, batch = sample_inputs(a.device)

    torch.jit.script(model).save(str(a.outdir / "model.pt"))
    exported = torch.export.export(model, (pos, batch))
    torch._inductor.aoti_compile_and_package(exported, package_path=str(a.outdir / "model.pt2"))
    torch.save({"pos": pos.cpu(), "batch": batch.cpu()}, a.outdir / "inputs.pt")
    torch.save(model(pos, batch).cpu(), a.outdir / "expected.pt")
    print(f"wrote {a.outdir}/model.pt, model.pt2, inputs.pt, expected.pt")


if __name__ == "__main__":
    main()
