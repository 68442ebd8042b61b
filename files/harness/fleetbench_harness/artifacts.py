"""Model artifacts: locate, download and verify files (family-free).

Implements the default ``prepare-model`` (docs/contracts.md). Every fact (file
names, URLs, checksums, package paths, labels) comes from the registry entry's
``artifacts.<backend>.<precision>`` or ``stand_ins.<name>``. Sources of a model
file, in order:

1. ``--model-path FILE`` (checked against the registry checksum);
2. a file shipped in a Python package (``python_package`` + ``package_path``);
3. the cache: ``<cache-dir>/models/<name>`` (pre-seeded by the controller or a
   previous download), checksum re-verified;
4. download from ``url`` (3 tries, back-off), checksum verified, atomic rename.

An artifact with ``export_from: <backend>`` is derived from that backend's
file by the family's exporter (``exporter(weights, dest, spec)``), once, and
cached as ``<cache-dir>/models/<stem>-<weights sha256[:16]>-x<EXPORT_VERSION>.onnx``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

from fleetbench_harness import registry
from fleetbench_harness.errors import HarnessError, InputError

_CHUNK = 1 << 20
#: Bumped when the export code changes, so cached exports are rebuilt.
EXPORT_VERSION = 1


def file_digest(path: str | Path, algo: str) -> str:
    """Hex digest (``md5`` or ``sha256``) of a file, read in 1 MiB chunks."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ModelArtifact:
    """A resolved model (a file, or a folder for families that load one).

    Attributes:
        path: the file/folder the backend loads; sha256: its digest (a folder: a manifest digest).
        label: what it is, for humans; stand_in: the stand-in name, or None for the benchmark's model.
        changed: this call downloaded/exported/built it.
        format: ``onnx``, ``pth``, ``hf-folder`` … (the family's business).
        spec: the registry entry it came from (artifact or stand-in), for family-specific fields.
        checksum_warning: set when the registry has no checksum to verify.
    """

    path: str
    sha256: str
    label: str
    stand_in: str | None
    changed: bool
    format: str
    spec: dict[str, Any] = field(default_factory=dict)
    checksum_warning: str | None = None
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy_comparable(self) -> bool:
        """False for every stand-in: its accuracy is never compared with the benchmark's target."""
        return self.stand_in is None

    def cli_json(self) -> dict[str, Any]:
        """The JSON line of ``prepare-model``: {path, sha256, label, stand_in, changed[, warning]}."""
        d = {k: asdict(self)[k] for k in ("path", "sha256", "label", "stand_in", "changed")}
        if self.checksum_warning:
            d["warning"] = self.checksum_warning
        return d


def _package_file(package: str, rel: str) -> Path | None:
    """Path of ``rel`` inside an installed distribution's import package, or None."""
    mod = package.replace("-", "_")
    spec = importlib_util.find_spec(mod)
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        cand = Path(loc) / rel
        if cand.is_file():
            return cand
    return None


def _verify(path: Path, art: dict[str, Any], field_name: str) -> tuple[str, str | None]:
    """Check ``path`` against the artifact's md5/sha256; return (sha256, warning).

    Raises:
        InputError(field_name): checksum mismatch (names file, expected and actual).
    """
    sha = file_digest(path, "sha256")
    warning = None
    if art.get("sha256"):
        if sha != art["sha256"]:
            raise InputError(
                field_name, f"{path}: sha256 {sha} does not match the registry", [f"sha256 {art['sha256']}"]
            )
    elif art.get("md5"):
        md5 = file_digest(path, "md5")
        if md5 != art["md5"]:
            raise InputError(
                field_name, f"{path}: md5 {md5} does not match the registry", [f"md5 {art['md5']}"]
            )
    else:
        warning = f"no checksum in the registry for {art.get('name', path)}: {path} was NOT verified"
    return sha, warning


def download(url: str, dest: Path, tries: int = 3, timeout: float = 60.0) -> None:
    """Download ``url`` to ``dest`` atomically (tmp file + rename), with retries.

    Raises:
        HarnessError: after ``tries`` failures (last reason in the message).
    """
    import urllib.request

    dest.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for attempt in range(1, tries + 1):
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
            os.replace(tmp, dest)
            return
        except OSError as exc:
            last = exc
            Path(tmp).unlink(missing_ok=True)
            print(
                f"fleetbench_harness: download {url} failed (try {attempt}/{tries}): {exc}", file=sys.stderr
            )
            if attempt < tries:
                time.sleep(2**attempt)
    raise HarnessError(f"cannot download {url}: {last}; pre-seed {dest} or pass --model-path")


def _artifact_entry(model_name: str, entry: dict, backend: str, precision: str) -> dict[str, Any]:
    arts = entry.get("artifacts", {})
    if backend not in arts:
        raise InputError("backend", f"model {model_name!r} has no {backend} artifact", sorted(arts))
    per_prec = arts[backend]
    # A backend that casts (registry backends.<name>.casts_from_float32: PyTorch) runs reduced
    # precision from the float32 weights.
    casts = registry.load().get("backends", {}).get(backend, {}).get("casts_from_float32", [])
    if precision not in per_prec and precision in casts and "float32" in per_prec:
        return dict(per_prec["float32"])
    if precision not in per_prec:
        raise InputError(
            "precision", f"model {model_name!r} on {backend} has no {precision} artifact", sorted(per_prec)
        )
    return dict(per_prec[precision])


def _local_or_cached(art: dict, cache_dir: Path, model_path: str | None, field_name: str) -> tuple[Path, str]:
    if model_path:
        p = Path(model_path)
        if not p.is_file():
            raise InputError(field_name, f"model file {p} does not exist", "an existing model file")
        return p, "model_path"
    if art.get("python_package"):
        p = _package_file(art["python_package"], art["package_path"])
        if p is None:
            raise InputError(
                field_name,
                f"{art['package_path']} not found: is the Python package {art['python_package']} installed?",
                [f"pip install {art['python_package']}", "--model-path FILE"],
            )
        return p, f"package:{art['python_package']}"
    cached = cache_dir / "models" / art["name"]
    if cached.is_file():
        return cached, "cache"
    if not art.get("url"):
        raise InputError(
            field_name, f"no file for {art.get('name')} and no URL in the registry", "--model-path FILE"
        )
    download(art["url"], cached)
    return cached, f"url:{art['url']}"


def _record_derivative(dest: Path, record: dict[str, Any]) -> None:
    """Write ``<dest>.json``: the provenance of a file this harness derived (export, rewrite)."""
    record = dict(record, sha256=file_digest(dest, "sha256"))
    tmp = dest.with_name(dest.name + ".json.part")
    tmp.write_text(json.dumps(record, sort_keys=True))
    os.replace(tmp, dest.with_name(dest.name + ".json"))


def _own_derivative(model_path: str | None, kind: str, name: str) -> dict[str, Any] | None:
    """The provenance record when ``model_path`` is a file this harness derived (sha256 re-checked).

    ``prepare-model`` prints the derived file's path; callers pass it back as
    ``--model-path``. It is accepted as ours only when its ``.json`` record
    names the same kind/name and the file's sha256 still matches the record.
    """
    if not model_path:
        return None
    p = Path(model_path)
    rec_path = p.with_name(p.name + ".json")
    if not (p.is_file() and rec_path.is_file()):
        return None
    try:
        rec = json.loads(rec_path.read_text())
    except ValueError:
        return None
    if rec.get("kind") != kind or rec.get("name") != name or rec.get("sha256") != file_digest(p, "sha256"):
        return None
    return rec


def _make_batch_dynamic(src: Path, dest: Path) -> None:
    """Copy an ONNX model with batch 1 baked in, with a symbolic batch dimension ``N``.

    Sets the first dimension of every graph input/output to ``N`` and turns a
    leading ``1`` of constant ``Reshape`` target shapes into ``-1`` (the
    flatten before a Gemm). Written atomically.
    """
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(src))
    for v in [*m.graph.input, *m.graph.output]:
        dims = v.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "N"
    inits = {i.name: i for i in m.graph.initializer}
    for node in m.graph.node:
        if node.op_type == "Reshape" and len(node.input) > 1 and node.input[1] in inits:
            init = inits[node.input[1]]
            shape = numpy_helper.to_array(init).copy()
            if shape.size and shape[0] == 1:
                shape[0] = -1
                init.CopyFrom(numpy_helper.from_array(shape, init.name))
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".part", suffix=".onnx")
    os.close(fd)
    try:
        onnx.save(m, tmp)
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def stand_in_spec(model_name: str, entry: dict, stand_in: str, backend: str) -> dict[str, Any]:
    """The registry's ``stand_ins.<stand_in>`` entry of a model, checked against the backend.

    Raises:
        InputError(stand_in_model): not registered for the model; InputError(backend): wrong backend.
    """
    registered = entry.get("stand_ins", {})
    if stand_in not in registered:
        raise InputError(
            "stand_in_model",
            f"{stand_in!r} is not a registered stand-in for {model_name}",
            sorted(registered) or ["none"],
        )
    spec = dict(registered[stand_in], name=stand_in)
    backends = spec.get("backends") or []
    if backends and backend not in backends:
        raise InputError("backend", f"stand-in {stand_in} runs on {', '.join(backends)}", backends)
    return spec


def prepare(
    model_name: str,
    backend: str,
    precision: str,
    cache_dir: str | Path,
    model_path: str | None = None,
    stand_in: str | None = None,
    exporter: Any = None,
) -> ModelArtifact:
    """Resolve the model file for (model, backend, precision) or a file stand-in; see module docstring.

    Args:
        exporter: ``exporter(weights: Path, dest: Path, spec: dict)`` writing an ONNX file at ``dest``
            for artifacts with ``export_from`` (the family's).

    Raises:
        InputError: unknown model/backend/precision/stand-in, missing file, checksum mismatch.
        HarnessError: download or export failure.
    """
    entry = registry.model(model_name)
    cache = Path(cache_dir)
    if stand_in:
        art = stand_in_spec(model_name, entry, stand_in, backend)
        label = str(art.get("label", f"stand-in {stand_in}"))
        rec = _own_derivative(model_path, "dynamic_batch", stand_in)
        if rec:
            extra = {k: rec[k] for k in ("derived_from", "derived_from_sha256", "derivation")}
            return ModelArtifact(
                str(model_path),
                rec["sha256"],
                label,
                stand_in,
                False,
                "onnx",
                art,
                source="model_path (harness-derived)",
                extra=extra,
            )
        path, source = _local_or_cached(art, cache, model_path, "stand_in_model")
        sha, warning = _verify(path, art, "stand_in_model")
        extra = {}
        changed = False
        if art.get("dynamic_batch"):
            dest = cache / "models" / f"{stand_in}-{sha[:16]}-dynbatch.onnx"
            extra = {
                "derived_from": str(path),
                "derived_from_sha256": sha,
                "derivation": "symbolic batch dim",
            }
            if not dest.is_file() or not _own_derivative(str(dest), "dynamic_batch", stand_in):
                _make_batch_dynamic(path, dest)
                _record_derivative(dest, {"kind": "dynamic_batch", "name": stand_in, **extra})
                changed = True
            path, sha = dest, file_digest(dest, "sha256")
        fmt = "onnx" if str(path).endswith(".onnx") else "pth"
        return ModelArtifact(
            str(path),
            sha,
            label,
            stand_in,
            changed,
            fmt,
            art,
            checksum_warning=warning,
            source=source,
            extra=extra,
        )

    art = _artifact_entry(model_name, entry, backend, precision)
    if art.get("export_from"):
        rec = _own_derivative(model_path, "export", model_name)
        if rec:
            return ModelArtifact(
                str(model_path),
                rec["sha256"],
                rec["label"],
                None,
                False,
                "onnx",
                art,
                source="model_path (harness export)",
                extra={"weights_sha256": rec["weights_sha256"]},
            )
        if model_path and not str(model_path).endswith((".pth", ".pt")):
            p = Path(model_path)
            if not p.is_file():
                raise InputError("model_path", f"model file {p} does not exist", "an existing model file")
            sha = file_digest(p, "sha256")
            warning = f"{p} is a user-supplied ONNX export: no registry checksum, NOT verified"
            return ModelArtifact(
                str(p), sha, p.name, None, False, "onnx", art, checksum_warning=warning, source="model_path"
            )
        if exporter is None:
            raise HarnessError(
                f"{art['name']} is exported from {art['export_from']}, and this family has no exporter"
            )
        src = _artifact_entry(model_name, entry, art["export_from"], "float32")
        wpath, _ = _local_or_cached(src, cache, model_path, "model_path")
        wsha, warning = _verify(wpath, src, "model_path")
        stem = Path(art["name"]).stem
        dest = cache / "models" / f"{stem}-{wsha[:16]}-x{EXPORT_VERSION}.onnx"
        changed = False
        label = f"{art['name']} exported from {src['name']} (sha256 {wsha[:16]})"
        if not dest.is_file() or not _own_derivative(str(dest), "export", model_name):
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".part", suffix=".onnx")
            os.close(fd)
            try:
                exporter(wpath, Path(tmp), dict(art, source=src))
                os.replace(tmp, dest)
            finally:
                Path(tmp).unlink(missing_ok=True)
            _record_derivative(
                dest,
                {
                    "kind": "export",
                    "name": model_name,
                    "label": label,
                    "weights": str(wpath),
                    "weights_sha256": wsha,
                },
            )
            changed = True
        sha = file_digest(dest, "sha256")
        return ModelArtifact(
            str(dest),
            sha,
            label,
            None,
            changed,
            "onnx",
            art,
            checksum_warning=warning,
            source=f"export:{wpath}",
            extra={"weights_sha256": wsha},
        )

    path, source = _local_or_cached(art, cache, model_path, "model_path")
    sha, warning = _verify(path, art, "model_path")
    fmt = "onnx" if str(path).endswith(".onnx") or backend == "onnxruntime" else "pth"
    return ModelArtifact(
        str(path),
        sha,
        str(art["name"]),
        None,
        source.startswith("url:"),
        fmt,
        art,
        checksum_warning=warning,
        source=source,
    )
