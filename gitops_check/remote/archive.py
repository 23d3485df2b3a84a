"""Unpacking chart archives and artifacts safely: no absolute paths, no ``..``, no links, no devices, bounded size."""

from __future__ import annotations

import os
import posixpath
import tarfile
from pathlib import Path

from gitops_check.errors import FetchError


def extract_tgz(archive: Path, dest: Path, *, shown: str, max_bytes: int) -> list[str]:
    """Extract ``archive`` into ``dest``; returns the top-level names. Refuses anything that could escape."""
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    tops: set[str] = set()
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = posixpath.normpath(member.name.lstrip("./") or ".")
                if name == ".":
                    continue
                if member.name.startswith("/") or name == ".." or name.startswith("../"):
                    raise FetchError(
                        f"{shown}: the archive holds the path {member.name!r}, outside its folder"
                    )
                if member.issym() or member.islnk():
                    raise FetchError(
                        f"{shown}: the archive holds a link ({member.name}); refusing to unpack it"
                    )
                if not (member.isfile() or member.isdir()):
                    continue  # devices, fifos: never written
                total += member.size
                if total > max_bytes:
                    raise FetchError(
                        f"{shown}: unpacks to more than {max_bytes // (1024 * 1024)} MiB; refusing it"
                    )
                target = dest / name
                tops.add(name.split("/", 1)[0])
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    continue
                with source, open(target, "wb") as out:
                    while chunk := source.read(1 << 16):
                        out.write(chunk)
                os.chmod(target, 0o644)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise FetchError(f"{shown}: not a readable tar.gz archive ({e})") from None
    return sorted(tops)
