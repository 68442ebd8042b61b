"""SDXL checkpoints: the registered diffusers folders, the initial latents and the tiny-sdxl stand-in.

Checkpoint sources (registry ``models.sdxl.artifacts.pytorch.<precision>``), in order:
``--model-path DIR``, then ``<cache>/models/<name>/`` (pre-seeded from the controller cache or a
previous copy). A folder is either a diffusers folder (model_index.json + components, the Hugging
Face layout of stabilityai/stable-diffusion-xl-base-1.0) or the MLCommons layout
(``checkpoint_pipe/`` + ``checkpoint_scheduler/``, text_to_image/backend_pytorch.py). Neither
found: InputError naming the MLCommons R2 metadata URI, the upstream repo and where to put it.

The latents (registry ``models.sdxl.latents``): the reference's tools/latents.pt, from
``<cache>/models/<name>`` or its URL, sha256-verified. A stand-in folder carries its own
``latents.pt`` made the reference's way (tools/latent.py: ``torch.Generator().manual_seed(0)``,
``diffusers.utils.torch_utils.randn_tensor``, fp32) at its own size.

Stand-in ``tiny-sdxl``: a StableDiffusionXLPipeline from diffusers/transformers configs with
random weights (seed 0): UNet2DConditionModel with ``addition_embed_type="text_time"``, a
4-level AutoencoderKL (scale factor 8, like SDXL's), CLIPTextModel + CLIPTextModelWithProjection,
both tokenizers the real CLIP BPE (:mod:`.tokenizer`), EulerDiscreteScheduler with SDXL's
settings. Built once into ``<cache>/models/tiny-sdxl-<key>/`` with a ``fleetbench-stand-in.json``
record; that folder is accepted back as ``--model-path``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fleetbench_harness import artifacts
from fleetbench_harness.artifacts import ModelArtifact
from fleetbench_harness.errors import InputError
from fleetbench_harness.tasks.text_to_image import tokenizer as clip_tokenizer

#: Bumped when the stand-in's construction changes (new cache key).
STAND_IN_VERSION = 1
RECORD = "fleetbench-stand-in.json"
#: Components of an SDXL diffusers folder and the file each must hold.
COMPONENTS = {
    "unet": "config.json",
    "vae": "config.json",
    "text_encoder": "config.json",
    "text_encoder_2": "config.json",
    "tokenizer": "tokenizer_config.json",
    "tokenizer_2": "tokenizer_config.json",
    "scheduler": "scheduler_config.json",
}
_WEIGHTS = (".safetensors", ".bin")
_MODEL_COMPONENTS = ("unet", "vae", "text_encoder", "text_encoder_2")


def layout(folder: str | Path) -> tuple[Path, Path]:
    """(pipeline folder, scheduler folder) of a checkpoint folder (MLCommons or diffusers layout)."""
    root = Path(folder)
    if (root / "checkpoint_pipe").is_dir():
        sched = root / "checkpoint_scheduler" / "scheduler"
        return root / "checkpoint_pipe", sched if sched.is_dir() else root / "checkpoint_pipe" / "scheduler"
    return root, root / "scheduler"


def check_folder(folder: str | Path, field_name: str = "model_path") -> tuple[Path, Path]:
    """Check an SDXL diffusers folder before anything loads; return :func:`layout`.

    Raises:
        InputError(field_name): not a folder, no model_index.json, or components missing (each named
            with the file it lacks).
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(field_name, f"{root} is not a folder", "an SDXL diffusers folder")
    pipe, sched = layout(root)
    missing = []
    if not (pipe / "model_index.json").is_file():
        missing.append("model_index.json")
    for comp, needed in COMPONENTS.items():
        base = sched if comp == "scheduler" else pipe / comp
        if not (base / needed).is_file():
            missing.append(f"{comp}/{needed}")
        elif comp in _MODEL_COMPONENTS and not any(p.name.endswith(_WEIGHTS) for p in base.iterdir()):
            missing.append(f"{comp}/ weights (*.safetensors or *.bin)")
    if missing:
        raise InputError(
            field_name,
            f"{root} is not a complete SDXL checkpoint: missing {', '.join(missing)}",
            ["model_index.json", *(f"{c}/{f}" for c, f in COMPONENTS.items())],
        )
    return pipe, sched


def folder_digest(pipe: Path) -> str:
    """sha256 over the folder's manifest (relative path + size of every file) and model_index.json:
    cheap for 7-14 GB checkpoints, and it changes with any file added, removed or resized."""
    h = hashlib.sha256()
    for p in sorted(pipe.rglob("*")):
        if p.is_file() and p.name != RECORD:
            h.update(f"{p.relative_to(pipe)}\0{p.stat().st_size}\n".encode())
    h.update((pipe / "model_index.json").read_bytes())
    return h.hexdigest()


def _latents(entry: dict[str, Any], cache: Path) -> tuple[Path, str]:
    """The reference latents file (cache, else its URL), verified; (path, sha256)."""
    spec = entry["latents"]
    path = cache / "models" / spec["name"]
    if not path.is_file():
        artifacts.download(spec["url"], path)
    sha = artifacts.file_digest(path, "sha256")
    if sha != spec["sha256"]:
        raise InputError(
            "model_path", f"{path}: sha256 {sha} does not match the registry", [f"sha256 {spec['sha256']}"]
        )
    return path, sha


def make_latents(path: Path, height: int, width: int, channels: int = 4, scale: int = 8, seed: int = 0):
    """Write the reference-recipe latents (1, channels, height/scale, width/scale) fp32 to ``path``."""
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    gen = torch.Generator().manual_seed(seed)
    lat = randn_tensor((1, channels, height // scale, width // scale), generator=gen, dtype=torch.float32)
    torch.save(lat, str(path))
    return lat


def prepare_checkpoint(model: str, entry: dict, precision: str, cache: Path, model_path: str | None):
    """The benchmark's checkpoint + latents as a :class:`ModelArtifact` (see module docstring)."""
    arts = entry.get("artifacts", {}).get("pytorch", {})
    if precision not in arts:
        # bfloat16 runs from the float32 folder (cast on load), as the reference does.
        if precision == "bfloat16" and "float32" in arts:
            spec = dict(arts["float32"])
        else:
            raise InputError("precision", f"{model} has no {precision} checkpoint", sorted(arts))
    else:
        spec = dict(arts[precision])
    if model_path:
        folder, source = Path(model_path), "model_path"
    else:
        folder, source = cache / "models" / spec["name"], "cache"
        if not folder.is_dir():
            raise InputError(
                "model_path",
                f"no {spec['name']} checkpoint: it is not in {folder} and cannot be fetched here. "
                f"Get it with the MLC R2 downloader "
                f"(bash <(curl -s {spec['r2_downloader']}) -d DIR {spec['r2_metadata']}) "
                f"or from {spec['upstream']}, then give model_path=DIR or pre-seed {folder}; "
                "or run the stand-in (stand_in_model=tiny-sdxl)",
                ["model_path=DIR (a diffusers folder)", f"{folder}", "stand_in_model=tiny-sdxl"],
            )
    pipe, sched = check_folder(folder)
    lat_path, lat_sha = _latents(entry, cache)
    gen = entry["generation"]
    return ModelArtifact(
        str(folder),
        folder_digest(pipe),
        f"{spec['name']} ({source})",
        None,
        False,
        "diffusers-folder",
        spec,
        checksum_warning=f"{folder}: a folder checkpoint; its manifest (names, sizes) is digested, "
        "not every weight byte",
        source=source,
        extra={
            "pipeline_folder": str(pipe),
            "scheduler_folder": str(sched),
            "latents": str(lat_path),
            "latents_sha256": lat_sha,
            "height": int(gen["height"]),
            "width": int(gen["width"]),
        },
    )


def _stand_in_key(vocab_sha: str, spec: dict[str, Any]) -> str:
    blob = json.dumps({"v": STAND_IN_VERSION, "vocab": vocab_sha, "h": spec["height"], "w": spec["width"]})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build_tiny_sdxl(dest: Path, vocab_gz: Path, height: int, width: int) -> None:
    """Write the tiny-sdxl pipeline folder at ``dest`` (see module docstring)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    tok_dir = dest / "_tokenizers"
    tok = clip_tokenizer.write_clip_tokenizer(vocab_gz, tok_dir / "tokenizer")
    tok_2 = clip_tokenizer.write_clip_tokenizer(vocab_gz, tok_dir / "tokenizer_2", pad_token="!")
    text_cfg = {
        "vocab_size": clip_tokenizer.VOCAB_SIZE,
        "max_position_embeddings": clip_tokenizer.CONTEXT_LENGTH,
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "projection_dim": 32,
        "hidden_act": "gelu",
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
    }
    text_encoder = CLIPTextModel(CLIPTextConfig(**text_cfg))
    text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(**text_cfg))
    # addition_time_embed_dim * 6 time ids + text_encoder_2's projection = 8 * 6 + 32 = 80;
    # cross attention over both encoders' hidden states: 32 + 32 = 64 (SDXL's layout, tiny widths).
    unet = UNet2DConditionModel(
        sample_size=height // 8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=80,
        cross_attention_dim=64,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=height,
    )
    # SDXL base's scheduler settings (stabilityai/stable-diffusion-xl-base-1.0 scheduler_config.json).
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        prediction_type="epsilon",
        timestep_spacing="leading",
        steps_offset=1,
        interpolation_type="linear",
        use_karras_sigmas=False,
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tok,
        tokenizer_2=tok_2,
        unet=unet,
        scheduler=scheduler,
        force_zeros_for_empty_prompt=True,
        add_watermarker=False,
    )
    pipe.save_pretrained(str(dest), safe_serialization=True)
    shutil.rmtree(tok_dir)
    make_latents(dest / "latents.pt", height, width)


def prepare_stand_in(model: str, entry: dict, stand_in: str, cache: Path, model_path: str | None):
    """The tiny-sdxl folder: ``--model-path`` (one this harness built) or the cache; built on demand."""
    spec = artifacts.stand_in_spec(model, entry, stand_in, "pytorch")
    label = str(spec.get("label", f"stand-in {stand_in}"))
    height, width = int(spec["height"]), int(spec["width"])

    def artifact(folder: Path, changed: bool, source: str) -> ModelArtifact:
        rec = json.loads((folder / RECORD).read_text())
        return ModelArtifact(
            str(folder),
            folder_digest(folder),
            label,
            stand_in,
            changed,
            "diffusers-folder",
            spec,
            source=source,
            extra={
                "pipeline_folder": str(folder),
                "scheduler_folder": str(folder / "scheduler"),
                "latents": str(folder / "latents.pt"),
                "latents_sha256": artifacts.file_digest(folder / "latents.pt", "sha256"),
                "height": height,
                "width": width,
                "stand_in_key": rec["key"],
                "vocab_sha256": rec["vocab_sha256"],
            },
        )

    if model_path:
        folder = Path(model_path)
        rec_path = folder / RECORD
        rec = json.loads(rec_path.read_text()) if rec_path.is_file() else {}
        if rec.get("name") != stand_in:
            raise InputError(
                "model_path",
                f"{folder} is not a {stand_in} folder built by this harness (no {RECORD} naming it)",
                ["the path prepare-model printed", "no model_path (build it in the cache)"],
            )
        check_folder(folder)
        return artifact(folder, False, "model_path (harness-built stand-in)")
    vocab = clip_tokenizer.vocab_file(cache)
    vocab_sha = artifacts.file_digest(vocab, "sha256")
    key = _stand_in_key(vocab_sha, spec)
    dest = cache / "models" / f"{stand_in}-{key}"
    if (dest / RECORD).is_file():
        check_folder(dest)
        return artifact(dest, False, "cache (harness-built stand-in)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=dest.name + ".part"))
    try:
        build_tiny_sdxl(tmp, vocab, height, width)
        record = {
            "kind": "stand-in",
            "name": stand_in,
            "key": key,
            "vocab_sha256": vocab_sha,
            "version": STAND_IN_VERSION,
        }
        (tmp / RECORD).write_text(json.dumps(record, sort_keys=True))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return artifact(dest, True, "built (harness stand-in)")
