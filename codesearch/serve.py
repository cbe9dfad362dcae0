"""`codesearch serve`: one process per index answering on the index's Unix socket (JSON Lines) and, unless
detached, as an MCP server on stdin/stdout; with `--watch` it also reindexes as files change.

    take the server lock (one server per index) -> open the IndexService (encoder loaded once)
    -> bind <index_dir>/serve.sock (mode 0600) -> socket thread (+ watcher thread)
    -> MCP on stdio until stdin ends, or (detached) wait -> SIGTERM/SIGINT or a `stop` request end it
    -> the socket file is removed and the lock released on the way out

The socket protocol: one JSON object per line each way, `{"id": 1, "method": "search", "params": {...}}`
answered by `{"id": 1, "result": {...}}` or `{"id": 1, "error": {"message": "..."}}`; the methods are
those of `METHODS` (the MCP tools' names and arguments, plus `ping` and `stop`). `start_daemon` and
`stop` are what `serve --daemon` and `serve --stop` do.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import socketserver
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from codesearch import client, operations
from codesearch.errors import UsageProblem, error_line
from codesearch.service import IndexService


def _stop(service: IndexService, params: dict) -> dict:
    # The main thread ends the server, as on SIGTERM; answer first.
    threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()
    return {"stopping": True, "pid": os.getpid()}


METHODS = {
    "search": operations.search,
    "find_related": operations.find_related,
    "index_status": operations.index_status,
    "reindex": operations.reindex,
    "ping": operations.server_info,
    "stop": _stop,
}


def log(message: str) -> None:
    """One line on stderr (an MCP client's log, or serve.log when detached)."""
    print(f"codesearch serve: {message}", file=sys.stderr, flush=True)


def answer(service: IndexService, line: bytes) -> dict:
    """The reply to one request line."""
    try:
        message = json.loads(line)
        if not isinstance(message, dict):
            raise ValueError("a request is a JSON object")
    except ValueError as exc:
        return {"id": None, "error": {"message": f"not a JSON request: {exc}"}}
    ident, method, params = message.get("id"), message.get("method"), message.get("params") or {}
    if method not in METHODS:
        return {"id": ident, "error": {"message": f"unknown method {method!r} (known: {', '.join(METHODS)})"}}
    try:
        if not isinstance(params, dict):
            raise UsageProblem("params must be a JSON object")
        return {"id": ident, "result": METHODS[method](service, params)}
    except Exception as exc:  # noqa: BLE001 - a request's failure is its answer, never the server's end
        return {"id": ident, "error": {"message": error_line(exc)}}


class _Connection(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            if line.strip():
                reply = answer(self.server.service, line)  # type: ignore[attr-defined]
                self.wfile.write((json.dumps(reply, ensure_ascii=False) + "\n").encode())
                self.wfile.flush()


class _SocketServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, address: str, service: IndexService):
        self.service = service
        super().__init__(address, _Connection)


@contextmanager
def server_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's server lock for the block; UsageProblem when another server holds it."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(client.lock_path(index_dir), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise UsageProblem(f"a server already runs for {index_dir} (pid {holder or '?'}); "
                               "stop it with `codesearch serve --stop`") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)


@contextmanager
def listening(service: IndexService) -> Iterator[_SocketServer]:
    """The socket bound (0600) and served by a thread; removed when the block ends."""
    path = client.socket_path(service.index_dir)
    path.unlink(missing_ok=True)  # we hold the server lock: a socket file here is a dead server's
    old_umask = os.umask(0o177)  # the socket is created 0600: no moment when others could connect
    try:
        with client.bindable(path) as address:
            server = _SocketServer(address, service)
    finally:
        os.umask(old_umask)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                              name="socket")
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        path.unlink(missing_ok=True)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Set by a stop signal that arrives while the event loop is not listening for them (before it runs, or
# during the cleanup), so that every stop signal ends the server through the same clean path.
_stop_requested: list[int] = []


def _note_stop_signals() -> None:
    for number in STOP_SIGNALS:
        signal.signal(number, lambda signum, frame: _stop_requested.append(signum))


def run(service: IndexService, *, stdio: bool, watch: bool) -> None:
    """Serve until stdin ends (with stdio), SIGTERM/SIGINT or a `stop` request."""
    import anyio

    stop_watching = threading.Event()
    _note_stop_signals()
    service.warm_up()
    with listening(service):
        if watch:
            from codesearch.watch import start_watcher

            start_watcher(service, stop_watching, log)
        where = f"{client.socket_path(service.index_dir)}" + (" and stdio (MCP)" if stdio else "")
        log(f"serving {service.root} on {where} (pid {os.getpid()}, model {service.model_id or 'none: lexical'})")
        try:
            if not _stop_requested:
                anyio.run(_until_stopped, service, stdio)
        finally:
            _note_stop_signals()  # the event loop leaves them at their defaults: no signal may cut the cleanup
            stop_watching.set()
            service.close()
    log("stopped")


async def _until_stopped(service: IndexService, stdio: bool) -> None:
    import anyio

    async with anyio.create_task_group() as group:

        async def on_signal() -> None:
            with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
                if not _stop_requested:  # none came while the loop started
                    async for _ in signals:
                        break
                group.cancel_scope.cancel()

        group.start_soon(on_signal)
        if stdio:
            from codesearch.mcp_server import build_server

            await build_server(service).run_stdio_async()  # returns when the client closes stdin
        else:
            await anyio.sleep_forever()
        group.cancel_scope.cancel()


DAEMON_START_TIMEOUT_S = 600  # the first start may download the model


def start_daemon(root: Path, index_dir: Path, flags: dict, watch: bool) -> dict:
    """Start `serve --detached` in the background (its log: serve.log in the index folder) and wait until
    it answers; returns its server info."""
    import subprocess

    if client.server_info(index_dir) is not None:
        raise UsageProblem(f"a server already runs for {index_dir}; stop it with `codesearch serve --stop`")
    args = [sys.executable, "-m", "codesearch", "serve", str(root), "--detached", *(["--watch"] if watch else [])]
    for name, value in flags.items():
        if value is not None:
            args += [f"--{name.replace('_', '-')}", str(index_dir) if name == "index_dir" else str(value)]
    log_path = index_dir / "serve.log"
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file,
                                   start_new_session=True)
    deadline = time.monotonic() + DAEMON_START_TIMEOUT_S
    while time.monotonic() < deadline:
        info = client.server_info(index_dir)
        if info is not None:
            return info
        if process.poll() is not None:
            lines = log_path.read_text(errors="replace").strip().splitlines()
            raise UsageProblem(f"the server did not start: {lines[-1] if lines else 'no message'} (log: {log_path})")
        time.sleep(0.1)
    process.terminate()
    raise UsageProblem(f"the server did not answer within {DAEMON_START_TIMEOUT_S}s (log: {log_path})")


def stop(index_dir: Path, timeout: float = 30.0) -> dict | None:
    """Ask the index's server to stop and wait until it has released its lock; its info, or None when
    none runs."""
    info = client.server_info(index_dir)
    if info is None:
        return None
    client.call(index_dir, "stop")
    deadline = time.monotonic() + timeout
    while not client.server_lock_free(index_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    return info
