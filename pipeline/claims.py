"""Claims: which batch renders a shot right now, so concurrent batches never do one twice.

A claim is a small JSON file ``<work>/claims/<shot>.json`` naming its owner (run id, host,
pid, pid namespace); its modification time is the heartbeat, refreshed by a
:class:`Heartbeat` thread while the owner lives. Another batch skips a shot whose claim is
live and takes it over when the claim is stale: the owner's process is gone (same host and
pid namespace) or the heartbeat is older than the timeout (any host: a node that died or
lost the network).

Why these primitives (they behave the same on local disks and NFS): a claim appears with
``link(2)`` of a fully written file, which fails with ``EEXIST`` when another owner got
there first and is atomic on the NFS server (the lock-file recipe of the open(2) manual's
notes on ``O_EXCL``; ``open(O_EXCL)`` is the fallback where hard links are refused). A stale
claim is first renamed to a unique tombstone, so of several batches reaping it at once
exactly one succeeds; if the tombstone shows a heartbeat newer than the one judged stale,
the owner was alive after all and the claim is put back. The owner checks its claim before
moving a shot into place (:func:`still_owned`), so a batch that stalled past the timeout and
lost its claim throws its shot away instead of racing the new owner.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from s2rhdr_loader.core.atomic import dumps_json

DEFAULT_TIMEOUT_S = 300.0  # >> NFS attribute caching (actimeo <= 60 s by default)
CLAIM_SUFFIX = ".json"


def new_token() -> str:
    return uuid.uuid4().hex[:16]


def host_identity() -> tuple[str, str]:
    """(hostname, pid namespace): a pid means something only within both."""
    try:
        pidns = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        pidns = ""
    return socket.gethostname(), pidns


@dataclass(frozen=True)
class ClaimInfo:
    """A claim as read from disk; ``heartbeat`` is the file's modification time."""

    shot: str
    token: str
    run: str
    host: str
    pid: int
    pidns: str
    started: float
    heartbeat: float
    path: str = ""

    def owner(self) -> str:
        return f"{self.host} pid {self.pid} (run {self.run})"

    def to_json(self) -> str:
        data = asdict(self)
        for key in ("heartbeat", "path"):
            data.pop(key)
        return dumps_json(data)


def claim_path(claims_dir: Path, shot: str) -> Path:
    return Path(claims_dir) / f"{shot}{CLAIM_SUFFIX}"


def read_claim(path: str | os.PathLike) -> ClaimInfo | None:
    """The claim at ``path``; None when there is none. A torn or foreign file still counts
    as a claim (unknown owner) whose age is its modification time."""
    path = Path(path)
    try:
        st = path.stat()
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        text, st = "", None
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except ValueError:
        data = {}
    shot = path.name[: -len(CLAIM_SUFFIX)] if path.name.endswith(CLAIM_SUFFIX) else path.name
    return ClaimInfo(shot=str(data.get("shot", shot)), token=str(data.get("token", "")),
                     run=str(data.get("run", "?")), host=str(data.get("host", "?")),
                     pid=int(data.get("pid", -1) or -1), pidns=str(data.get("pidns", "")),
                     started=float(data.get("started", 0.0) or 0.0),
                     heartbeat=st.st_mtime if st is not None else 0.0, path=str(path))


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def staleness(info: ClaimInfo, timeout: float, now: float | None = None) -> str:
    """Why ``info`` may be taken over ("" while it is live).

    Dead owner: same host and pid namespace, and the pid is gone. Otherwise (another host,
    or a pid that lives: possibly reused, never assumed dead) only a heartbeat older than
    ``timeout``.
    """
    now = time.time() if now is None else now
    host, pidns = host_identity()
    if info.host == host and info.pidns == pidns and not pid_alive(info.pid):
        return f"owner process is gone ({info.owner()})"
    age = now - info.heartbeat
    if age > timeout:
        return f"heartbeat {age:.0f} s old (timeout {timeout:g} s; {info.owner()})"
    return ""


@dataclass(frozen=True)
class Claim:
    """A claim this process holds."""

    info: ClaimInfo

    @property
    def path(self) -> Path:
        return Path(self.info.path)

    @property
    def token(self) -> str:
        return self.info.token


def _publish(path: Path, text: str, token: str) -> bool:
    """Create ``path`` with ``text`` iff it does not exist; True when we created it.

    The recipe of open(2)'s notes on O_EXCL over NFS: write a unique file, ``link`` it to the
    claim name, and if ``link`` reports an error (a lost reply to a retransmitted request
    reads as EEXIST) trust the unique file's link count instead.
    """
    tmp = path.with_name(f".{path.name}.{token}.new")
    tmp.write_text(text, encoding="utf-8")
    try:
        try:
            os.link(tmp, path)
            return True
        except OSError as exc:
            if os.stat(tmp).st_nlink == 2:
                return True
            if isinstance(exc, FileExistsError):
                return False
            if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS,
                             errno.EMLINK):
                return _publish_excl(path, text)  # no hard links here (some FUSE, SMB)
            raise
    finally:
        tmp.unlink(missing_ok=True)


def _publish_excl(path: Path, text: str) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return True


def _reap(info: ClaimInfo, token: str) -> bool:
    """Remove a stale claim; False if its owner turned out to be alive (claim restored)."""
    path = Path(info.path)
    tomb = path.with_name(f".{path.name}.{token}.reap")
    try:
        os.rename(path, tomb)
    except FileNotFoundError:
        return True  # another batch reaped it first; the shot is free (or just re-claimed)
    moved = read_claim(tomb)
    if moved is not None and (moved.token != info.token or moved.heartbeat > info.heartbeat):
        try:  # it heartbeated after we judged it: give it back unless someone took the shot
            os.link(tomb, path)
        except OSError:
            pass
        tomb.unlink(missing_ok=True)
        return False
    tomb.unlink(missing_ok=True)
    return True


def acquire(claims_dir: str | os.PathLike, shot: str, run: str, *,
            timeout: float = DEFAULT_TIMEOUT_S) -> tuple[Claim | None, ClaimInfo | None, str]:
    """Claim ``shot``: ``(claim, None, why_taken_over)`` or ``(None, holder, "")``.

    ``why_taken_over`` says why a previous owner's claim was considered stale ("" when the
    shot was free).
    """
    claims_dir = Path(claims_dir)
    claims_dir.mkdir(parents=True, exist_ok=True)
    path = claim_path(claims_dir, shot)
    host, pidns = host_identity()
    taken_over = ""
    for _ in range(4):  # free -> ours; stale -> reaped -> ours; a lost race -> theirs
        token = new_token()
        now = time.time()
        info = ClaimInfo(shot, token, run, host, os.getpid(), pidns, now, now, str(path))
        if _publish(path, info.to_json(), token):
            os.utime(path, (now, now))
            return Claim(info), None, taken_over
        holder = read_claim(path)
        if holder is None:
            continue  # released between our attempt and the read
        why = staleness(holder, timeout)
        if not why:
            return None, holder, ""
        if _reap(holder, token):
            taken_over = why
            continue
        return None, read_claim(path) or holder, ""
    return None, read_claim(path), ""


def still_owned(claim: Claim) -> bool:
    """True while the claim file is still ours (checked before a shot is moved into place).

    An I/O error other than "no such file" propagates: a transient NFS hiccup is not a loss.
    """
    try:
        data = json.loads(claim.path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("token") == claim.token


def release(claim: Claim) -> None:
    """Give the shot back (only if the claim is still ours)."""
    if still_owned(claim):
        claim.path.unlink(missing_ok=True)


def read_claims(claims_dir: str | os.PathLike) -> dict[str, ClaimInfo]:
    """Every claim of a work folder by shot name (read-only)."""
    out: dict[str, ClaimInfo] = {}
    folder = Path(claims_dir)
    if not folder.is_dir():
        return out
    for p in sorted(folder.iterdir()):
        if p.name.endswith(CLAIM_SUFFIX) and not p.name.startswith("."):
            info = read_claim(p)
            if info is not None:
                out[info.shot] = info
    return out


def heartbeat_interval(timeout: float) -> float:
    """A tenth of the timeout, between 0.2 s and 30 s: ten beats may be missed in a row."""
    return max(0.2, min(30.0, timeout / 10.0))


class Heartbeat:
    """A daemon thread that refreshes the mtime of every claim (and extra file) we hold.

    A claim found gone or re-owned is dropped and reported through ``on_lost``; the batch
    then discards that shot's result.
    """

    def __init__(self, timeout: float, *, extra: Iterable[Path] = (),
                 on_lost: Callable[[Claim], None] | None = None):
        self.interval = heartbeat_interval(timeout)
        self._claims: dict[str, Claim] = {}
        self._extra = [Path(p) for p in extra]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._on_lost = on_lost
        self._thread = threading.Thread(target=self._run, name="s2rhdr-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5 + self.interval)

    def hold(self, claim: Claim) -> None:
        with self._lock:
            self._claims[claim.info.shot] = claim

    def drop(self, shot: str) -> Claim | None:
        with self._lock:
            return self._claims.pop(shot, None)

    def held(self) -> list[Claim]:
        with self._lock:
            return list(self._claims.values())

    def beat(self) -> None:
        """Refresh everything once (also called by the thread)."""
        now = time.time()
        for claim in self.held():
            try:
                owned = still_owned(claim)
                if owned:
                    os.utime(claim.path, (now, now))
            except FileNotFoundError:
                owned = False
            except OSError:
                continue  # transient (NFS); the timeout allows ten missed beats
            if not owned and self.drop(claim.info.shot) is not None and self._on_lost:
                self._on_lost(claim)
        for path in self._extra:
            try:
                os.utime(path, (now, now))
            except OSError:
                pass

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()
