"""Files written whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[str]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` when
    the block succeeds and is removed when it fails (or is interrupted)."""
    final = os.fspath(path)
    partial = f"{final}.partial"
    try:
        yield partial
        os.replace(partial, final)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise


def write_bytes(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` (bytes or str) to ``path`` whole or not at all."""
    with atomic_path(path) as partial, open(partial, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
