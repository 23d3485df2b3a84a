"""flux_objects.patch_files skips parsing kustomization files that cannot name a patch: the result must be the
same as parsing every one of them, however the ``patches`` keys are written."""

from __future__ import annotations

from pathlib import Path

from gitops_check.discover import flux_objects
from gitops_check.model.rendered import Workspace

FILES: dict[str, bytes] = {
    "plain/kustomization.yaml": b"resources: [a.yaml]\npatches:\n  - path: p1.yaml\n",
    "strategic/kustomization.yaml": b"patchesStrategicMerge: [p2.yaml]\n",
    "json6902/kustomization.yml": b"patchesJson6902:\n  - {path: p3.yaml, target: {kind: Deployment}}\n",
    "escaped/kustomization.yaml": b'"\\x70atches":\n  - path: p4.yaml\n',
    "utf16/kustomization.yaml": "\ufeffpatches:\n  - path: p5.yaml\n".encode("utf-16"),
    "json/kustomization.yaml": b'{"patches": [{"path": "p6.yaml"}]}',
    "none/kustomization.yaml": b"resources: [a.yaml]\nnamespace: x\n",
    "broken/kustomization.yaml": b"resources: [a.yaml\n",
    "notkust/patches.yaml": b"patches:\n  - path: never.yaml\n",
}


def test_patch_files_finds_every_way_of_writing_patches(tmp_path: Path) -> None:
    for rel, data in FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)

    found = flux_objects.patch_files(Workspace(tmp_path, "test"))

    assert found == {
        "plain/p1.yaml", "strategic/p2.yaml", "json6902/p3.yaml", "escaped/p4.yaml", "utf16/p5.yaml",
        "json/p6.yaml",
    }  # fmt: skip
