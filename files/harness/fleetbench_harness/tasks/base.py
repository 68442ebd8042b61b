"""What a task family implements, and the context the generic runner hands it.

A family package ``tasks/<family>/__init__.py`` sets ``FAMILY = <TaskFamily subclass>()``.
The generic command line (:mod:`fleetbench_harness.cli`) and runner call, in order:

* ``prepare-model``:   ``FAMILY.prepare_model(ctx)``   -> :class:`~fleetbench_harness.artifacts.ModelArtifact`
* ``prepare-dataset``: ``FAMILY.prepare_dataset(ctx, source)`` -> dict (JSON line of the command)
* ``run``:             ``FAMILY.check_dataset(ctx)`` (cheap, before the model), ``FAMILY.prepare_model(ctx)``,
                       ``FAMILY.workload(ctx, artifact)`` -> :class:`~fleetbench_harness.loadgen.Workload`,
                       then the core runs LoadGen on it
* ``accuracy``:        ``FAMILY.accuracy(ctx, accuracy_log, output)`` -> dict (JSON line),
                       accuracy.txt written
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetbench_harness.errors import InputError


@dataclass
class RunContext:
    """Everything a family needs to know about one request (canonical names, resolved paths).

    Attributes:
        model: registry model name; entry: its registry entry.
        backend, device, precision: canonical variation values.
        scenario: the request's scenario (``Interactive`` stays ``Interactive``); mode: performance|accuracy.
        cache_dir: SUT cache root (models/, preprocessed/, datasets/ below it).
        dataset_path: the prepared dataset (file or folder) or None.
        count: use only the first ``count`` samples (None: all).
        model_path: a local model file or folder overriding the registry source.
        stand_in: the registered stand-in model name, or None.
        options: family options from ``--set KEY=VALUE`` (typed by the family's ``options``).
        threads: backend intra-op threads; compile: pytorch ``torch.compile``.
        max_batchsize: the scheduler's batch (already chosen by the runner), or None outside ``run``.
    """

    model: str
    entry: dict[str, Any]
    backend: str = "onnxruntime"
    device: str = "cpu"
    precision: str = "float32"
    scenario: str = "Offline"
    mode: str = "performance"
    cache_dir: Path = Path(".")
    dataset_path: Path | None = None
    count: int | None = None
    model_path: str | None = None
    stand_in: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    threads: int = 1
    compile: bool = False
    max_batchsize: int | None = None

    def stand_in_entry(self) -> dict[str, Any] | None:
        """The registry's ``stand_ins.<name>`` entry of the model (None without a stand-in)."""
        if not self.stand_in:
            return None
        return dict(self.entry.get("stand_ins", {})[self.stand_in], name=self.stand_in)


class TaskFamily:
    """Base class; a family overrides what it needs.

    Attributes:
        name: the registry ``family`` key (the folder name).
        options: family options accepted through ``--set KEY=VALUE``: name -> type (int, float, str).
        default_batch: max_batchsize for Offline/Server when the request gives none.
    """

    name = ""
    options: dict[str, type] = {}  # noqa: RUF012 - replaced per subclass
    default_batch = 8

    def parse_options(self, pairs: list[str]) -> dict[str, Any]:
        """``["k=v", ...]`` -> {k: typed v}.

        Raises:
            InputError(set): not ``KEY=VALUE``, an option this family does not take, or a bad value.
        """
        out: dict[str, Any] = {}
        for pair in pairs or []:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise InputError("set", f"{pair!r} is not KEY=VALUE", sorted(self.options) or ["none"])
            if key not in self.options:
                raise InputError(
                    "set", f"the {self.name} family has no option {key!r}", sorted(self.options) or ["none"]
                )
            try:
                out[key] = self.options[key](value)
            except ValueError:
                raise InputError(
                    "set",
                    f"{key}={value!r} is not a {self.options[key].__name__}",
                    [self.options[key].__name__],
                ) from None
        return out

    def check_dataset(self, ctx: RunContext) -> None:
        """Cheap checks of ``ctx.dataset_path`` before any model is loaded (raise InputError)."""

    def prepare_model(self, ctx: RunContext) -> Any:
        """Resolve the model for (backend, precision) or the stand-in; default: the registry file artifact."""
        from fleetbench_harness import artifacts

        return artifacts.prepare(
            ctx.model, ctx.backend, ctx.precision, ctx.cache_dir, ctx.model_path, ctx.stand_in
        )

    def prepare_dataset(self, ctx: RunContext, source: str | None) -> dict[str, Any]:
        """Check (or build, for a bundled ``source``) and preprocess the dataset.

        Returns the JSON line of ``prepare-dataset``: {path, count, source, changed, cache}.
        """
        raise NotImplementedError

    def workload(self, ctx: RunContext, artifact: Any) -> Any:
        """The :class:`~fleetbench_harness.loadgen.Workload` of a run (model loaded, samples indexed)."""
        raise NotImplementedError

    def accuracy(self, ctx: RunContext, accuracy_log: Path, output: Path) -> dict[str, Any]:
        """Score LoadGen's accuracy log; write ``output`` (accuracy.txt, the reference's printed form).

        Returns {"metric": primary name, "value", "unit", "metrics": {name: value}, "total": samples, ...}.
        """
        raise NotImplementedError
