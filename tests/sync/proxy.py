"""A TCP forwarder on 127.0.0.1 that can be switched off and on: the API server "goes away" for the client
under test (connection refused) without restarting it, so nothing else (RBAC caches, the stand-in) notices."""

from __future__ import annotations

import contextlib
import socket
import threading


class Outage:
    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self.refused_from = 0.0

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Stop listening (new connections are refused) and cut the open ones."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        self._stop.set()
        self._stop = threading.Event()

    def _accept(self, listener: socket.socket) -> None:
        stop = self._stop
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b, stop), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket, stop: threading.Event) -> None:
        src.settimeout(0.2)
        try:
            while not stop.is_set():
                try:
                    data = src.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
