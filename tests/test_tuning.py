"""`edge-face tune` and model_variant = "auto" (edge_face.tuning): real models timed on this CPU; the choice is the
fastest variant within 0.1 accuracy point of the default; an explicit variant always wins; /readyz shows it."""
from __future__ import annotations

import json
from dataclasses import replace

from edge_face import tuning
from edge_face.services import Services


def test_measure_times_every_variant_and_picks_the_fastest_accurate_one(api_config):
    record = tuning.measure(api_config, repeats=3)
    variants = record["variants"]
    assert set(variants) == {"fast", "float32", "float32_b1", "int8"}
    assert all(ms > 0 for ms in record["models_ms"].values())
    assert variants["int8"]["eligible"] is False  # 99.10% is 0.23 point under the default's 99.33%
    assert variants["float32"]["eligible"] and variants["float32_b1"]["eligible"]
    eligible = {n: v["ms_per_photo"] for n, v in variants.items() if v["eligible"]}
    assert record["chosen"] == min(eligible, key=eligible.get)
    fast = variants["fast"]["ms_per_photo"]
    assert fast == round(sum(record["models_ms"][m] for m in ("yunet", "sface_int8", "mobilefacenet_b1")), 3)


def test_auto_uses_the_record_and_an_explicit_variant_wins(api_config, tmp_path):
    path = tmp_path / "tune.json"
    tuning.write(path, {"chosen": "float32_b1", "variants": {"float32_b1": {"ms_per_photo": 1.0,
                                                                           "lfw_dev_accuracy": 99.27}}})
    auto = replace(api_config, model_variant="auto", tune_file=str(path))
    assert tuning.resolve(auto).model_variant == "float32_b1"
    assert Services.from_config(auto).config.model_variant == "float32_b1"
    assert tuning.resolve(replace(auto, model_variant="int8")).model_variant == "int8"
    assert tuning.resolve(replace(auto, tune_file=str(tmp_path / "none.json"))).model_variant == "fast"
    path.write_text("{not json")
    assert tuning.resolve(auto).model_variant == "fast"


def test_readyz_shows_the_tuning(api_server, tmp_path):
    path = tmp_path / "tune.json"
    record = {"chosen": "fast", "rule": "r", "variants": {"fast": {"ms_per_photo": 9.0, "lfw_dev_accuracy": 99.33}},
              "threads": 1, "measured_at": "2026-01-01T00:00:00Z"}
    path.write_text(json.dumps(record))
    body = api_server(model_variant="auto", tune_file=str(path)).get("/readyz").json()
    assert body["tuning"]["chosen"] == "fast" and body["tuning"]["variants"]["fast"]["ms_per_photo"] == 9.0
    assert body["scheduler"]["lanes"] >= 1
