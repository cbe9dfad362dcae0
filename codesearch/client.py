"""Talks to a running `codesearch serve` over the index's Unix socket (JSON Lines), for `search`, `status`
and `serve --stop`.

Every function here returns None when no server answers, so that callers fall back to working in-process
without a word; a socket file left by a server that died (SIGKILL) is removed on the way, but only when
the server's lock is free, so that a server that is starting is never cut off.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

SOCKET_NAME = "serve.sock"
LOCK_NAME = "serve.lock"  # held (flock) by the server for its whole life; holds its pid
CONNECT_TIMEOUT_S = 1.0
# The start of the error a server answers when asked for another model: the client then searches itself.
MODEL_MISMATCH = "this server uses another model"
_MAX_SUN_PATH = 100  # sockaddr_un holds 108 bytes on Linux, 104 on macOS


class ServerError(Exception):
    """The server answered with an error; the message is the line in-process search would have printed."""


def socket_path(index_dir: Path) -> Path:
    return Path(index_dir) / SOCKET_NAME


def lock_path(index_dir: Path) -> Path:
    return Path(index_dir) / LOCK_NAME


@contextmanager
def bindable(path: Path) -> Iterator[str]:
    """An address for `path` that fits in a sockaddr_un: the path itself or, when too long (deep temporary
    folders), the same file reached through /proc/self/fd of its folder (Linux)."""
    if len(os.fsencode(path)) <= _MAX_SUN_PATH or not os.path.isdir("/proc/self/fd"):
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def server_lock_free(index_dir: Path) -> bool:
    """True when no server holds the index's server lock (none runs, or the last one died)."""
    try:
        fd = os.open(lock_path(index_dir), os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops our probe lock


def call(index_dir: Path, method: str, params: dict | None = None, timeout: float = 60.0) -> dict | None:
    """Send one request and return its `result`; None when no server answers (a stale socket file is
    removed). Raises ServerError when the server answers with an error."""
    path = socket_path(index_dir)
    if not path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            with bindable(path) as address:
                sock.connect(address)
        except (ConnectionRefusedError, FileNotFoundError):
            _remove_stale(index_dir)
            return None
        except OSError:
            return None
        sock.settimeout(timeout)
        message = json.dumps({"id": 1, "method": method, "params": params or {}}) + "\n"
        try:
            sock.sendall(message.encode())
            reply = _read_line(sock)
        except OSError:
            return None
    finally:
        sock.close()
    try:
        answer = json.loads(reply)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    if "error" in answer:
        raise ServerError(answer["error"].get("message", "the server failed"))
    return answer.get("result")


def _read_line(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            break
    return b"".join(chunks)


def _remove_stale(index_dir: Path) -> None:
    if server_lock_free(index_dir):
        socket_path(index_dir).unlink(missing_ok=True)


def remote_search(index_dir: Path, request, model: str | None):
    """core.Answer from the index's server, or None when none runs or it uses another model than the one
    asked for (`model`: set only when the user chose it)."""
    from codesearch.core import Answer
    from codesearch.output import hit_from_record

    params: dict[str, Any] = request.params()
    try:
        result = call(index_dir, "search", {**params, "full": True, **({"model": model} if model else {})})
    except ServerError as exc:
        if str(exc).startswith(MODEL_MISMATCH):
            return None
        raise
    if result is None:
        return None
    return Answer([hit_from_record(h) for h in result["hits"]], result["mode"], list(result.get("notices", [])))



def server_info(index_dir: Path) -> dict | None:
    """pid, model, socket, watching, ... of the running server; None when none runs."""
    try:
        return call(index_dir, "ping", timeout=5.0)
    except ServerError:
        return None
