"""Whether the head commit would discover exactly the apps the base commit did, so discovery runs once.

Discovering a commit's apps reads every YAML file of the repository (the Argo CD and Flux scanners look for their
objects everywhere), which is the largest fixed cost of a preview after rendering. Most pull requests change a
few value files or manifests that no scanner looks at, and then the head commit's discovery would repeat the
base commit's. ``discover.reads`` records what base discovery read; this module compares that with what changed:

* the two trees must have the same paths with the same modes and the same symlinks (discovery lists folders and
  looks at file types, which is not recorded, so any structural change means discovering again);
* no file whose content base discovery used changed;
* a changed file base discovery only searched for markers (``argoproj.io``...) must still hold none of them;
* base discovery used neither the commit id nor anything the record cannot see (processes), found no errors
  (their messages name the commit), and wrote no note naming its folder or commit.

When in doubt, discover again. A tree with symlinks always is: a file read through a link is recorded under the
link's path, not the target's.
"""

from __future__ import annotations

from gitops_check.discover.project import Discovery
from gitops_check.discover.reads import Reads
from gitops_check.inputs import MODE_TREE, Tree

_REGULAR = ("100644", "100755")


def carries_over(found: Discovery, reads: Reads, base: Tree, head: Tree) -> bool:
    """True when discovering ``head`` would give ``found`` (base's result) again."""
    if not reads.reusable or found.errors:
        return False
    root, commit = str(base.ws.root), (base.ws.revision or "")[:7]
    if any(root in note or (commit and commit in note) for note in found.notes):
        return False  # a note naming the base commit's folder or id would be wrong for head
    old, new = base.index, head.index
    if base.links or head.links or len(old) != len(new):
        return False
    used = reads.files
    for path, entry in new.items():
        before = old.get(path)
        if before == entry:
            continue
        if before is None:
            return False  # a path only head has (the lengths match, so base has one head lacks)
        if entry[0] == MODE_TREE and before[0] == MODE_TREE:
            continue  # a folder whose content changed: its files tell
        if entry[0] != before[0] or entry[0] not in _REGULAR:
            return False  # mode changed (or a submodule moved)
        if path in used:
            return False
        markers = reads.sniffs.get(path)
        if markers and _holds(head, path, markers):
            return False
    return True


def _holds(tree: Tree, path: str, markers: tuple[bytes, ...]) -> bool:
    try:
        data = (tree.ws.root / path).read_bytes()
    except OSError:
        return True
    return any(m in data for m in markers)
