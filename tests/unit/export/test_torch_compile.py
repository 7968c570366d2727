"""``torch.compile`` for the modules left on torch: which ones, that the choice says so, that it can be undone, that a
compiled pipeline generates the same frames at every shape, and that a failed compilation runs eagerly. Compiled
with dynamo's ``eager`` backend (the graph capture without inductor's code generation, which takes minutes on 2
cores); bench/backends.py times ``torch+compile``."""

from __future__ import annotations

import torch

from export.backends import apply_backends
from export.torch_compile import compile_in_place, is_compiled

GENERATION = {"seed": 5, "num_frames": 5, "temporal_upsampling": 1, "output_type": "pt"}
COMPILED = {"base_unet", "sr_unet", "reference_unet", "temporal_upsampler", "video_decoder"}


def test_the_modules_the_pipeline_calls_are_compiled_and_the_choice_says_so(fresh_pipe) -> None:
    choices = apply_backends(fresh_pipe, "torch", compile_backend="eager")
    compiled = {name for name, c in choices.items() if is_compiled(getattr(fresh_pipe, _component(name)))}
    assert compiled == COMPILED  # not the VAE (called through .decode) nor the text encoder (once a video)
    assert all(
        choices[n].backend == "torch" and choices[n].detail.endswith("torch.compile") for n in COMPILED
    )
    assert "torch.compile" not in choices["text_encoder"].detail
    again = apply_backends(fresh_pipe, "torch")  # re-deciding without compile undoes it
    assert not any(is_compiled(getattr(fresh_pipe, _component(n))) for n in again)


def test_a_compiled_pipeline_generates_the_same_frames_at_every_shape(fresh_pipe) -> None:
    prompt, longer = "a red ball rolls to the right", {**GENERATION, "num_frames": 9}
    eager = [fresh_pipe(prompt, **GENERATION).frames, fresh_pipe(prompt, **longer).frames]
    apply_backends(
        fresh_pipe, "torch", modules=["temporal_upsampler", "video_decoder"], compile_backend="eager"
    )
    assert is_compiled(fresh_pipe.temporal_upsampler) and is_compiled(fresh_pipe.video_decoder)
    torch.testing.assert_close(fresh_pipe(prompt, **GENERATION).frames, eager[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(
        fresh_pipe(prompt, **longer).frames, eager[1], atol=1e-5, rtol=0
    )  # compiles anew
    with torch._dynamo.config.patch(
        error_on_recompile=True, suppress_errors=False
    ):  # a shape seen before reuses its compilation
        torch.testing.assert_close(fresh_pipe(prompt, **GENERATION).frames, eager[0], atol=1e-5, rtol=0)


def test_a_module_that_fails_to_compile_runs_eagerly(fresh_pipe, caplog) -> None:
    def no_compiler(graph, example_inputs):  # what inductor does without a C++ compiler
        raise RuntimeError("no C++ compiler found")

    eager = fresh_pipe("a red ball rolls to the right", **GENERATION).frames
    compile_in_place(fresh_pipe.video_decoder, backend=no_compiler)
    out = fresh_pipe("a red ball rolls to the right", **GENERATION).frames
    torch.testing.assert_close(out, eager, atol=1e-5, rtol=0)
    assert "no C++ compiler found" in caplog.text  # dynamo's warning says why


def _component(name: str) -> str:
    from export.specs import SPECS

    return SPECS[name].component
