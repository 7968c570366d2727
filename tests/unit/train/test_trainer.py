"""The training loop on tiny real networks: loss goes down, and a resumed run continues bit-exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cli.main import main
from models.train.components import load_components
from models.train.data import WorldClips
from models.train.diffusion import encode_video
from models.train.losses import edge_loss
from models.train.recipes import RecipeOptions, build_recipe
from models.train.trainer import TrainConfig, Trainer


def make_trainer(stage_name: str, workdir: Path, steps: int, pool_size: int = 0) -> Trainer:
    torch.manual_seed(0)
    components, config = load_components("tiny", workdir, seed=0)
    recipe = build_recipe(stage_name, components, config, RecipeOptions())
    source = WorldClips(recipe.clip, seed=0, pool_size=pool_size)
    cfg = TrainConfig(steps=steps, batch_size=2, lr=2e-3, warmup_steps=1, checkpoint_every=1000, log_every=1)
    return Trainer(recipe, source, workdir / stage_name, cfg)


def fixed_loss(trainer: Trainer, batch: dict) -> float:
    with torch.no_grad():
        torch.manual_seed(123)  # same timesteps and noise before and after training
        return trainer.recipe.loss(batch).item()


# The upsampler starts as plain blending, already close on the world's slow motion: it gains less, later.
@pytest.mark.parametrize(("stage_name", "steps", "factor"), [("base", 25, 0.8), ("upsampler", 60, 0.92)])
def test_a_few_steps_on_tiny_data_lower_the_loss(
    tmp_path: Path, stage_name: str, steps: int, factor: float
) -> None:
    trainer = make_trainer(stage_name, tmp_path, steps=steps, pool_size=2)
    batch = trainer.source.sample(4)
    before = fixed_loss(trainer, batch)
    trainer.train()
    after = fixed_loss(trainer, batch)
    assert after < factor * before
    rows = (tmp_path / stage_name / "loss.csv").read_text().splitlines()
    assert rows[0] == "step,loss,lr,seconds" and len(rows) == steps + 1
    assert (tmp_path / stage_name / "model" / "config.json").is_file()


def test_resume_from_a_checkpoint_continues_bit_exactly(tmp_path: Path) -> None:
    straight = make_trainer("base", tmp_path / "a", steps=4)
    straight.train()

    first = make_trainer("base", tmp_path / "b", steps=2)
    first.train()  # saves checkpoint.pt at its last step
    torch.manual_seed(999)  # disturb the global RNG: resuming must restore it
    second = make_trainer("base", tmp_path / "b", steps=4)
    assert second.resume() and second.step == 2
    second.train()

    for (name, a), (_, b) in zip(
        straight.unwrapped.state_dict().items(), second.unwrapped.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    for name, a in straight.ema.shadow.items():
        assert torch.equal(a, second.ema.shadow[name]), name
    assert straight.source.state_dict() == second.source.state_dict()


def test_resume_without_a_checkpoint_starts_fresh(tmp_path: Path) -> None:
    trainer = make_trainer("upsampler", tmp_path, steps=1)
    assert not trainer.resume() and trainer.step == 0


@pytest.mark.parametrize("stage_name", ["vae", "reference", "base", "sr", "upsampler", "decoder"])
def test_every_recipe_writes_its_sample_sheet(tmp_path: Path, stage_name: str) -> None:
    # Sample failures are logged, not raised (training goes on): so check here that each recipe makes them.
    trainer = make_trainer(stage_name, tmp_path, steps=1, pool_size=2)
    trainer.train()
    sheet = tmp_path / stage_name / "samples" / f"{stage_name}_000001.png"
    assert sheet.is_file() and sheet.stat().st_size > 0


def test_the_decoder_trains_on_latents_degraded_as_generation_leaves_them(tmp_path: Path) -> None:
    torch.manual_seed(0)
    components, config = load_components("tiny", tmp_path, seed=0)
    options = RecipeOptions(decoder_mixers=1, decoder_interpolated=1.0, decoder_latent_noise=0.2)
    recipe = build_recipe("decoder", components, config, options)
    trained = [n for n, p in recipe.module.named_parameters() if p.requires_grad]
    assert trained and all(n.startswith("temporal_mixers.0.") for n in trained)
    batch = WorldClips(recipe.clip, seed=0, textured=1.0).sample(2)
    latents = torch.randn(2, 4, 9, 4, 4)
    torch.manual_seed(1)
    degraded = recipe.degrade(latents)
    # Keyframes (every 4th) carry only the noise; the frames between are the upsampler's, not the encoder's.
    keyframe_error = (degraded - latents)[:, :, ::4].std()
    between_error = (degraded - latents)[:, :, 1::4].std()
    assert 0 < keyframe_error < 0.2 and between_error > keyframe_error
    recipe.loss(batch).backward()
    assert recipe.module.temporal_mixers[0].attention.proj_out.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="decoder_mixers"):
        build_recipe("decoder", components, config, RecipeOptions(decoder_mixers=9))


def test_the_decoder_can_train_on_keyframes_the_super_resolution_stage_remade(tmp_path: Path) -> None:
    torch.manual_seed(0)
    components, config = load_components("tiny", tmp_path, seed=0)
    recipe = build_recipe("decoder", components, config, RecipeOptions(decoder_regenerated=1.0))
    source = WorldClips(recipe.clip, seed=0, pool_size=4)
    batch = source.sample(2)
    remade = recipe.cached(batch, recipe.regenerate)["keyframes"]
    video = batch["video"]
    encoded = encode_video(recipe.vae, video, recipe.height, recipe.height)
    assert remade.shape == encoded[:, :, ::4].shape
    assert not torch.allclose(remade, encoded[:, :, ::4])  # the stage's own sample, not the encoder's latents
    # Memoised per pool clip: the same clips cost one super-resolution run.
    again = recipe.cached(batch, lambda b: pytest.fail("regenerated twice"))["keyframes"]
    torch.testing.assert_close(again, remade)
    degraded = recipe.degrade(encoded, remade)
    torch.testing.assert_close(degraded[:, :, ::4], remade)  # the upsampler keeps its keyframes
    assert degraded.shape == encoded.shape
    recipe.loss(batch).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in recipe.trainable_parameters())
    with pytest.raises(ValueError, match="regenerated keyframes"):
        recipe.degrade(encoded)


def test_the_decoder_edge_weight_adds_the_gradient_difference_to_the_clean_clip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    components, config = load_components("tiny", tmp_path, seed=0)
    recipes = {
        w: build_recipe("decoder", components, config, RecipeOptions(decoder_edge_weight=w)) for w in (0, 2)
    }
    batch = WorldClips(recipes[0].clip, seed=0).sample(2)
    recipe = recipes[2]
    with torch.no_grad():  # nothing degraded: both losses are deterministic
        losses = {w: float(r.loss(batch)) for w, r in recipes.items()}
        video = batch["video"]
        decoded = recipe.module(encode_video(recipe.vae, video, recipe.height, recipe.height)).transpose(1, 2)
        expected = 2.0 * float(edge_loss(decoded, video))
    assert expected > 0.01
    assert losses[2] - losses[0] == pytest.approx(expected, rel=1e-4)


def test_the_cli_passes_the_edge_weight_to_the_decoder_recipe(tmp_path: Path) -> None:
    first_loss = {}
    for weight in ("0", "2"):
        run = tmp_path / weight
        args = "train decoder --preset tiny --steps 1 --batch-size 1 --log-every 1 --checkpoint-every 1 --threads 1"
        assert main([*args.split(), "--edge-weight", weight, "--workdir", str(run)]) == 0
        first_loss[weight] = float((run / "decoder" / "loss.csv").read_text().splitlines()[1].split(",")[1])
    assert first_loss["2"] > first_loss["0"] + 0.01  # the same first batch, plus the edge term


def test_a_resumed_run_logs_each_step_once(tmp_path: Path) -> None:
    first = make_trainer("upsampler", tmp_path, steps=2)
    first.train()  # checkpoint at step 2
    log = tmp_path / "upsampler" / "loss.csv"
    with log.open("a") as f:
        f.write("3,0.5,0.001,9.0\n")  # a step logged after the checkpoint, then the run was killed
    second = make_trainer("upsampler", tmp_path, steps=4)
    assert second.resume() and second.step == 2
    second.train()
    lines = log.read_text().splitlines()
    assert lines[0] == "step,loss,lr,seconds"
    assert [int(line.split(",")[0]) for line in lines[1:]] == [1, 2, 3, 4]
    assert "3,0.5,0.001,9.0" not in lines
