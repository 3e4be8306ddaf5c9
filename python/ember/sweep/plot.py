"""One PNG per metric: ``x`` on the horizontal axis, one line per value of
``series``, one panel per value of ``panels`` (matplotlib, no display)."""

from __future__ import annotations

import pathlib
from typing import Any, Dict, List, Optional


def _label(v: Any) -> str:
    return "n/a" if v is None or v == "" else str(v)


def plot_metric(rows: List[Dict[str, Any]], metric: str, x: Optional[str],
                series: Optional[str], panels: Optional[str],
                path: pathlib.Path, title: str = "") -> bool:
    ok = [r for r in rows if r.get("status") == "ok" and r.get(metric) is not None]
    if not ok or not x:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panel_vals = sorted({_label(r.get(panels)) for r in ok}) if panels else [""]
    n = len(panel_vals)
    cols = min(n, 3)
    rows_n = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 3.4 * rows_n),
                             squeeze=False, sharey=False)
    numeric_x = all(isinstance(r.get(x), (int, float)) for r in ok)
    for k, pv in enumerate(panel_vals):
        ax = axes[k // cols][k % cols]
        sub = [r for r in ok if not panels or _label(r.get(panels)) == pv]
        svals = sorted({_label(r.get(series)) for r in sub}, key=_sort_key) if series else [""]
        for sv in svals:
            pts = [r for r in sub if not series or _label(r.get(series)) == sv]
            pts.sort(key=lambda r: _sort_key(r.get(x)))
            xs = [r.get(x) if numeric_x else _label(r.get(x)) for r in pts]
            ys = [r[metric] for r in pts]
            ax.plot(xs, ys, marker="o", label=f"{series}={sv}" if series else None)
        if numeric_x and len({r.get(x) for r in sub}) > 2 and \
                min(r.get(x) for r in sub) > 0:
            ax.set_xscale("log", base=2)
            ticks = sorted({r.get(x) for r in sub})
            ax.set_xticks(ticks)
            ax.set_xticklabels([str(t) for t in ticks])
        ax.set_title(pv if panels else title, fontsize=10)
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
        if series:
            ax.legend(fontsize=8)
    for k in range(n, rows_n * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle(f"{title}: {metric}" if title else metric, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _sort_key(v: Any):
    if isinstance(v, (int, float)):
        return (0, v, "")
    try:
        return (0, float(v), "")
    except (TypeError, ValueError):
        return (1, 0, str(v))
