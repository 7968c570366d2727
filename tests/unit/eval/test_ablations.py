import copy

import pytest
import torch

from models.eval.ablations import (
    ABLATION_VARIANTS,
    GROUND_TRUTH,
    PENDING_REFERENCE,
    interpolation_ablation,
    interpolation_markdown,
    reference_ablation,
    reference_markdown,
    variant_ablation,
    variant_markdown,
)
from models.eval.generation import GenerationSettings, Variant


def test_interpolation_ablation_on_ground_truth_clips(tiny_pipe) -> None:
    settings = GenerationSettings(num_frames=5, temporal_upsampling=1)
    result = interpolation_ablation(tiny_pipe, clips=1, settings=settings)
    rows = result["rows"]
    assert result["settings"]["doublings"] == 1
    assert result["settings"]["dropped_frames"] == (result["settings"]["frames"] - 1) // 2
    # An untrained flow upsampler is exactly the blend baseline, and the untrained temporal layers of the video
    # decoder leave it equal to the image decoder: the ablation must see no difference here.
    assert rows["flow upsampling"]["psnr_dropped"] == pytest.approx(rows["blend upsampling"]["psnr_dropped"])
    video, image = rows["no frames dropped, video decoder"], rows["no frames dropped, image decoder"]
    assert video["psnr_all"] == pytest.approx(image["psnr_all"], abs=0.05)
    assert rows["ground truth"]["psnr_all"] == float("inf")
    assert rows["ground truth"]["warping_error"] < 1.0
    assert rows["ground truth"]["background_flicker"] == 0.0 and rows["ground truth"]["interior_error"] == 0.0
    table = interpolation_markdown(result)
    assert "| flow upsampling |" in table and "| ground truth | - | - |" in table


def test_variant_ablation_scores_every_variant_on_the_same_latents(tiny_pipe) -> None:
    prompts = ["a blue square moving down on a black background"]  # held out
    result = variant_ablation(
        tiny_pipe, prompts, [0], GenerationSettings(num_frames=5, num_inference_steps=1)
    )
    assert list(result["variants"]) == [v.name for v in ABLATION_VARIANTS] + [GROUND_TRUTH]
    for groups in result["variants"].values():
        assert groups["held_out"]["videos"] == 1 and "seen" not in groups
        assert groups["per_seed"]["0"]["videos"] == 1
    # The calibration row is the caption drawn by the world: read right, a still background, crisp edges.
    truth = result["variants"][GROUND_TRUTH]["all"]
    assert truth["accuracy"]["all"] == 1.0 and truth["background_flicker"] == 0.0
    assert truth["shape"]["edge_width"] <= 1.0 and truth["shape"]["interior_error"] == 0.0
    table = variant_markdown(result)
    assert table.count("\n") == 2 + len(ABLATION_VARIANTS) + 1


def test_reference_ablation_is_pending_without_a_second_model(tiny_pipe) -> None:
    result = reference_ablation(tiny_pipe, None, ["a red circle moving up on a gray background"], [0])
    assert result == {"status": PENDING_REFERENCE}
    assert PENDING_REFERENCE in reference_markdown(result)


def test_variant_ablation_scores_other_decoders_on_the_same_latents(tiny_pipe) -> None:
    trial = copy.deepcopy(tiny_pipe.video_decoder)
    with torch.no_grad():
        for p in trial.temporal_parameters():
            p.add_(0.1 * torch.randn_like(p))
    shipped = tiny_pipe.video_decoder
    prompts = ["a blue square moving down on a black background"]
    result = variant_ablation(
        tiny_pipe,
        prompts,
        [0],
        GenerationSettings(num_frames=5, num_inference_steps=1),
        variants=(Variant("flow", "video"),),
        decoders={"decoder trial": trial},
    )
    assert tiny_pipe.video_decoder is shipped
    rows = result["variants"]
    ours, theirs = (
        rows["flow upsampling, video decoder"]["all"],
        rows["flow upsampling, decoder trial"]["all"],
    )
    assert theirs["videos"] == 1 and theirs["warping_error"] != ours["warping_error"]
