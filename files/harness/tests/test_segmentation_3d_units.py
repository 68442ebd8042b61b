"""3D-UNet family pieces on data the tests write (nothing mocked).

Sliding window on volumes whose right output is known, the Gaussian map against the reference
formula, DICE on hand-made label volumes, the reference preprocessing on a real NIfTI file
(nibabel's test data), the 3D-UNet's checkpoint names/shapes, and bad input that must fail
before LoadGen (exit 2, one line naming the field).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import nibabel
import numpy as np
import pytest
from fleetbench_harness import registry
from fleetbench_harness.errors import InputError
from fleetbench_harness.tasks.segmentation_3d import accuracy, dataset, sliding_window
from harness_testlib import run_cli, write_conf

NIB_DATA = Path(nibabel.__file__).parent / "tests" / "data"
SPEC = registry.preprocessing(registry.model("3d-unet-99"))
KITS = registry.dataset(registry.model("3d-unet-99"))


# -- Gaussian importance map ----------------------------------------------------------------
def test_gaussian_map_matches_reference_formula():
    n, sigma = 128, 0.125 * 128
    x = np.arange(n) - (n - 1) / 2.0
    g1 = np.exp(-0.5 * (x / sigma) ** 2)  # scipy.signal.gaussian(n, std), the reference's call
    ref = np.cbrt(np.einsum("i,j,k->ijk", g1, g1, g1))
    ref /= ref.max()
    got = sliding_window.gaussian_map(n, sigma)
    assert got.shape == (n, n, n) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)
    # cube root of a product of three 1-D Gaussians: along one axis exp(-x^2 / (6 sigma^2)), max at x = 0.5
    assert got[0, 63, 63] == pytest.approx(np.exp(-0.5 * (63.5**2 - 0.5**2) / sigma**2 / 3), rel=1e-5)


def test_window_starts_tile_the_volume():
    starts = list(sliding_window.window_starts((192, 128, 128), (128, 128, 128), 0.5))
    assert starts == [(0, 0, 0), (64, 0, 0)]
    assert len(list(sliding_window.window_starts((128, 192, 256), (128, 128, 128), 0.5))) == 1 * 2 * 3
    with pytest.raises(ValueError, match="shorter than the ROI"):
        list(sliding_window.window_starts((100, 128, 128), (128, 128, 128), 0.5))


# -- sliding window with networks whose answer is known --------------------------------------
def _identity_logits(batch: np.ndarray) -> np.ndarray:
    """Per voxel, logits peaking at the class equal to the voxel value: argmax = the input."""
    x = batch[:, 0]
    return np.stack([-((x - c) ** 2) for c in range(3)], axis=1)


@pytest.mark.parametrize("window_batch", [1, 3])
def test_identity_network_stitches_back_the_input(window_batch):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(96, 64, 96)).astype(np.uint8)  # 2 x 1 x 2 overlapping windows
    out = sliding_window.segment(
        labels.astype(np.float32)[None], _identity_logits, (64, 64, 64), 0.5, window_batch=window_batch
    )
    assert out.dtype == np.uint8 and out.shape == labels.shape
    np.testing.assert_array_equal(out, labels)


def test_constant_network_gives_a_constant_volume():
    def constant(batch):
        logits = np.zeros((len(batch), 3, *batch.shape[2:]), dtype=np.float32)
        logits[:, 2] = 5.0
        return logits

    out = sliding_window.segment(np.zeros((1, 128, 128, 128), np.float32), constant, (64, 64, 64), 0.5)
    assert out.shape == (128, 128, 128) and (out == 2).all()


# -- DICE ---------------------------------------------------------------------------------------
def _hand_made() -> tuple[np.ndarray, np.ndarray]:
    ref = np.zeros((4, 4, 4), np.uint8)
    pred = np.zeros((4, 4, 4), np.uint8)
    ref[0, :2, :] = 1  # 8 kidney voxels
    pred[0, 0, :] = 1  # 4 of them ...
    pred[1, 0, :] = 1  # ... and 4 wrong ones
    ref[3, 3, 2:] = 2  # 2 tumour voxels, none predicted
    pred[2, 2, 2] = 2  # 1 tumour voxel predicted elsewhere
    return pred, ref


def test_dice_on_hand_made_volumes():
    pred, ref = _hand_made()
    kidney, tumour = accuracy.dice(pred, ref)
    assert kidney == pytest.approx((2 * 4 + 1e-6) / (8 + 8 + 1e-6))  # 0.5
    assert tumour == pytest.approx((0 + 1e-6) / (1 + 2 + 1e-6))
    # both absent: the smoothing makes it 1 (as accuracy_kits.py)
    assert accuracy.dice(np.zeros((2, 2, 2), np.uint8), np.zeros((2, 2, 2), np.uint8)) == (1.0, 1.0)
    assert accuracy.dice(ref, ref) == (1.0, 1.0)


def test_score_reads_an_accuracy_log_and_prints_the_reference_line(tmp_path):
    pred, ref = _hand_made()
    log = tmp_path / "mlperf_log_accuracy.json"
    entries = [
        {"seq_id": 0, "qsl_idx": 1, "data": ref.tobytes().hex()},
        {"seq_id": 1, "qsl_idx": 0, "data": pred.tobytes().hex()},
        {"seq_id": 2, "qsl_idx": 0, "data": ref.tobytes().hex()},  # a repeat: the first one counts
    ]
    log.write_text(json.dumps(entries))
    res = accuracy.score(log, ["case_a", "case_b"], [(4, 4, 4), (4, 4, 4)], lambda case: ref)
    kidney = (0.5 + 1.0) / 2
    tumour = ((1e-6 / (3 + 1e-6)) + 1.0) / 2
    assert res["total"] == 2 and res["unit"] == "fraction"
    assert res["metrics"]["kidney"] == round(kidney, 4)
    assert res["value"] == round((kidney + tumour) / 2, 5)
    out = tmp_path / "accuracy.txt"
    accuracy.write(res, out)
    first = out.read_text().splitlines()[0]
    assert first == f"Accuracy: mean = {res['value']:.5f}, kidney = {kidney:.4f}, tumor = {tumour:.4f}"
    with pytest.raises(InputError, match="not a uint8 volume"):
        accuracy.score(log, ["case_a", "case_b"], [(4, 4, 5), (4, 4, 4)], lambda case: ref)


# -- preprocessing ------------------------------------------------------------------------------
def test_preprocess_at_target_spacing_clips_normalises_and_pads():
    img = np.full((40, 130, 70), 500.0, np.float32)  # above the clip
    img[20, 60, 35] = -1000.0  # below it
    lab = np.zeros(img.shape, np.uint8)
    lab[20, 60, 30] = 2
    out, lab_out = dataset.preprocess(img, lab, (1.6, 1.2, 1.2), SPEC)
    # 40 -> edge pad 128; 130 % 64 = 2 < 32 -> crop to 128; 70 -> edge pad to 128
    assert out.shape == (1, 128, 128, 128) and lab_out.shape == (128, 128, 128)
    hi = (304.0 - 101.0) / 76.9
    assert out.max() == pytest.approx(hi) and out.min() == pytest.approx((-79.0 - 101.0) / 76.9)
    assert (lab_out == 2).sum() == 1
    # a 160 edge is padded with -2.2 to 192 (ROI + 1 stride)
    out2, _ = dataset.preprocess(
        np.zeros((160, 128, 128), np.float32), np.zeros((160, 128, 128), np.uint8), (1.6, 1.2, 1.2), SPEC
    )
    assert out2.shape == (1, 192, 128, 128)
    assert out2[0, 0, 0, 0] == pytest.approx(-2.2) and out2[0, 100, 64, 64] == pytest.approx(-101.0 / 76.9)


def _write_case(root: Path, case: str, img: np.ndarray, spacing, seg_spacing=None, seg=None):
    """A KiTS19 case whose header pixdim[1:4] holds exactly ``spacing`` (even 0 or negative).

    nibabel's writer replaces a 0 spacing by 1, so the bytes are patched after writing (NIfTI-1:
    pixdim is float32[8] at byte 76 of the header).
    """
    (root / case).mkdir(parents=True, exist_ok=True)
    for name, arr, sp in (
        ("imaging.nii.gz", img, spacing),
        (
            "segmentation.nii.gz",
            np.zeros(img.shape, np.uint8) if seg is None else seg,
            seg_spacing or spacing,
        ),
    ):
        path = root / case / name
        nibabel.save(nibabel.Nifti1Image(arr, np.diag([1.0, 1.0, 1.0, 1.0])), str(path))
        raw = bytearray(gzip.decompress(path.read_bytes()))
        raw[80:92] = np.asarray(sp, dtype="<f4").tobytes()
        path.write_bytes(gzip.compress(bytes(raw)))


def test_real_nifti_is_resampled_to_the_target_spacing(tmp_path):
    """nibabel's anatomical.nii (33 x 41 x 25 voxels of 2 mm) as a KiTS19 case."""
    anat = nibabel.load(str(NIB_DATA / "anatomical.nii"))
    root = tmp_path / "kits"
    _write_case(root, "case_00000", np.asarray(anat.dataobj), [float(v) for v in anat.header["pixdim"][1:4]])
    (root / "inference_cases.json").write_text('["case_00000"]')
    image, _label, spacing = dataset.read_case(*dataset.case_files(root, "case_00000", {}))
    assert spacing == (2.0, 2.0, 2.0)
    from scipy import ndimage

    zoomed = ndimage.zoom(
        image,
        np.array(spacing) / np.array(SPEC["target_spacing"]),
        order=1,
        mode="constant",
        cval=float(image.min()),
        grid_mode=False,
    )
    assert zoomed.shape == (41, 68, 42)  # 33*2/1.6, 41*2/1.2, 25*2/1.2 rounded
    cache = dataset.load_preprocessed(root, KITS, SPEC, tmp_path / "cache", progress=False)
    assert cache["cases"] == ["case_00000"] and cache["shapes"] == [(128, 128, 128)] and cache["changed"]
    again = dataset.load_preprocessed(root, KITS, SPEC, tmp_path / "cache", progress=False)
    assert not again["changed"]


def test_case_00400_reads_case_00185_when_absent(tmp_path):
    _write_case(tmp_path, "case_00185", np.zeros((8, 8, 8), np.int16), [1.6, 1.2, 1.2])
    img, _seg = dataset.case_files(tmp_path, "case_00400", KITS["duplicates"])
    assert img == tmp_path / "case_00185" / "imaging.nii.gz"
    assert len(KITS["inference_cases"]) == 43 and KITS["inference_cases"][-1] == "case_00400"


# -- the 3D-UNet definition against the reference checkpoint's names and shapes -------------------
def test_unet3d_has_the_reference_checkpoint_layout(tmp_path):
    import torch
    from fleetbench_harness.tasks.segmentation_3d import model

    with torch.device("meta"):  # names and shapes only, no 31M-parameter allocation
        net = model.Unet3D()
    sd = net.state_dict()
    expect = {
        "input_block.conv1.0.weight": (32, 1, 3, 3, 3),
        "input_block.conv1.1.weight": (32,),
        "downsample.0.conv1.0.weight": (64, 32, 3, 3, 3),
        "downsample.3.conv2.1.bias": (320,),
        "bottleneck.conv1.0.weight": (320, 320, 3, 3, 3),
        "upsample.0.upsample_conv.0.weight": (320, 320, 2, 2, 2),
        "upsample.0.upsample_conv.0.bias": (320,),
        "upsample.4.conv1.0.weight": (32, 64, 3, 3, 3),
        "output.conv.0.weight": (3, 32, 1, 1, 1),
        "output.conv.0.bias": (3,),
    }
    for k, shape in expect.items():
        assert tuple(sd[k].shape) == shape, k
    assert len(net.upsample) == 5 and len(net.downsample) == 4
    assert not any(k.endswith("running_mean") for k in sd)  # InstanceNorm keeps no statistics
    tiny = model.build_random((2, 4), 1)
    ck = tmp_path / "ck.pth"
    torch.save({"best_model_state_dict": tiny.state_dict()}, ck)
    assert model.load_checkpoint(ck, (2, 4)) is not None
    bad = dict(tiny.state_dict())
    bad.pop("output.conv.0.bias")
    torch.save({"best_model_state_dict": bad}, ck)
    with pytest.raises(ValueError, match=r"missing \['output.conv.0.bias'\]"):
        model.load_checkpoint(ck, (2, 4))


# -- bad input: a clear error before LoadGen --------------------------------------------------------
def _ctx(
    tmp: Path, dataset_path: Path | None, model_path: Path | None = None, stand_in: str | None = "tiny-unet3d"
):
    from fleetbench_harness.tasks.base import RunContext

    return RunContext(
        model="3d-unet-99",
        entry=registry.model("3d-unet-99"),
        cache_dir=tmp / "cache",
        dataset_path=dataset_path,
        model_path=str(model_path) if model_path else None,
        stand_in=stand_in,
    )


def _run(tmp: Path, dataset_path: Path, *extra: str):
    """The CLI ``run``: exit 2 with one line, and LoadGen never started (no logs)."""
    conf = write_conf(
        tmp / "user.conf", ["*.SingleStream.min_query_count = 1", "*.SingleStream.min_duration = 0"]
    )
    out = tmp / "out"
    res = run_cli(
        "run", "--model", "3d-unet-99", "--backend", "onnxruntime", "--device", "cpu",
        "--scenario", "SingleStream", "--mode", "performance", "--dataset-path", dataset_path,
        "--user-conf", conf, "--output-dir", out, "--cache-dir", tmp / "cache",
        "--stand-in-model", "tiny-unet3d", *extra,
    )  # fmt: skip
    assert not (out / "mlperf_log_summary.txt").exists(), "LoadGen must not have started"
    return res


@pytest.mark.parametrize(
    ("what", "spacing", "seg_spacing", "needle"),
    [
        ("missing spacing", [0.0, 0.0, 0.0], None, "missing or not positive"),
        ("negative spacing", [1.6, -1.2, 1.2], None, "missing or not positive"),
        ("spacings differ", [1.6, 1.2, 1.2], [3.0, 1.2, 1.2], "differs from the imaging"),
    ],
)
def test_bad_spacing_header_fails_before_loadgen(tmp_path, what, spacing, seg_spacing, needle):
    from fleetbench_harness.tasks.segmentation_3d import FAMILY

    root = tmp_path / "kits"
    _write_case(root, "case_00000", np.zeros((8, 8, 8), np.int16), spacing, seg_spacing)
    (root / "inference_cases.json").write_text('["case_00000"]')
    with pytest.raises(InputError, match=needle) as err:
        FAMILY.check_dataset(_ctx(tmp_path, root))
    assert err.value.field == "dataset_path" and "pixdim" in str(err.value)


def test_case_id_not_in_the_list_fails_before_loadgen(tmp_path):
    root = tmp_path / "kits"
    _write_case(root, "case_00001", np.zeros((8, 8, 8), np.int16), [1.6, 1.2, 1.2])
    (root / "inference_cases.json").write_text('["case_00001"]')  # a training case
    res = _run(tmp_path, root)
    assert res.returncode == 2, res.stderr
    assert "'case_00001' is not one of the 43 KiTS19 inference cases" in res.stderr


def test_missing_case_names_kits19_path_and_the_source(tmp_path):
    from fleetbench_harness.tasks.segmentation_3d import FAMILY

    root = tmp_path / "kits"
    root.mkdir()
    with pytest.raises(InputError) as err:  # no inference_cases.json: the 43 cases, none present
        FAMILY.check_dataset(_ctx(tmp_path, root))
    text = str(err.value)
    assert "case_00000" in text and "kits19_path" in text and "neheller/kits19" in text


def test_model_folder_missing_a_component_fails_before_loadgen(tmp_path):
    from fleetbench_harness.tasks.segmentation_3d import FAMILY

    folder = tmp_path / "tiny-unet3d"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"name": "tiny-unet3d"}')
    (folder / "model.pth").write_bytes(b"")
    with pytest.raises(InputError, match=r"lacks model\.onnx") as err:
        FAMILY.prepare_model(_ctx(tmp_path, None, folder))
    assert err.value.field == "model_path"
    # the real model: a model folder without the registry's ONNX file
    with pytest.raises(InputError, match=r"lacks 3dunet_kits19_128x128x128_dynbatch\.onnx"):
        FAMILY.prepare_model(_ctx(tmp_path, None, folder, stand_in=None))


def test_real_model_offline_without_kits19_says_what_is_needed(tmp_path):
    res = run_cli(
        "prepare-dataset", "--model", "3d-unet-99", "--cache-dir", tmp_path, "--source", "kits19-synthetic"
    )
    assert res.returncode == 2
    assert res.stderr.startswith("fleetbench_harness: error: kits19_path:")
    assert "get_imaging" in res.stderr and "stand_in_model=tiny-unet3d" in res.stderr


def test_torchscript_model_path_is_checked_against_the_registry_md5(tmp_path):
    from fleetbench_harness.tasks.segmentation_3d import FAMILY

    ptc = tmp_path / "3dunet_kits19_pytorch.ptc"
    ptc.write_bytes(b"not the zenodo file")
    ctx = _ctx(tmp_path, None, ptc, stand_in=None)
    ctx.backend = "pytorch"
    with pytest.raises(InputError, match="2251109371f408c9f10a4320ffdcaef8") as err:
        FAMILY.prepare_model(ctx)
    assert err.value.field == "model_path"


def test_synthetic_set_makes_the_whole_inference_set_on_request(tmp_path):
    """count=43: every inference case id (the checker's 3d-unet performance_sample_count and dataset
    size are 43); the first four cases are the default set's, byte for byte."""
    from fleetbench_harness.tasks.segmentation_3d import synthetic

    cases = list(registry.load()["datasets"]["kits19"]["inference_cases"])
    four, _ = synthetic.build(tmp_path / "four", cases, 4)
    every, changed = synthetic.build(tmp_path / "all", cases, 43)
    assert changed and json.loads((every / "inference_cases.json").read_text()) == cases
    assert len(cases) == 43
    for case in cases[:4]:
        a = nibabel.load(str(four / case / "imaging.nii.gz")).get_fdata()
        b = nibabel.load(str(every / case / "imaging.nii.gz")).get_fdata()
        assert np.array_equal(a, b)
    assert synthetic.build(tmp_path / "all", cases, 43) == (every, False)
