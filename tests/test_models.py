"""The shipped model artefacts: pinned, loadable, and (for the int8 builds) delegable as one graph."""
from __future__ import annotations

import json

import pytest

from edge_face.backends.litert import Interpreter
from edge_face.config import Config
from edge_face.models import ModelContract, ModelError, ModelRegistry
from edge_face.pipeline.embed import EMBEDDERS

MODELS_DIR = Config().models_dir
MANIFESTS = sorted(p.parent.name for p in MODELS_DIR.glob("*/manifest.json"))
VARIANTS = sorted(p.stem for p in (MODELS_DIR / "verification").glob("*.json"))


def partitions(model: str) -> int:
    """XNNPACK partitions after allocation (each is one DELEGATE node; the public API has no count)."""
    manifest = ModelRegistry(MODELS_DIR).manifest(model)
    it = Interpreter(model_path=str(manifest.path), num_threads=1)
    it.allocate_tensors()
    return sum(node["op_name"] == "DELEGATE" for node in it._get_ops_details())  # noqa: SLF001


@pytest.mark.parametrize("model", [m for m in MANIFESTS if m.endswith("int8")])
def test_int8_models_stay_one_delegate_partition(model):
    # a standalone int8 RELU or MUL splits the graph (34 partitions, 10x slower): the build rewrites them away
    assert partitions(model) == 1


@pytest.mark.parametrize("model", MANIFESTS)
def test_every_model_matches_its_pinned_sha256_and_names_its_licence(model):
    manifest = ModelRegistry(MODELS_DIR).manifest(model)
    manifest.verify()
    licence = manifest.data["licence"]
    assert (MODELS_DIR / model / licence["file"]).is_file() and licence["spdx"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_names_existing_models_and_a_fitted_calibration(variant):
    data = json.loads((MODELS_DIR / "verification" / f"{variant}.json").read_text())
    for model in [data["detector"], *(e["model"] for e in data["embedders"])]:
        assert (MODELS_DIR / model / "manifest.json").is_file(), model
    assert len(data["calibration"]["knots"]) > 10, "fitted, not the identity map"
    assert data["calibration_fit"]["impostor_pairs"] > 1_000_000


@pytest.mark.parametrize("model", MANIFESTS)
def test_every_contract_is_one_the_code_can_use(model):
    registry = ModelRegistry(MODELS_DIR)
    contract = registry.contract(model)  # unknown keys and wrong types raise
    if contract.family is not None:
        assert contract.family in EMBEDDERS
    if contract.outputs:
        it = Interpreter(model_path=str(registry.manifest(model).path), num_threads=1)
        assert set(contract.outputs.values()) <= {d["name"] for d in it.get_output_details()}
    if contract.crop_scale is not None:
        assert contract.crop_scale > 0


def test_the_models_the_code_reads_a_contract_of_have_it():
    registry = ModelRegistry(MODELS_DIR)
    embedders = {e["model"] for v in VARIANTS
                 for e in json.loads((MODELS_DIR / "verification" / f"{v}.json").read_text())["embedders"]}
    family = {"sface": "sface", "sface_int8": "sface", "mobilefacenet": "mobilefacenet",
              "mobilefacenet_b1": "mobilefacenet", "mobilefacenet_b1_int8": "mobilefacenet"}
    assert embedders <= set(family)
    assert {m: registry.contract(m).family for m in family} == family
    assert set(registry.contract("face_mesh").outputs) == {"landmarks", "presence"}
    # upstream's crop scales, from its file names (2.7_80x80_MiniFASNetV2, 4_0_0_80x80_MiniFASNetV1SE)
    assert registry.contract("minifasnet_v2").crop_scale == 2.7
    assert registry.contract("minifasnet_v1se").crop_scale == 4.0


@pytest.mark.parametrize("contract", [{"famly": "sface"}, {"family": 1}, {"outputs": ["conv2d_20"]},
                                      {"crop_scale": 0}, {"crop_scale": "2.7"}])
def test_a_malformed_contract_is_refused_by_name(contract):
    with pytest.raises(ModelError, match="sface_x"):
        ModelContract.from_dict("sface_x", contract)
