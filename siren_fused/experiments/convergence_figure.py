"""A PNG of how a long run converged: its errors against the exact solution and its loss, by step."""

from __future__ import annotations

from typing import Dict, Mapping, Sequence

FIGURE_DPI = 80


def save_convergence_figure(history: Sequence[Mapping[str, float]], errors: Mapping[str, str], path: str,
                            title: str = "") -> str:
    """Two panels over the step, from a monitor's ``history`` (records with ``step``, ``loss`` and scores):
    the scores named by ``errors`` (record key -> legend label) on the left, the loss on the right, both on
    log scales; returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on the machines this runs on
    import matplotlib.pyplot as plt

    steps = [record["step"] for record in history]
    figure, (error_axes, loss_axes) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key, label in errors.items():
        error_axes.plot(steps, [record[key] for record in history], marker="o", markersize=3, label=label)
    error_axes.set(xlabel="step", ylabel="relative L2 error", yscale="log", title="error against the exact solution")
    error_axes.grid(True, which="both", alpha=0.3)
    if len(errors) > 1:
        error_axes.legend(fontsize=8)
    losses: Dict[int, float] = {record["step"]: record["loss"] for record in history if "loss" in record}
    loss_axes.plot(list(losses), list(losses.values()), color="tab:gray", marker="o", markersize=3)
    loss_axes.set(xlabel="step", ylabel="loss (one batch)", yscale="log", title="training loss")
    loss_axes.grid(True, which="both", alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=FIGURE_DPI)
    plt.close(figure)
    return path
