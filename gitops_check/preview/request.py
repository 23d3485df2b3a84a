"""What a preview is asked to do: the options of ``gitops-check preview`` as one value, for the core."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitops_check.cluster.select import ClusterEntry
from gitops_check.model.live import LiveSource
from gitops_check.pipeline.shards import Shard
from gitops_check.project.config import DiffOptions, JobOptions, RenderOptions
from gitops_check.render.cache import DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class PreviewRequest:
    repo: Path
    base: str | None = None  # None: from the CI environment
    head: str | None = None  # None: from the CI environment, else HEAD
    merge_base: bool = True
    # The cluster for "already different in the cluster"; None: no cluster comparison.
    default_source: LiveSource | None = None
    source_factory: Callable[[ClusterEntry], LiveSource] | None = None
    named_sources: Mapping[str, LiveSource] = field(default_factory=dict)  # --snapshot NAME=FILE
    render: RenderOptions = field(default_factory=RenderOptions)
    diff: DiffOptions = field(default_factory=DiffOptions)
    only_apps: tuple[str, ...] = ()
    repo_map: Mapping[str, Path] = field(default_factory=dict)
    repo_urls: tuple[str, ...] = ()
    job: JobOptions = field(default_factory=JobOptions)
    cache_dir: Path | None = None  # None: no render cache
    cache_max_bytes: int = DEFAULT_MAX_BYTES
    work_dir: Path | None = None  # where the two commits are written; None: memory-backed when there is room
    env: Mapping[str, str] | None = None  # None: os.environ (for the CI defaults)
    shard: Shard | None = None  # only the apps this shard owns (``gitops-check merge`` joins the parts)
