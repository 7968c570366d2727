"""The training loop shared by every recipe: HF accelerate (multi-GPU, mixed precision, gradient accumulation),
EMA weights, resumable checkpoints, a CSV loss log and sample sheets every N steps.

The same code runs on one CPU (the demo) and on several processes (``accelerate launch --num_processes N -m
cli.main train ...``). Data parallel, there: every loss calls the accelerate-prepared (DDP) module, so backward
averages the gradients over the processes and every process steps the same weights; each process draws its own
share of the clips (``ClipSource.shard``) and its own noise and timesteps (seed ``seed + process index``); only the
main process writes the folder below, and its checkpoint carries every process's RNG and data-source state.
Layout of a stage's folder (``WORKDIR/STAGE``)::

    checkpoint.pt   model + optimizer + EMA + RNG states + data-source state + step (resume from here)
    loss.csv        step, loss (mean over the logging window), lr, seconds since this process started; a resumed
                    run drops the rows past its checkpoint (those steps run again)
    samples/        sample sheets (PNG) and videos (MP4) from the EMA weights
    model/          the EMA weights as of the last checkpoint, saved with ``save_pretrained``
"""

from __future__ import annotations

import csv
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object, set_seed

from models.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from models.train.components import MODEL_SUBDIR
from models.train.data import ClipSource
from models.train.ema import EMA
from models.train.recipes import Recipe

logger = logging.getLogger(__name__)


LOSS_LOG_COLUMNS = ("step", "loss", "lr", "seconds")


def logged_rows(path: Path, up_to: int) -> list[list[str]]:
    """The rows of ``loss.csv`` for steps ``<= up_to`` (none if there is no log yet)."""
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    return [row for row in rows if row and int(row[0]) <= up_to]


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 100
    grad_clip: float = 1.0
    grad_accumulation: int = 1
    ema_decay: float = 0.999
    mixed_precision: str = "no"  # "no", "fp16", "bf16" (accelerate)
    log_every: int = 25
    checkpoint_every: int = 250
    sample_every: int = 0  # 0: only at the end
    seed: int = 0  # several processes: each seeds its RNGs with seed + its index (one process: left as found)


@dataclass
class TrainResult:
    step: int
    last_loss: float
    seconds: float
    model_dir: Path


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of ``lr`` at ``steps``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * (0.1 + 0.9 * 0.5 * (1.0 + torch.cos(torch.tensor(progress * torch.pi)).item()))


class Trainer:
    """Trains one ``Recipe`` from a ``ClipSource`` into ``folder``, resuming from its checkpoint if present.

    Under ``accelerate launch`` every process builds the same recipe, source and folder; the trainer shards the
    source and seeds the process itself.
    """

    def __init__(self, recipe: Recipe, source: ClipSource, folder: Path, config: TrainConfig) -> None:
        self.recipe, self.source, self.folder, self.config = recipe, source, Path(folder), config
        self.accelerator = Accelerator(
            mixed_precision=config.mixed_precision, gradient_accumulation_steps=config.grad_accumulation
        )
        acc = self.accelerator
        launched = int(os.environ.get("WORLD_SIZE", "1"))
        if launched != acc.num_processes:
            # Each process would train alone and all would write the same folder.
            raise ValueError(
                f"launched as {launched} processes (WORLD_SIZE) but accelerate runs {acc.num_processes}; on a host"
                " without GPUs set ACCELERATE_USE_CPU=yes (docs/training.md, 'Several GPUs')"
            )
        if acc.num_processes > 1:
            set_seed(config.seed, device_specific=True)  # seed + process index: own noise, timesteps, dropout
            source.shard(acc.process_index, acc.num_processes)
        recipe.to(acc.device)
        params = recipe.trainable_parameters()
        if not params:
            raise ValueError(f"recipe {recipe.name!r} has no trainable parameters")
        optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        # The losses call ``self.model`` (DDP around ``training_module()`` when several processes train: it
        # broadcasts the main process's weights now and averages the gradients in every backward).
        self.model, self.optimizer = acc.prepare(recipe.training_module(), optimizer)
        self.ema = EMA(self.unwrapped, config.ema_decay)
        self.step = 0

    @property
    def unwrapped(self) -> torch.nn.Module:
        """The trained network itself (``recipe.module``): what ``accelerator.unwrap_model(self.model)`` holds,
        or, for the VAE, its ``vae``. Saved, averaged by the EMA and checkpointed."""
        return self.recipe.module

    def _rank_state(self) -> dict[str, object]:
        return {"rng": rng_state(), "source": self.source.state_dict()}

    def _state(self) -> dict[str, object]:
        state: dict[str, object] = {
            "step": self.step,
            "model": self.unwrapped.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "ema": self.ema.state_dict(),
            "source": self.source.state_dict(),
            "config": asdict(self.config),
        }
        if self.accelerator.num_processes > 1:
            state["ranks"] = gather_object([self._rank_state()])  # every process's, in process order
        return state

    def resume(self) -> bool:
        """Load ``folder/checkpoint.pt`` if it exists; True when a run was resumed.

        Several processes each take back their own RNG and data-source state when the checkpoint was written
        by as many processes; otherwise (another process count) each draws afresh from seed + index + step.
        """
        state = load_checkpoint(self.folder)
        if state is None:
            return False
        self.unwrapped.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.ema.load_state_dict(state["ema"])
        self.source.load_state_dict(state["source"])
        self.step = int(state["step"])
        acc = self.accelerator
        if acc.num_processes > 1:
            ranks = state.get("ranks")
            if isinstance(ranks, list) and len(ranks) == acc.num_processes:
                set_rng_state(ranks[acc.process_index]["rng"])
                self.source.load_state_dict(ranks[acc.process_index]["source"])
            else:
                logger.warning(
                    "%s: checkpoint written by %s processes, resuming with %d: fresh per-process draws",
                    self.recipe.name,
                    len(ranks) if isinstance(ranks, list) else 1,
                    acc.num_processes,
                )
                set_seed(self.config.seed + self.step, device_specific=True)
                self.source.shard(acc.process_index, acc.num_processes)
        logger.info("%s: resumed at step %d from %s", self.recipe.name, self.step, self.folder)
        return True

    def save(self) -> None:
        """Checkpoint, and export the EMA weights to ``model/`` so a run in progress can be assembled.

        Every process must call it (it gathers their RNG states); only the main one writes, and the others wait
        for it, so none runs ahead of a checkpoint that is not on disk yet."""
        state = self._state()
        if self.accelerator.is_main_process:
            save_checkpoint(self.folder, state)
            final = self.recipe.finalize(self.ema.averaged_copy(self.unwrapped))
            final.save_pretrained(self.folder / MODEL_SUBDIR, safe_serialization=True)
        self.accelerator.wait_for_everyone()

    def write_samples(self) -> None:
        """Sample sheets/videos from the EMA weights. They are diagnostics: a failure to make them (no video
        encoder on the host, a full disk) is logged and training goes on."""
        if not self.accelerator.is_main_process:
            return
        try:
            module = self.ema.averaged_copy(self.unwrapped)
            for path in self.recipe.write_samples(module, self.folder / "samples", self.step):
                logger.info("%s: wrote %s", self.recipe.name, path)
        except Exception:
            logger.exception(
                "%s: writing samples at step %d failed; training goes on", self.recipe.name, self.step
            )

    def _window_loss(self, window: list[float]) -> float:
        """The mean of ``window`` (this process's losses since the last log), averaged over the processes."""
        mean = sum(window) / len(window)
        if self.accelerator.num_processes == 1:
            return mean
        value = torch.tensor(mean, dtype=torch.float64, device=self.accelerator.device)
        return float(self.accelerator.reduce(value, reduction="mean"))

    def train(self) -> TrainResult:
        """Run until ``config.steps`` (from wherever the checkpoint left off); save the EMA model at the end.

        Every process runs it; only the main one writes ``loss.csv``, checkpoints, ``model/`` and samples."""
        cfg = self.config
        main = self.accelerator.is_main_process
        log = writer = None
        if main:
            self.folder.mkdir(parents=True, exist_ok=True)
            log_path = self.folder / "loss.csv"
            kept = [] if self.step == 0 else logged_rows(log_path, up_to=self.step)
            log = log_path.open("w", newline="")
            writer = csv.writer(log)
            writer.writerow(LOSS_LOG_COLUMNS)
            writer.writerows(kept)
        start, window, last_loss = time.monotonic(), [], float("nan")
        self.model.train()
        try:
            while self.step < cfg.steps:
                lr = lr_at(self.step, cfg)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                for _ in range(cfg.grad_accumulation):
                    batch = self.source.sample(cfg.batch_size)
                    batch["video"] = batch["video"].to(self.accelerator.device)
                    with self.accelerator.accumulate(self.model), self.accelerator.autocast():
                        loss = self.recipe.loss(batch, self.model)
                        self.accelerator.backward(loss)
                        if self.accelerator.sync_gradients and cfg.grad_clip > 0:
                            self.accelerator.clip_grad_norm_(
                                self.recipe.trainable_parameters(), cfg.grad_clip
                            )
                        self.optimizer.step()
                        self.optimizer.zero_grad(set_to_none=True)
                    window.append(loss.item())
                self.ema.update(self.unwrapped)
                self.step += 1
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    last_loss = self._window_loss(window)
                    window.clear()
                    elapsed = time.monotonic() - start
                    if writer is not None and log is not None:  # the main process
                        writer.writerow([self.step, f"{last_loss:.6f}", f"{lr:.3g}", f"{elapsed:.1f}"])
                        log.flush()
                        logger.info(
                            "%s step %d loss %.5f lr %.2e (%.0fs)",
                            self.recipe.name,
                            self.step,
                            last_loss,
                            lr,
                            elapsed,
                        )
                if self.step % cfg.checkpoint_every == 0:
                    self.save()
                if cfg.sample_every and self.step % cfg.sample_every == 0:
                    self.write_samples()
        finally:
            if log is not None:
                log.close()
        self.save()
        self.write_samples()
        return TrainResult(self.step, last_loss, time.monotonic() - start, self.folder / MODEL_SUBDIR)
