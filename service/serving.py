"""Several uvicorn workers on one port, each with its own listening socket.

uvicorn's supervisor hands every worker the same socket. An event loop that wakes on it
accepts every pending connection at once (asyncio and uvloop loop over ``accept`` up to
the backlog), so a burst of keep-alive connections, such as an integration's pool of 8,
lands on one worker while the others idle: in ``bench/ingest.py`` one of two workers
served all 100 batches. With ``SO_REUSEPORT`` each worker listens on a socket of its own
and the kernel spreads new connections across them by their address hash.

The parent binds one socket per worker slot and keeps it for the slot's life: a worker
restarted after a crash takes over its slot's socket, and connections that arrived in
between wait in that socket's queue instead of being refused.
"""

from __future__ import annotations

import logging
import socket

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

logger = logging.getLogger("meridian")


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def bind_worker_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets on ``host:port`` sharing it through ``SO_REUSEPORT``.

    A port some other process already listens on is refused, as a plain bind would: sockets
    of the same user with ``SO_REUSEPORT`` could otherwise join it and split its traffic.
    Port 0 picks one free port for all of them."""
    probe = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))  # EADDRINUSE if anyone holds the port
        port = probe.getsockname()[1]
        sockets = [_reuse_port_socket(host, port)]
    finally:
        probe.close()
    sockets += [_reuse_port_socket(host, port) for _ in range(count - 1)]
    return sockets


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class BalancedMultiprocess(Multiprocess):
    """uvicorn's ``Multiprocess`` (health checks, restarts, signals), with a socket per
    worker slot instead of one for all."""

    def __init__(self, config: Config, slot_sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets=[])
        self.slot_sockets = slot_sockets

    def _start(self, slot: int) -> Process:
        process = Process(self.config, [self.slot_sockets[slot]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._start(slot) for slot in range(self.processes_num)]

    def restart_all(self) -> None:
        """SIGHUP: replace each worker, its successor up before it is retired (as uvicorn)."""
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(slot)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                return
            old.terminate()
            old.join()
            self.processes[slot] = new

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for slot, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                logger.error("worker failed to start; stopping", extra={"pid": process.pid})
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.warning("worker died; restarting", extra={"pid": process.pid, "slot": slot})
            self.processes[slot] = self._start(slot)


def serve_balanced(config: Config) -> int:
    """Run ``config.workers`` workers, each on its own ``SO_REUSEPORT`` socket; the exit
    status uvicorn would give."""
    try:
        sockets = bind_worker_sockets(config.host, config.port, config.workers)
    except OSError as exc:
        logger.error(
            "cannot listen", extra={"host": config.host, "port": config.port, "error": str(exc)}
        )
        return STARTUP_FAILURE
    logger.info(
        "listening",
        extra={"host": config.host, "port": sockets[0].getsockname()[1], "sockets": len(sockets)},
    )
    try:
        BalancedMultiprocess(config, sockets).run()
    finally:
        for sock in sockets:
            sock.close()
    return 0
