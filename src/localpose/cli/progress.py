"""Progress bars for long commands: shown on a terminal, silent in a pipe or a log file.

The native-log filter (`localpose.cli.nativelog`) puts a pipe behind file descriptor 2, so
tqdm's own check would always find "not a terminal"; we ask about the user's real stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm import tqdm

from localpose.cli.nativelog import stderr_columns, stderr_is_terminal

__all__ = ["VideoProgressBar", "progress_bar", "with_progress"]

T = TypeVar("T")


def progress_bar(quiet: bool = False, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr, disabled when `quiet` or when stderr is not a terminal."""
    shown = not quiet and stderr_is_terminal()
    return tqdm(
        disable=not shown,
        file=sys.stderr,
        ncols=stderr_columns() if shown else None,
        leave=False,
        **kwargs,
    )


def with_progress(items: Iterable[T], quiet: bool = False, **kwargs: Any) -> Iterator[T]:
    """Iterate `items` with a progress bar (see `progress_bar`), closed at the end."""
    bar = progress_bar(quiet, **kwargs)
    try:
        for item in items:
            yield item
            bar.update()
    finally:
        bar.close()


class VideoProgressBar:
    """A progress bar fed by `process_video`'s progress callbacks (frames/s, ETA, the stage)."""

    def __init__(self, name: str, quiet: bool = False) -> None:
        self.bar = progress_bar(quiet, desc=name, unit="frame")
        self.stage = ""

    def __call__(self, progress: Any) -> None:
        if progress.stage != self.stage:
            self.stage = progress.stage
            self.bar.reset(total=progress.frames_total)
            self.bar.set_postfix_str(progress.stage)
        self.bar.update(progress.frames_done - self.bar.n)

    def close(self) -> None:
        self.bar.close()
