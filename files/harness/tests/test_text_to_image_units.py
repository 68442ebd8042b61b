"""text_to_image (SDXL) in-process units: FID math, CLIP plumbing, the CLIP tokenizer, captions checks.

Nothing mocked: scipy's sqrtm, a tiny random transformers CLIP model saved and loaded from a
folder, the real CLIP BPE vocabulary (open_clip_torch's file), files the tests write.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from fleetbench_harness import registry
from fleetbench_harness.errors import InputError
from fleetbench_harness.tasks.base import RunContext
from fleetbench_harness.tasks.text_to_image import accuracy, clip_score, dataset, fid, model, tokenizer


@pytest.fixture(scope="module")
def clip_tok(tmp_path_factory):
    cache = tmp_path_factory.mktemp("t2i-tok")
    return tokenizer.write_clip_tokenizer(tokenizer.vocab_file(cache), cache / "tok")


def test_fid_closed_form_diagonal_and_1d():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    v1, v2 = rng.uniform(0.5, 2.0, 5), rng.uniform(0.5, 2.0, 5)
    # Diagonal covariances: |mu1 - mu2|^2 + sum(v1 + v2 - 2 sqrt(v1 v2)).
    want = float(np.sum((mu1 - mu2) ** 2) + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2)))
    got = fid.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(want, rel=1e-9)
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2.
    assert fid.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)
    # Same Gaussian: 0.
    a = rng.normal(size=(4, 4))
    cov = a @ a.T + np.eye(4)
    assert fid.frechet_distance(mu1[:4], cov, mu1[:4], cov) == pytest.approx(0.0, abs=1e-8)


def test_fid_full_covariances_match_the_definition():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    s1, s2 = a @ a.T + 0.1 * np.eye(3), b @ b.T + 0.1 * np.eye(3)
    # tr(sqrt(S1 S2)) = sum of sqrt of the eigenvalues of S1 S2 (real, positive: similar to an SPD matrix).
    tr_sqrt = float(np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).real)))
    want = float(np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)
    assert fid.frechet_distance(np.zeros(3), s1, np.zeros(3), s2) == pytest.approx(want, rel=1e-7)
    with pytest.raises(ValueError, match="shapes differ"):
        fid.frechet_distance(np.zeros(3), s1, np.zeros(2), s2[:2, :2])


def test_fid_statistics_and_npz(tmp_path):
    feats = np.arange(12, dtype=np.float64).reshape(4, 3) ** 1.5
    mu, sigma = fid.statistics(feats)
    np.testing.assert_allclose(mu, feats.mean(axis=0))
    np.testing.assert_allclose(sigma, np.cov(feats, rowvar=False))
    np.savez(tmp_path / "s.npz", mu=mu, sigma=sigma)
    mu2, sigma2 = fid.load_statistics(tmp_path / "s.npz")
    assert fid.frechet_distance(mu, sigma, mu2, sigma2) == pytest.approx(0.0, abs=1e-6)


def test_clip_tokenizer_is_the_real_vocabulary(clip_tok):
    assert len(clip_tok) == tokenizer.VOCAB_SIZE == 49408
    assert clip_tok.model_max_length == 77
    # OpenAI CLIP ids: <|startoftext|> 49406, "a" 320, "cat" 2368, <|endoftext|> 49407.
    assert clip_tok("a cat").input_ids == [49406, 320, 2368, 49407]


def _tiny_clip(folder):
    from transformers import CLIPConfig, CLIPModel

    cfg = CLIPConfig(
        text_config={
            "vocab_size": 49408,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 77,
            "eos_token_id": 49407,
            "bos_token_id": 49406,
            "pad_token_id": 49407,
        },
        vision_config={
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
        },
        projection_dim=16,
    )
    import torch

    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(str(folder))
    return folder


def test_clip_score_plumbing_on_a_tiny_random_clip(tmp_path, clip_tok):
    scorer = clip_score.ClipScorer(_tiny_clip(tmp_path / "clip"), clip_tok)
    img = np.random.default_rng(0).integers(0, 256, size=(64, 48, 3), dtype=np.uint8)
    s = scorer.score("A red bicycle leaning against a brick wall.", img)
    assert math.isfinite(s) and -100.0 <= s <= 100.0
    assert scorer.score("A red bicycle leaning against a brick wall.", img) == pytest.approx(s)
    tok = scorer.tokens("word " * 200)
    assert tok.shape == (1, 77) and int(tok[0, -1]) == 49407 and int(tok[0, 0]) == 49406


def test_whole_scoring_path_with_random_scorer_weights(tmp_path, clip_tok):
    """FID (our Inception with a strict state-dict load) + CLIP -> the reference's printed line."""
    import torch

    net = fid.inception(None)
    torch.save(net.state_dict(), tmp_path / "inception.pth")
    rng = np.random.default_rng(0)
    images = {i: rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8) for i in range(3)}
    feats = fid.features(fid.inception(tmp_path / "inception.pth"), list(images.values()))
    assert feats.shape == (3, 2048) and np.isfinite(feats).all()
    np.savez(tmp_path / "ref.npz", mu=feats.mean(axis=0) + 0.01, sigma=np.eye(2048) * 1e-3)
    ctx = RunContext(model="sdxl", entry=registry.model("sdxl"), cache_dir=tmp_path / "cache")
    paths = {
        "fid_inception": tmp_path / "inception.pth",
        "fid_statistics": tmp_path / "ref.npz",
        "clip": _tiny_clip(tmp_path / "clip"),
    }
    fid_v, clip_v = accuracy.measure(ctx, images, ["a", "b", "c"], paths)
    assert math.isfinite(fid_v) and fid_v > 0 and math.isfinite(clip_v)
    line = accuracy.format_line(fid_v, clip_v)
    assert line.startswith("Accuracy Results: {'FID_SCORE': '") and "'CLIP_SCORE': '" in line


def test_inception_refuses_foreign_weights(tmp_path):
    import torch
    from fleetbench_harness.errors import HarnessError

    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(HarnessError, match="not the FID Inception weights"):
        fid.inception(tmp_path / "bad.pth")


def test_captions_missing_columns_named(tmp_path):
    bad = tmp_path / "captions_source.tsv"
    bad.write_text("id\timage_id\ttext\n0\t1\ta cat\n")
    with pytest.raises(InputError) as err:
        dataset.read_captions(bad)
    msg = str(err.value)
    assert "caption" in msg and "height" in msg and "coco_url" in msg and "missing column" in msg


def test_smoke_set_has_the_reference_columns(tmp_path):
    path, changed = dataset.build_smoke(tmp_path)
    assert changed and not dataset.build_smoke(tmp_path)[1]
    assert path.read_text().splitlines()[0].split("\t") == [
        "id",
        "image_id",
        "caption",
        "height",
        "width",
        "file_name",
        "coco_url",
    ]
    assert len(dataset.read_captions(path)) == len(dataset.SMOKE_CAPTIONS)
    assert dataset.read_captions(tmp_path, 2) == list(dataset.SMOKE_CAPTIONS[:2])
    # The run takes a folder: the file's own, or a cache copy for a file of another name.
    assert dataset.dataset_folder(path, tmp_path / "cache") == tmp_path
    other = tmp_path / "mine.tsv"
    other.write_bytes(path.read_bytes())
    copy = dataset.dataset_folder(other, tmp_path / "cache")
    assert copy.parent == tmp_path / "cache" / "datasets" and dataset.read_captions(
        copy
    ) == dataset.read_captions(other)


def test_checkpoint_folder_missing_component_named(tmp_path):
    root = tmp_path / "ckpt"
    for comp in ("vae", "text_encoder", "text_encoder_2"):
        (root / comp).mkdir(parents=True)
        (root / comp / "config.json").write_text("{}")
        (root / comp / "diffusion_pytorch_model.safetensors").write_bytes(b"x")
    (root / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionXLPipeline"}))
    with pytest.raises(InputError) as err:
        model.check_folder(root)
    msg = str(err.value)
    assert "unet/config.json" in msg and "tokenizer/tokenizer_config.json" in msg
    assert "scheduler/scheduler_config.json" in msg and "vae" not in msg.split("missing")[1].split(";")[0]


def test_no_checkpoint_names_what_and_where(tmp_path):
    with pytest.raises(InputError) as err:
        model.prepare_checkpoint("sdxl", registry.model("sdxl"), "float16", tmp_path, None)
    msg = str(err.value)
    assert "stable-diffusion-xl-1-0-fp16-checkpoint.uri" in msg
    assert "stabilityai/stable-diffusion-xl-base-1.0" in msg and "model_path" in msg


def test_read_images_and_checker_ids(tmp_path):
    img = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    log = [
        {"seq_id": 0, "qsl_idx": 2, "data": img.tobytes().hex()},
        {"seq_id": 1, "qsl_idx": 2, "data": "00" * 48},
    ]
    (tmp_path / "log.json").write_text(json.dumps(log))
    got = accuracy.read_images(tmp_path / "log.json")
    assert list(got) == [2] and (got[2] == img).all()
    (tmp_path / "bad.json").write_text(json.dumps([{"seq_id": 0, "qsl_idx": 0, "data": "00" * 10}]))
    with pytest.raises(InputError, match="not a square RGB image"):
        accuracy.read_images(tmp_path / "bad.json")
    ids = accuracy.checker_image_ids(registry.model("sdxl"))
    # v5.1's list (tools/submission checker constants) and sample 0 are among them.
    assert {0, 2747, 2235, 2165, 1515, 1538, 1367, 2419, 4629, 3657, 4532} <= set(ids)
