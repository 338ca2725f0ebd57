"""Which runs belong together: data-set identity, params fingerprint, the run index.

A scheduled job runs month after month on a growing export. Each run records

* its **data set** (:class:`DatasetIdentity`): ``run.name`` when set, else the input
  files named in the params and ``data.shape``. Runs of one data set form a lineage;
* its **params fingerprint** (:func:`params_fingerprint`): a digest per params section
  that changes results (not ``report``, ``delivery``, ``run`` or ``sample``; the dates
  ``data.as_of`` and ``observation.as_of`` are compared on their own).

The *previous run* of a run is the latest successful run of the same data set with an
earlier ``as_of`` (:func:`previous_run`): never a run of another data set, never a
re-run of the same month. :func:`scan_runs` reads every run's manifest; a damaged one
is skipped with a warning rather than blocking later runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from churnlab.config import Params
from churnlab.run.folder import ReportsFolder, RunFolder

__all__ = [
    "REPORT_ONLY_KEYS",
    "RESULT_FREE_SECTIONS",
    "DatasetIdentity",
    "RunInfo",
    "dataset_identity",
    "params_fingerprint",
    "previous_run",
    "runs_of",
    "scan_runs",
]

logger = logging.getLogger("churnlab.run")

#: Params sections that change no file of a notebook stage (mail, folders, sample).
RESULT_FREE_SECTIONS = ("delivery", "run", "sample")
#: Keys of ``report`` that only the report stage (always rerun) reads; the others change
#: the words, money and top lists the notebook stages write (language, currency,
#: top_accounts, segments) and are part of the fingerprint.
REPORT_ONLY_KEYS = ("title", "company", "cs_cost")
#: Dates compared on their own, not part of the fingerprint: ``(section, key)``.
_DATES = (("data", "as_of"), ("observation", "as_of"))


@dataclass(frozen=True)
class DatasetIdentity:
    """The data set a run describes: runs with the same ``id`` form one lineage.

    Attributes
    ----------
    id : str
        ``name:<run.name>`` when ``run.name`` is set, else ``files:<digest>`` of the
        shape and the input paths as the params name them.
    name : str or None
        ``run.name``.
    shape : str
        ``events`` or ``snapshot``.
    sources : dict of str to str
        Input table -> path as written in the params (``accounts``, ``subscriptions``,
        ``events``; ``snapshot``).
    """

    id: str
    name: str | None
    shape: str
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """A short human name: ``run.name``, else the folder and files of the inputs."""
        if self.name:
            return self.name
        paths = [PurePosixPath(p) for p in self.sources.values()]
        parents = {str(p.parent) for p in paths}
        if len(parents) == 1 and len(paths) > 1:
            return f"{parents.pop()}/{{{','.join(p.name for p in paths)}}}"
        return ", ".join(str(p) for p in paths)

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``dataset`` record."""
        return {"id": self.id, "name": self.name, "shape": self.shape, "sources": self.sources}


def dataset_identity(cfg: Params) -> DatasetIdentity:
    """The data set ``cfg`` reads (see :class:`DatasetIdentity`)."""
    return _identity(cfg.to_dict())


def _identity(params: Mapping[str, Any]) -> DatasetIdentity:
    data = params.get("data") or {}
    name = (params.get("run") or {}).get("name")
    shape = str(data.get("shape") or "events")
    if shape == "snapshot":
        sources = {"snapshot": (data.get("snapshot") or {}).get("path")}
    else:
        sources = {k: data.get(k) for k in ("accounts", "subscriptions", "events")}
    sources = {k: PurePosixPath(str(v)).as_posix() for k, v in sources.items() if v}
    if name:
        ident = f"name:{name}"
    else:
        ident = "files:" + _digest({"shape": shape, "sources": sources})[:16]
    return DatasetIdentity(ident, name, shape, sources)


def params_fingerprint(cfg: Params | Mapping[str, Any]) -> dict[str, Any]:
    """Digests of the params that change results: ``{"all": ..., "sections": {...}}``.

    Sections in :data:`RESULT_FREE_SECTIONS` are left out, and so are ``data.as_of`` and
    ``observation.as_of`` (a run's dates are compared on their own) and the keys of
    ``report`` that only the report reads (:data:`REPORT_ONLY_KEYS`).
    """
    params = cfg.to_dict() if isinstance(cfg, Params) else dict(cfg)
    sections: dict[str, str] = {}
    for section, values in params.items():
        if section in RESULT_FREE_SECTIONS:
            continue
        if isinstance(values, Mapping):
            values = {k: v for k, v in values.items() if (section, k) not in _DATES}
            if section == "report":
                values = {k: v for k, v in values.items() if k not in REPORT_ONLY_KEYS}
        sections[section] = _digest(values)[:16]
    return {"all": _digest(sections)[:16], "sections": dict(sorted(sections.items()))}


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunInfo:
    """One run as the index sees it (from its manifest)."""

    folder: RunFolder
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        """The run id (folder name)."""
        return self.folder.name

    @property
    def status(self) -> str:
        """``succeeded``, ``failed``, ``running``, ``interrupted`` or ``abandoned``."""
        return str(self.manifest.get("status") or "unknown")

    @property
    def succeeded(self) -> bool:
        """True when the run succeeded."""
        return self.status == "succeeded"

    @property
    def as_of(self) -> dt.date | None:
        """The scoring date, or None when the run failed before it was known."""
        value = self.manifest.get("as_of")
        try:
            return dt.date.fromisoformat(str(value)) if value else None
        except ValueError:
            return None

    @property
    def started_at(self) -> str:
        """UTC start time, ISO."""
        return str(self.manifest.get("started_at") or "")

    @property
    def dataset(self) -> DatasetIdentity:
        """The recorded data set; computed from the recorded params for older runs."""
        recorded = self.manifest.get("dataset")
        if isinstance(recorded, Mapping) and recorded.get("id"):
            return DatasetIdentity(
                str(recorded["id"]),
                recorded.get("name"),
                str(recorded.get("shape") or "events"),
                dict(recorded.get("sources") or {}),
            )
        return _identity(self.manifest.get("params") or {})

    @property
    def fingerprint(self) -> dict[str, Any]:
        """The recorded params fingerprint; computed from the recorded params for older runs."""
        recorded = self.manifest.get("params_fingerprint")
        if isinstance(recorded, Mapping) and recorded.get("sections"):
            return dict(recorded)
        return params_fingerprint(self.manifest.get("params") or {})


def scan_runs(reports: ReportsFolder) -> list[RunInfo]:
    """Every run under ``runs/`` with a readable manifest, oldest first.

    A run whose manifest is missing, not JSON or not an object is skipped with a
    warning (logged): a damaged run never blocks later runs.
    """
    if not reports.runs.is_dir():
        return []
    found: list[RunInfo] = []
    for path in sorted(p for p in reports.runs.iterdir() if p.is_dir()):
        folder = RunFolder(path)
        try:
            manifest = json.loads(folder.manifest.read_text(encoding="utf-8"))
        except FileNotFoundError:
            logger.warning("skipping run %s: it has no %s", path.name, folder.manifest.name)
            continue
        except (OSError, ValueError) as exc:
            logger.warning("skipping run %s: its manifest cannot be read (%s)", path.name, exc)
            continue
        if not isinstance(manifest, dict):
            logger.warning("skipping run %s: its manifest is not a JSON object", path.name)
            continue
        found.append(RunInfo(folder, manifest))
    return sorted(found, key=lambda r: (r.started_at, r.name))


def runs_of(runs: Iterable[RunInfo], dataset: DatasetIdentity) -> list[RunInfo]:
    """The successful runs of ``dataset``, by ``as_of`` then start time."""
    mine = [r for r in runs if r.succeeded and r.as_of and r.dataset.id == dataset.id]
    return sorted(mine, key=lambda r: (r.as_of, r.started_at, r.name))


def previous_run(
    runs: Sequence[RunInfo], dataset: DatasetIdentity, as_of: dt.date
) -> RunInfo | None:
    """The latest successful run of ``dataset`` with an ``as_of`` before ``as_of``, or None."""
    earlier = [r for r in runs_of(runs, dataset) if r.as_of is not None and r.as_of < as_of]
    return earlier[-1] if earlier else None
