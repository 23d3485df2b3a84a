"""A private network namespace for servers that bind 0.0.0.0 or fixed ports, bridged to loopback ports outside.

Argo CD's application controller binds its metrics server to 0.0.0.0:8082 with no flag to change it, and every
Argo CD component has fixed default ports; on a machine shared by several test sessions they must not bind the
host's addresses. So they run inside a network namespace of their own, where only a loopback interface exists
and every port is free. This module runs as a separate process (``python tests/helpers/netns.py ...``, as
root) that:

* creates the namespace (``unshare(CLONE_NEWNET)``) and brings its loopback up,
* forwards ``--to-host PORT``: connections to 127.0.0.1:PORT inside the namespace go to 127.0.0.1:PORT of the
  host (the test kube-apiserver, the git server: same URLs inside and outside, so the same kubeconfig and
  repository URLs work on both sides),
* forwards ``--to-inner PORT``: connections to 127.0.0.1:PORT of the host go to 127.0.0.1:PORT inside (the
  Argo CD API server, so gitops-check and the tests reach it).

Children join the namespace with :func:`enter` in a ``preexec_fn``. The namespace lives as long as this
process (the parent's death kills it: ``PR_SET_PDEATHSIG``) or the last process inside it.

A socket belongs to the namespace of the thread that created it, so host-side sockets are made by a thread
that switched back to the host namespace (``setns``); data then flows between sockets of both namespaces.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ctypes
import fcntl
import os
import signal
import socket
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path

CLONE_NEWNET = 0x40000000
_LIBC = ctypes.CDLL("libc.so.6", use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def enter(ns_path: str | Path) -> None:
    """Move the calling thread (in a ``preexec_fn``: the child) into the network namespace at ``ns_path``."""
    fd = os.open(ns_path, os.O_RDONLY)
    try:
        _check(_LIBC.setns(fd, CLONE_NEWNET), f"setns {ns_path}")
    finally:
        os.close(fd)


def _loopback_up() -> None:
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


class _Factory:
    """Makes sockets in one namespace, from a thread that lives there."""

    def __init__(self, ns_fd: int) -> None:
        self.pool = concurrent.futures.ThreadPoolExecutor(
            1, initializer=lambda: _check(_LIBC.setns(ns_fd, CLONE_NEWNET), "setns")
        )

    def listen(self, port: int) -> socket.socket:
        def make() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(128)
            return s

        return self.pool.submit(make).result()

    def connect(self, port: int) -> socket.socket:
        return self.pool.submit(socket.create_connection, ("127.0.0.1", port), 30).result()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def _serve(listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
    while True:
        client, _ = listener.accept()

        def handle(client: socket.socket = client) -> None:
            try:
                upstream = connect()
            except OSError:
                client.close()
                return
            back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
            back.start()
            _pump(client, upstream)
            back.join()
            client.close()
            upstream.close()

        threading.Thread(target=handle, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--to-host", type=int, action="append", default=[], metavar="PORT")
    ap.add_argument("--to-inner", type=int, action="append", default=[], metavar="PORT")
    args = ap.parse_args(argv)

    host_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _check(_LIBC.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET) (needs root)")
    except OSError as exc:
        print(f"error: {exc}", flush=True)
        return 1
    _loopback_up()
    inner_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    host, inner = _Factory(host_fd), _Factory(inner_fd)
    try:
        for port in args.to_host:
            listener = inner.listen(port)
            threading.Thread(
                target=_serve, args=(listener, lambda p=port: host.connect(p)), daemon=True
            ).start()
        for port in args.to_inner:
            listener = host.listen(port)
            threading.Thread(
                target=_serve, args=(listener, lambda p=port: inner.connect(p)), daemon=True
            ).start()
    except OSError as exc:
        print(f"error: {exc}", flush=True)
        return 1
    # The main thread is the one inside the namespace: /proc/<pid>/ns/net names it for the children.
    print(f"ready /proc/{os.getpid()}/ns/net", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    sys.exit(main())
