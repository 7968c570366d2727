"""A terminal progress display for ``VideoGenPipeline``'s ``callback(stage, step, total)``: one tqdm bar a stage."""

from __future__ import annotations

from types import TracebackType

from tqdm.auto import tqdm


class StageProgress:
    """Use as the pipeline callback; opens a new bar whenever the stage changes."""

    def __init__(self, disable: bool = False) -> None:
        self.disable = disable
        self._stage: str | None = None
        self._bar: tqdm | None = None

    def __call__(self, stage: str, step: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            self._stage = stage
            self._bar = tqdm(total=total, desc=f"{stage:<19}", disable=self.disable, leave=True)
        assert self._bar is not None
        self._bar.total = total
        self._bar.n = step
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
