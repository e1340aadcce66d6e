"""The ``lr-find`` PNG: raw and smoothed loss against the learning rate, the suggestions marked."""
from typing import Sequence

from .curve import Analysis

_COLORS = {"steepest": "tab:red", "valley": "tab:green", "min/10": "tab:purple"}


def plot_curve(path: str, lrs: Sequence[float], losses: Sequence[float], analysis: Analysis, mode: str,
               title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ax.plot(lrs, losses, color="0.75", linewidth=0.8, label="loss (per step)")
    if len(lrs):
        ax.plot(lrs, analysis.smoothed, color="tab:blue", linewidth=1.8, label="smoothed loss")
    for s in analysis.suggestions:
        if s.lr is not None:
            ax.axvline(s.lr, color=_COLORS[s.method], linestyle="--", linewidth=1.2,
                       label=f"{s.method}: {s.lr:.3g}")
    if mode == "exp":
        ax.set_xscale("log")
    if len(lrs):  # the divergence would squash the interesting part: cap at 1.5x the start
        top = max(analysis.smoothed[: max(1, analysis.minimum + 1)].max(), analysis.smoothed[0])
        bottom = min(min(losses), float(analysis.smoothed.min()))
        ax.set_ylim(bottom - 0.05 * (top - bottom), top + 0.5 * (top - bottom) + 1e-12)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(title + ("" if analysis.warnings == [] else "  (see warnings)"))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
