"""Saved settings checked by type and range (app.core.settings): what a hand edit, another
version or a damaged settings file may hold never stops the window from starting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.settings import check_settings_file, training_config, training_json, whole_number
from app.core.training import TrainConfig


@pytest.mark.parametrize("raw", [
    "[1, 2]", '"cnn"', '{"epochs": 1e999}', '{"epochs": -3}', '{"epochs": "lots"}',
    '{"batch_size": true}', '{"learning_rate": NaN}', '{"learning_rate": 1e999}',
    '{"arch": 12}', '{"arch": "resnet-1000"}', '{"limit": 2.5}', '{"augment": "yes"}',
    "{not json", "null", "3", '{"epochs": {"nested": []}}',
])
def test_bad_saved_training_settings_are_reset_and_reported(raw: str) -> None:
    cfg, problems = training_config(raw)
    cfg.resolved()  # every value left is usable
    if raw != "null":
        assert len(problems) == 1 and "default" in problems[0]


def test_good_saved_training_settings_round_trip_without_a_word() -> None:
    cfg = TrainConfig(arch="mlp", epochs=2, batch_size=64, learning_rate=0.05, augment=False, limit=500)
    back, problems = training_config(training_json(cfg))
    assert problems == [] and back == cfg
    assert training_config("") == (TrainConfig(), [])
    assert training_config(None) == (TrainConfig(), [])


def test_only_the_bad_value_is_reset() -> None:
    cfg, problems = training_config('{"arch": "mlp", "epochs": 1e999, "batch_size": 64}')
    assert cfg.arch == "mlp" and cfg.batch_size == 64 and cfg.epochs is None
    assert "epochs" in problems[0] and "inf" in problems[0]


def test_whole_number() -> None:
    assert whole_number("12", 1, 24) == 12 and whole_number(12.0, 1, 24) == 12
    for bad in ("x", "1e999", 0, 25, 2.5, True, None, [3]):
        assert whole_number(bad, 1, 24) is None


def test_a_settings_file_that_is_no_file_is_moved_aside_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    assert check_settings_file(path) is None  # absent: nothing to say
    path.write_text("[pad]\nbrush=20\n")
    assert check_settings_file(path) is None and path.exists()  # a good one stays
    path.unlink()
    path.mkdir()
    said = check_settings_file(path)
    assert said is not None and "settings.ini is a folder" in said
    assert "moved to settings.ini.unreadable-" in said
    assert not path.exists()
    if hasattr(os, "mkfifo"):
        os.mkfifo(path)  # QSettings would wait on it forever
        said = check_settings_file(path)
        assert said is not None and "named pipe" in said and not path.exists()
    with open(path, "wb") as fh:  # sparse: 2 GiB that QSettings would read whole
        fh.truncate(2 << 30)
    said = check_settings_file(path)
    assert said is not None and "2.0 GiB" in said and not path.exists()
