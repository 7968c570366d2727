"""Aggregating an ``EvalResult`` and writing it as ``report.json`` and ``report.md``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from models.eval.evaluation import EvalResult, SampleRecord

WORLD_CHECKS = ("colour", "shape", "direction", "background", "attributes", "all")
CHECK_TITLES = {
    "colour": "colour",
    "shape": "shape",
    "direction": "direction",
    "background": "background",
    "attributes": "colour+shape+direction",
    "all": "all four",
}
SHAPE_MEASURES = ("edge_width", "interior_error", "square_fill")  # ``shape_quality.ShapeQuality`` means
MAX_MISSES_LISTED = 40
GROUP_TITLES = {
    "held_out": "held-out combinations",
    "seen": "seen combinations",
    "world": "all world prompts",
}


def mean_present(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def summarize_samples(samples: list[SampleRecord]) -> dict[str, Any]:
    """Counts, world accuracies (fractions in [0, 1]) and mean temporal scores of a group of samples."""
    summary: dict[str, Any] = {
        "videos": len(samples),
        "warping_error": mean_present(s.warping_error for s in samples),
        "frame_difference": mean_present(s.frame_difference for s in samples),
        "clipsim": mean_present(s.clipsim for s in samples),
        "seconds_per_video": mean_present(s.seconds for s in samples),
    }
    if any(s.background_flicker is not None for s in samples):
        summary["background_flicker"] = mean_present(s.background_flicker for s in samples)
    shapes = [s.shape for s in samples if s.shape is not None]
    if shapes:
        summary["shape"] = {key: mean_present(q[key] for q in shapes) for key in SHAPE_MEASURES}
    world = [s.world for s in samples if s.world is not None]
    if world:
        summary["accuracy"] = {check: float(np.mean([w[check] for w in world])) for check in WORLD_CHECKS}
        summary["correct"] = {check: int(sum(w[check] for w in world)) for check in WORLD_CHECKS}
    return summary


def summarize(result: EvalResult) -> dict[str, Any]:
    """The JSON report: settings, group summaries (held_out, seen, world, other, all), per-prompt summaries,
    set-level metrics and every sample."""
    groups: dict[str, list[SampleRecord]] = {
        "held_out": [s for s in result.samples if s.group == "held_out"],
        "seen": [s for s in result.samples if s.group == "seen"],
        "world": [s for s in result.samples if s.group != "other"],
        "other": [s for s in result.samples if s.group == "other"],
        "all": list(result.samples),
    }
    prompts: dict[str, list[SampleRecord]] = {}
    for sample in result.samples:
        prompts.setdefault(sample.prompt, []).append(sample)
    return {
        "settings": result.settings,
        "seconds": result.seconds,
        "groups": {name: summarize_samples(items) for name, items in groups.items() if items},
        "prompts": [
            {"prompt": prompt, "group": items[0].group, **summarize_samples(items)}
            for prompt, items in prompts.items()
        ],
        "set_metrics": result.set_metrics,
        "samples": [s.to_dict() for s in result.samples],
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(summary: dict[str, Any], check: str) -> str:
    if "accuracy" not in summary:
        return "-"
    return f"{100 * summary['accuracy'][check]:.0f}% ({summary['correct'][check]}/{summary['videos']})"


def _metric_cell(metric: dict[str, Any]) -> str:
    if "value" not in metric:
        return metric["status"]
    text = f"{metric['value']:.4g}"
    if "std" in metric:
        text += f" ± {metric['std']:.2g}"
    return f"{text} ({metric['videos']} videos)"


def to_markdown(report: dict[str, Any], command: str | None = None) -> str:
    """A Markdown rendering of ``summarize``'s report: settings, group table, paper metrics, per-prompt table."""
    s = report["settings"]
    lines = ["# VideoGen evaluation", ""]
    if command:
        lines += ["```", command, "```", ""]
    lines += [
        f"- model: `{s['model']}`; {s['num_frames']} frames at {s['width']}x{s['height']}, "
        f"{s['num_inference_steps']} steps per stage, guidance {s['guidance_scale']}, "
        f"{s['temporal_upsampling']} temporal doubling(s) ({s['upsample_mode']}), {s['decoder']} decoder",
        f"- {s['prompts']} prompts x seeds {s['seeds']} = {len(report['samples'])} videos in "
        f"{report['seconds']:.0f} s",
        "- world checks are read from the pixels (models/eval/world_metrics.py); temporal errors in 8-bit levels"
        " (0-255), lower is steadier",
        "",
        "| group | videos | " + " | ".join(CHECK_TITLES[c] for c in WORLD_CHECKS) + " | warping error | "
        "frame difference | s/video |",
        "|---" * (len(WORLD_CHECKS) + 5) + "|",
    ]
    for name, title in (*GROUP_TITLES.items(), ("other", "other prompts")):
        g = report["groups"].get(name)
        if g is None:
            continue
        lines.append(
            f"| {title} | {g['videos']} | "
            + " | ".join(_pct(g, c) for c in WORLD_CHECKS)
            + f" | {_fmt(g['warping_error'])} | {_fmt(g['frame_difference'])} | {_fmt(g['seconds_per_video'], 1)} |"
        )
    metrics = report["set_metrics"]
    lines += [
        "",
        "| metric | value |",
        "|---|---|",
        f"| CLIPSIM | {_metric_cell(metrics['clipsim'])} |",
        f"| FVD | {_metric_cell(metrics['fvd'])} |",
        f"| IS | {_metric_cell(metrics['is'])} |",
        "",
        "| prompt | group | videos | colour | shape | direction | background | c+s+d | warping error |"
        " frame difference |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in report["prompts"]:
        cells = [
            _pct(p, c).split(" ")[0] for c in ("colour", "shape", "direction", "background", "attributes")
        ]
        lines.append(
            f"| {p['prompt']} | {p['group']} | {p['videos']} | "
            + " | ".join(cells)
            + f" | {_fmt(p['warping_error'])} | {_fmt(p['frame_difference'])} |"
        )
    misses = [x for x in report["samples"] if x["world"] is not None and not x["world"]["all"]]
    if misses:
        lines += [
            "",
            f"Videos with a wrong attribute ({len(misses)}; what the pixels showed):",
            "",
            "| prompt | seed | read colour | read shape | read direction | read background |",
            "|---|---|---|---|---|---|",
        ]
        for x in misses[:MAX_MISSES_LISTED]:
            r, w = x["world"]["reading"], x["world"]
            cells = [r[k] if w[k] else f"**{r[k]}**" for k in ("colour", "shape", "direction", "background")]
            lines.append(f"| {x['prompt']} | {x['seed']} | " + " | ".join(cells) + " |")
        if len(misses) > MAX_MISSES_LISTED:
            lines.append(f"| ... {len(misses) - MAX_MISSES_LISTED} more in report.json | | | | | |")
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_report(result: EvalResult, out_dir: Path, command: str | None = None) -> dict[str, Any]:
    """Write ``report.json`` and ``report.md`` into ``out_dir`` (each replaced atomically); returns the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = summarize(result)
    if command:
        report["command"] = command
    _write_atomic(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
    _write_atomic(out_dir / "report.md", to_markdown(report, command))
    return report
