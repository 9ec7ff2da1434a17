"""matplotlib for commands: the Agg backend (no display needed), figures saved as PNG atomically and closed."""
from __future__ import annotations

import os
from pathlib import Path

from tinyscene.util.atomic import atomic_path


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported on first use: most commands never plot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: str | os.PathLike, dpi: int = 110, tight: bool = False) -> Path:
    """Writes fig to path (temporary file, then rename) and closes it."""

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    pyplot().close(fig)
    return path
