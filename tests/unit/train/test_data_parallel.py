"""Data-parallel training through accelerate: two CPU processes (gloo) average their gradients.

Both processes step the temporal upsampler (its loss draws no noise, so one process fed the union of the two
processes' batches is an exact reference), checkpointing and resuming on the way; the two must end with identical
weights, equal to the reference's, which only holds if the resumed processes took back their own data streams.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.multiprocessing import start_processes

from models.train.components import load_components
from models.train.data import WorldClips
from models.train.recipes import Recipe, RecipeOptions, build_recipe
from models.train.trainer import TrainConfig, Trainer

PROCESSES, BATCH, POOL = 2, 2, 8  # BATCH clips per process and step; POOL world scenes shared among them
# Adam's early steps are lr * g / (|g| + eps): where gradients are about eps (behind the upsampler's
# zero-initialised output layers) it turns float rounding (the mean of two half-batch gradients is not bit-equal
# to the union's: <= 2e-7 apart here) into weight differences of a few % of lr, with or without DDP (measured in
# one process: 4.6e-5 at lr 2e-3, 1.1e-6 at lr 2e-4). At lr 2e-4 that stays under the 1e-5 tolerance, while
# processes that did not average their gradients would differ by about lr.
CONFIG = TrainConfig(steps=3, batch_size=BATCH, lr=2e-4, warmup_steps=1, log_every=1, ema_decay=0.9)


def make_recipe(workdir: Path) -> Recipe:
    components, config = load_components("tiny", workdir, seed=0)
    return build_recipe("upsampler", components, config, RecipeOptions())


def train_one_process(rank: int, tmp: Path) -> None:
    """Process ``rank`` of the data-parallel run (spawned), in two legs: all steps but the last into
    ``tmp/rankN`` (only ``rank0`` may appear), then a resume from the main process's folder for the last step,
    as processes sharing one run folder do. Saves what the test checks to ``tmp/outN.pt``.

    It joins the gloo group through a file store (no port to collide on), with the environment ``accelerate
    launch`` gives its processes.
    """
    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(PROCESSES))
    store = torch.distributed.FileStore(str(tmp / "rendezvous"), PROCESSES)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=PROCESSES, store=store)

    recipe = make_recipe(tmp / "work")
    first_leg = replace(CONFIG, steps=CONFIG.steps - 1)
    trainer = Trainer(recipe, WorldClips(recipe.clip, seed=0, pool_size=POOL), tmp / f"rank{rank}", first_leg)
    assert (trainer.accelerator.process_index, trainer.accelerator.num_processes) == (rank, PROCESSES)
    state = trainer.source.state_dict()
    first = trainer.source.sample(BATCH)  # the batch step 1 draws (the source is rewound)
    trainer.source.load_state_dict(state)
    trainer.train()  # checkpoints at its last step

    recipe = make_recipe(tmp / "work")
    trainer = Trainer(recipe, WorldClips(recipe.clip, seed=0, pool_size=POOL), tmp / "rank0", CONFIG)
    resumed = trainer.resume()
    result = trainer.train()
    weights = {k: v.clone() for k, v in trainer.unwrapped.state_dict().items()}
    draws = torch.rand(4)  # this process's torch RNG after training: seeded per process
    out = {"weights": weights, "first": first, "draws": draws, "loss": result.last_loss, "resumed": resumed}
    torch.save(out, tmp / f"out{rank}.pt")
    torch.distributed.destroy_process_group()


class UnionSource:
    """One process's view of several shards: each draw concatenates one draw of every shard, in order."""

    def __init__(self, shards: list[WorldClips]) -> None:
        self.shards = shards

    def sample(self, batch_size: int) -> dict[str, Any]:
        parts = [s.sample(batch_size // len(self.shards)) for s in self.shards]
        return {
            "video": torch.cat([p["video"] for p in parts]),
            "caption": [c for p in parts for c in p["caption"]],
            "keys": [k for p in parts for k in p["keys"]],
        }

    def state_dict(self) -> dict[str, Any]:
        return {"shards": [s.state_dict() for s in self.shards]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for shard, value in zip(self.shards, state["shards"], strict=True):
            shard.load_state_dict(value)

    def shard(self, rank: int, world_size: int) -> None:
        raise NotImplementedError


def losses(folder: Path) -> list[float]:
    return [float(row.split(",")[1]) for row in (folder / "loss.csv").read_text().splitlines()[1:]]


@pytest.mark.slow
def test_two_processes_average_gradients_like_one_process_on_their_union(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as env:
        env.setenv("WORLD_SIZE", str(PROCESSES))
        env.setenv("ACCELERATE_USE_CPU", "yes")
        env.setenv("ACCELERATE_MIXED_PRECISION", "no")
        env.setenv("OMP_NUM_THREADS", "1")
        start_processes(train_one_process, args=(tmp_path,), nprocs=PROCESSES, start_method="spawn")
    outs = [torch.load(tmp_path / f"out{r}.pt", weights_only=False) for r in range(PROCESSES)]

    assert all(o["resumed"] for o in outs)
    # Sharded data and per-process seeds: the processes drew different clips and different noise.
    assert not set(outs[0]["first"]["keys"]) & set(outs[1]["first"]["keys"])
    assert not torch.equal(outs[0]["draws"], outs[1]["draws"])
    # Only the main process writes: its folder has the log, the checkpoint, the model and samples.
    main = tmp_path / "rank0"
    assert (main / "checkpoint.pt").is_file() and (main / "model" / "config.json").is_file()
    assert list((main / "samples").glob("*.png")) and len(losses(main)) == CONFIG.steps
    assert not (tmp_path / "rank1").exists()

    # The reference: one process stepping on the union of the two processes' batches (twice the batch).
    torch.manual_seed(0)
    recipe = make_recipe(tmp_path / "work")
    initial = {k: v.clone() for k, v in recipe.module.state_dict().items()}
    shards = [WorldClips(recipe.clip, seed=0, pool_size=POOL) for _ in range(PROCESSES)]
    for rank, shard in enumerate(shards):
        shard.shard(rank, PROCESSES)
    union = UnionSource(shards)
    state = union.state_dict()
    first = union.sample(PROCESSES * BATCH)
    union.load_state_dict(state)
    assert first["keys"] == outs[0]["first"]["keys"] + outs[1]["first"]["keys"]
    assert torch.equal(first["video"], torch.cat([o["first"]["video"] for o in outs]))
    single = Trainer(recipe, union, tmp_path / "single", replace(CONFIG, batch_size=PROCESSES * BATCH))
    single.train()

    moved = 0
    for name, value in single.unwrapped.state_dict().items():
        assert torch.equal(outs[0]["weights"][name], outs[1]["weights"][name]), name
        assert (outs[0]["weights"][name] - value).abs().max() <= 1e-5, name
        moved += not torch.equal(value, initial[name])
    assert moved > 0  # training did change the weights
    # The logged loss (first leg, then the resumed step) is the mean over the processes: the union batch's.
    assert losses(main) == pytest.approx(losses(tmp_path / "single"), abs=1e-5)
