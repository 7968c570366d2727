import json
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from models.eval.evaluation import NO_LOCAL_MODEL, VIDEOS_DIR
from models.eval.seeds import parse_seeds
from models.eval.world_metrics import score_world_video

PROMPTS = [
    "a red triangle moving up on a black background",  # held out
    "a green square moving left on a gray background",  # seen
    "a cat playing piano",  # not a world caption
]


def run_eval(tmp_path: Path, *extra: str) -> int:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# evaluation prompts\n" + "\n\n".join(PROMPTS) + "\n")
    common = ["--model", "tiny", "--prompts", str(prompts), "--seeds", "0", "--steps", "1", "-q"]
    return main(["eval", *common, "--out", str(tmp_path / "out"), *extra])


def test_eval_writes_a_report_and_resumes_with_local_feature_models(
    tmp_path: Path, clip_folder: Path, video_net_file: Path, classifier_folder: Path
) -> None:
    assert run_eval(tmp_path, "--save-videos") == 0
    out = tmp_path / "out"
    report = json.loads((out / "report.json").read_text())
    groups = report["groups"]
    assert {name: groups[name]["videos"] for name in ("held_out", "seen", "other", "world", "all")} == {
        "held_out": 1,
        "seen": 1,
        "other": 1,
        "world": 2,
        "all": 3,
    }
    assert "accuracy" not in groups["other"] and set(groups["world"]["accuracy"]) >= {"colour", "attributes"}
    assert all(m == {"status": NO_LOCAL_MODEL} for m in report["set_metrics"].values())
    assert "--prompts" in report["command"] and "--steps 1" in report["command"]
    markdown = (out / "report.md").read_text()
    assert "| held-out combinations | 1 |" in markdown and NO_LOCAL_MODEL in markdown
    assert len(list((out / "mp4").glob("*.mp4"))) == 3
    assert len((out / "samples.jsonl").read_text().splitlines()) == 3

    # The world checks in the report are those of the saved frames.
    videos = sorted((out / VIDEOS_DIR).glob("*.npy"))
    assert len(videos) == 3
    for sample in report["samples"][:2]:
        scores = [
            json.loads(json.dumps(score_world_video(np.load(v), sample["prompt"]).to_dict())) for v in videos
        ]
        assert sample["world"] in scores

    # A feature model that is named but not there is an error, never a silent "not available".
    assert run_eval(tmp_path, "--resume", "--clip", str(tmp_path / "missing")) == 2

    # Resume with local feature models: nothing is generated again, the metrics use the saved videos.
    args = ["--resume", "--clip", str(clip_folder), "--fvd-model", str(video_net_file)]
    assert run_eval(tmp_path, *args, "--is-model", str(classifier_folder)) == 0
    resumed = json.loads((out / "report.json").read_text())
    assert [s["seconds"] for s in resumed["samples"]] == [s["seconds"] for s in report["samples"]]
    assert [s["world"] for s in resumed["samples"]] == [s["world"] for s in report["samples"]]
    metrics = resumed["set_metrics"]
    assert metrics["clipsim"]["videos"] == 3 and -1.0 <= metrics["clipsim"]["value"] <= 1.0
    assert metrics["fvd"]["videos"] == 2 and metrics["fvd"]["value"] > 0.0  # vs rendered ground truth
    assert metrics["is"]["videos"] == 3 and 1.0 <= metrics["is"]["value"] <= 5.0
    assert all(s["clipsim"] is not None for s in resumed["samples"])


def test_parse_seeds() -> None:
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("3-5") == [3, 4, 5]
    for bad in ("", "a,b", "1,1", "5-3"):
        with pytest.raises(ValueError):
            parse_seeds(bad)


def test_bad_arguments_exit_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--model", "tiny", "--prompts", str(tmp_path / "none.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n")
    assert main(["eval", "--model", "tiny", "--prompts", str(empty)]) == 2
    assert "holds no prompts" in capsys.readouterr().err
    assert main(["eval", "--model", "tiny", "--world", "--seeds", "x"]) == 2
