"""Commands in the scenarios' containers through long-lived `podman exec` sessions.

A test runs a command in a container some 1,300 times per `./ereje test`. Each `podman exec`
starts podman, conmon and the OCI runtime: about 0.2 s and 0.2 s of CPU on the two-core machine
the suite runs on, some 270 of the 4,000 CPU-s of a whole run spent before any command ran
(README, "Benchmarks"; `./ereje bench exec` measures it). Here one `podman exec -i <container>
python3` session per container and thread stays open and runs each command as its own process: the
same container, the same root user, environment and working directory as `podman exec`, the
command's own session (a `kill 0` in it cannot reach the session), stdin closed unless the caller
gives input, its exit status as `podman exec` reports it (128 + the signal of a command killed by
one).

A session that has ended (its container was stopped or restarted) is replaced by a new one before
the next command; a container that does not exist gives podman's own error and exit status, as
`podman exec` would. EREJE_PODMAN_EXEC=each goes back to one `podman exec` per command (what the
benchmark compares against).

Output goes to files, not pipes: a command that leaves a daemon behind (holding its stdout)
returns when the command itself ends, as under `podman exec`.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import subprocess
import threading

from testinfra.backend.podman import PodmanBackend

__all__ = ["run", "use_sessions_in_testinfra"]

# The container's side: one JSON request per line, one JSON answer per line.
SERVER = r"""
import base64, json, os, signal, subprocess, sys, tempfile
answers = sys.stdout.buffer
for line in sys.stdin.buffer:
    ask = json.loads(line)
    data = None if ask["input"] is None else base64.b64decode(ask["input"])
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                ask["argv"], stdin=subprocess.DEVNULL if data is None else subprocess.PIPE,
                stdout=out, stderr=err, env=os.environ | ask["env"], start_new_session=True,
            )
        except OSError as error:  # as podman exec: 127 when the program is missing, else 126
            code = 127 if isinstance(error, FileNotFoundError) else 126
            reply = {"rc": code, "out": "", "err": base64.b64encode(str(error).encode()).decode()}
            answers.write(json.dumps(reply).encode() + b"\n")
            answers.flush()
            continue
        timed_out = False
        try:
            proc.communicate(data, timeout=ask["timeout"])
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        rc = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        out.seek(0)
        err.seek(0)
        reply = {"rc": rc, "timed_out": timed_out,
                 "out": base64.b64encode(out.read()).decode(), "err": base64.b64encode(err.read()).decode()}
    answers.write(json.dumps(reply).encode() + b"\n")
    answers.flush()
"""


class _Session:
    """One `podman exec -i <container> python3` running SERVER."""

    def __init__(self, container: str):
        self.container = container
        self.answered = False
        self.stderr: bytes | None = None  # podman's, once the session has ended
        self.proc = subprocess.Popen(
            ["podman", "exec", "-i", container, "python3", "-u", "-c", SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ask(self, request: dict) -> dict | None:
        """The answer, or None if the session ended before giving one."""
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return None
        line = self.proc.stdout.readline()
        if not line:
            return None
        self.answered = True
        return json.loads(line)

    def close(self) -> None:
        """End the session (its server stops at the end of its input) and keep podman's stderr."""
        if self.stderr is not None:
            return
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()


_idle: dict[str, list[_Session]] = {}
_lock = threading.Lock()


def _take(container: str) -> _Session:
    with _lock:
        sessions = _idle.setdefault(container, [])
        while sessions:
            session = sessions.pop()
            if session.alive():
                return session
            session.close()
    return _Session(container)


def _forget(container: str) -> None:
    with _lock:
        sessions = _idle.pop(container, [])
    for session in sessions:
        session.close()


def _give_back(session: _Session) -> None:
    with _lock:
        _idle.setdefault(session.container, []).append(session)


@atexit.register
def _close_all() -> None:
    with _lock:
        sessions = [s for pool in _idle.values() for s in pool]
        _idle.clear()
    for session in sessions:
        session.close()


def _each(container, argv, input, env, timeout) -> subprocess.CompletedProcess:
    command = ["podman", "exec", *(["-i"] if input is not None else [])]
    for key, value in env.items():
        command += ["-e", f"{key}={value}"]
    return subprocess.run(
        [*command, container, *argv], input=input, capture_output=True, timeout=timeout, check=False
    )


def run(
    container: str,
    argv: list[str],
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Run ``argv`` in ``container`` as `podman exec` would; stdout and stderr as bytes.

    Raises subprocess.TimeoutExpired when ``timeout`` passes (the command is killed with its
    process group).
    """
    env = env or {}
    if os.environ.get("EREJE_PODMAN_EXEC") == "each":
        return _each(container, argv, input, env, timeout)
    request = {
        "argv": argv,
        "input": None if input is None else base64.b64encode(input).decode(),
        "env": env,
        "timeout": timeout,
    }
    session = _take(container)
    answer = session.ask(request)
    if answer is None and session.answered:
        # A session that had served before ended meanwhile (its container was restarted): the
        # others of that container too; once more on a new one.
        session.close()
        _forget(container)
        session = _Session(container)
        answer = session.ask(request)
    if answer is None:  # the session never started: podman's own error (no such container ...)
        session.close()
        return subprocess.CompletedProcess(argv, session.proc.returncode, b"", session.stderr)
    _give_back(session)
    out, err = base64.b64decode(answer["out"]), base64.b64decode(answer["err"])
    if answer.get("timed_out"):
        raise subprocess.TimeoutExpired(argv, timeout, output=out, stderr=err)
    return subprocess.CompletedProcess(argv, answer["rc"], out, err)


def use_sessions_in_testinfra() -> None:
    """Testinfra's podman backend runs its commands through run() (once, however often called)."""
    if getattr(PodmanBackend, "_ereje_sessions", False):
        return
    each = PodmanBackend.run

    def through_sessions(self, command: str, *args: str, **kwargs):
        if self.user is not None:  # `podman exec -u`: Testinfra's own way
            return each(self, command, *args, **kwargs)
        cmd = self.get_command(command, *args)
        done = run(self.name, ["/bin/sh", "-c", cmd])
        return self.result(done.returncode, self.encode(cmd), done.stdout, done.stderr)

    PodmanBackend.run = through_sessions
    PodmanBackend._ereje_sessions = True
