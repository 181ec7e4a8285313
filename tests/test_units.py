"""Unit tests of the numeric and parsing pieces that need no model."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from edge_face import native
from edge_face.config import Config, ConfigError, Limits, load_config
from edge_face.crypto import DecryptError, VendorCipher
from edge_face.imaging import ImageError, decode_image
from edge_face.native import reference
from edge_face.pipeline.align import TEMPLATE_112, similarity_transform
from edge_face.pipeline.calibrate import TABLE, Calibration, fit_knots, measured_far
from edge_face.pipeline.orient import TURNS, box_to_original, rotate
from edge_face_tools.metrics import best_threshold, evaluate_pairs, kfold_accuracy, tar_at_far

KEY, IV = Config().aes_key, Config().aes_iv


def test_vendor_test_vector():
    c = VendorCipher(KEY, IV)
    assert c.encrypt(b"hello") == "7EWZ/NONkYfOjH/m+K3KKsDO4CZ/"
    assert c.decrypt("7EWZ/NONkYfOjH/m+K3KKsDO4CZ/") == b"hello"


def test_decrypt_tolerates_spaces_for_plus_and_missing_padding():
    c = VendorCipher(KEY, IV)
    data = bytes(range(256)) * 3
    enc = c.encrypt(data)
    assert "+" in enc or "/" in enc
    assert c.decrypt(enc.replace("+", " ").rstrip("=")) == data


@pytest.mark.parametrize("bad", ["not base64 !!!", "AAAA", VendorCipher(KEY, IV).encrypt(b"x" * 40)[:-4] + "AAAA"])
def test_decrypt_rejects_garbage_and_altered_data(bad):
    with pytest.raises(DecryptError):
        VendorCipher(KEY, IV).decrypt(bad)


def test_decrypt_with_another_key_fails():
    enc = VendorCipher(KEY, IV).encrypt(b"photo")
    with pytest.raises(DecryptError):
        VendorCipher("0" * 32, IV).decrypt(enc)


def test_native_cosine_equals_reference():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 320)).astype(np.float32), rng.normal(size=(5, 320)).astype(np.float32)
    assert native._native is not None, "the C++ extension was not built by pip install"
    got = native._native.cosine_matrix(a, b)
    np.testing.assert_allclose(got, reference.cosine_matrix(a, b), atol=1e-5)
    assert got.shape == (7, 5)
    with pytest.raises(ValueError):
        native._native.cosine_matrix(a, b[:, :10])


def test_similarity_transform_recovers_a_known_similarity():
    angle, scale, shift = np.deg2rad(17), 2.3, np.array([40.0, -12.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = TEMPLATE_112 @ rot.T + shift
    m = similarity_transform(src, TEMPLATE_112)
    mapped = src @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(mapped, TEMPLATE_112, atol=1e-9)


@pytest.mark.parametrize("turns", TURNS)
def test_boxes_found_in_a_turned_photo_map_back(turns):
    h, w = 60, 100
    img = np.zeros((h, w, 3), np.uint8)
    img[10:30, 55:90] = 255  # box x 55..90, y 10..30
    turned = rotate(img, turns)
    ys, xs = np.nonzero(turned[:, :, 0])
    box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)
    np.testing.assert_allclose(box_to_original(box, turns, w, h), [55, 10, 90, 30])


def test_calibration_fit_meets_the_table_on_fresh_samples():
    rng = np.random.default_rng(1)
    fit = rng.normal(0.0, 0.1, 3_000_000)
    cal = fit_knots(fit)
    assert np.all(np.diff(cal.cosines) > 0) and np.all(np.diff(cal.scores) >= 0)
    fresh = cal.score(rng.normal(0.0, 0.1, 3_000_000))
    far = measured_far(fresh)
    for t in (0.4, 0.5, 0.6, 0.7):
        assert far[f"{t:.1f}"]["measured"] == pytest.approx(TABLE[t], rel=0.5)
    assert cal.score(1.0) == pytest.approx(1.0) and cal.score(-1.0) == pytest.approx(0.0)
    again = Calibration.from_dict(cal.to_dict())
    assert again.score(0.3) == pytest.approx(cal.score(0.3), abs=1e-5)


def test_metrics_on_a_known_case():
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9, 0.95, 0.25, 0.85])
    same = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    assert 0.3 < best_threshold(scores, same) < 0.8
    assert kfold_accuracy(scores, same, np.array([1, 2] * 4))["accuracy"] == 1.0
    assert tar_at_far(scores, same, 0.0) == 1.0
    assert tar_at_far(np.array([0.5, 0.9, 0.6, 0.4]), np.array([1, 1, 0, 0]), 0.0) == 0.5


def test_a_photo_without_a_face_fails_its_pairs_without_raising_the_false_accepts():
    e = np.eye(3, dtype=np.float32)
    vectors = {"a1": e[0], "a2": e[0], "b": e[1], "c": e[2]}  # "x" has no face
    pairs = [{"path_a": "a1", "path_b": "a2", "same": "1", "fold": "1"},
             {"path_a": "a1", "path_b": "x", "same": "1", "fold": "1"},
             {"path_a": "b", "path_b": "x", "same": "0", "fold": "2"},
             {"path_a": "b", "path_b": "c", "same": "0", "fold": "2"}]
    m = evaluate_pairs(vectors, pairs)
    assert m["failed_pairs"] == 2
    assert m["accuracy"] == pytest.approx(0.5)  # each fold: one right, one failed
    assert m["tar_at_far_1e-3"] == pytest.approx(0.5)  # the failed genuine pair is a reject, not a false accept


def _png(w, h):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (120, 130, 140)).save(buf, "PNG")
    return buf.getvalue()


def test_decode_applies_exif_orientation():
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, :40] = 255  # left half white
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    Image.fromarray(img).save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    out = decode_image(buf.getvalue())
    assert out.shape[:2] == (80, 40)
    assert out[:40].mean() > 200 and out[40:].mean() < 50  # white half now on top


@pytest.mark.parametrize("data, kind", [
    (b"", "type"), (b"hello world", "type"), (_png(6, 100), "size"), (_png(5001, 10), "size"),
    (_png(100, 100)[:60], "corrupt"),
])
def test_decode_errors(data, kind):
    with pytest.raises(ImageError) as err:
        decode_image(data)
    assert err.value.kind == kind


def test_decode_refuses_oversized_bytes_and_pixel_bombs():
    with pytest.raises(ImageError) as err:
        decode_image(_png(100, 100), Limits(max_image_bytes=100))
    assert err.value.kind == "length"
    bomb = io.BytesIO()
    Image.new("L", (4900, 4900)).save(bomb, "PNG")  # tiny file, 24 Mpx
    with pytest.raises(ImageError) as err:
        decode_image(bomb.getvalue(), Limits(max_image_pixels=10_000_000))
    assert err.value.kind == "size"


def test_truncated_jpeg_is_corrupt():
    ok, buf = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    with pytest.raises(ImageError) as err:
        decode_image(buf.tobytes()[: len(buf) // 2])
    assert err.value.kind == "corrupt"


def test_config_layers_and_validation(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('port = 4000\napi_keys = ["a"]\n[limits]\nmax_body_bytes = 1000\n')
    cfg = load_config(f, env={"EDGE_FACE_PORT": "4001"})
    assert cfg.port == 4001 and cfg.api_keys == ("a",) and cfg.limits.max_body_bytes == 1000
    with pytest.raises(ConfigError, match="aes_key"):
        load_config(env={"EDGE_FACE_AES_KEY": "short"})
    with pytest.raises(ConfigError, match="unknown setting"):
        f.write_text("prot = 1\n")
        load_config(f, env={})
    with pytest.raises(ConfigError, match="port"):
        load_config(env={"EDGE_FACE_PORT": "seventy"})
