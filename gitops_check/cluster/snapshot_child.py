"""A large snapshot file read in a child process (``SnapshotSource`` starts it): ``python -P -c ... PATH FLAG``.

Reading a fleet's snapshot is ~6 s of Python (JSON decoding, packing) that, in a thread, holds the interpreter
lock the commit's materialization, discovery and the first renders need at the same moment: they ran one after
another on one core while the other stood idle. In a child the read takes the other core; what comes back is the
loaded state pickled: each object's key, owner view and place, its text left in the file (``packed.FileTexts``;
~1 s to read back at 205,000 objects), or in compressed blocks when the file is gzip.

The child writes the pickled ``LiveState`` on stdout and exits 0; on any failure it exits non-zero and the parent
reads the file itself, which reports the error as it always did.
"""

from __future__ import annotations

import gc
import pickle
import sys

from gitops_check.cluster.snapshot import load_snapshot


def main() -> None:
    path, complete = sys.argv[1], sys.argv[2] == "1"
    gc.disable()  # what is read lives until it is written out, and forms no cycles
    try:
        state = load_snapshot(path, assume_complete=complete, spans=True)
        data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # the parent reads the file again and reports what is wrong with it
        sys.exit(3)
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
