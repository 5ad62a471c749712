"""tests/support/podman_exec.py: the scenarios' tests run their commands in the containers through
long-lived sessions; each command must behave as under `podman exec` (the tests' expectations
were written against it). Every case is run both ways in a throwaway container and compared."""

from __future__ import annotations

import subprocess
import time

import pytest
import testinfra

from support import containers, podman_exec


@pytest.fixture(scope="module")
def container():
    with containers.throwaway("ereje-test-exec", seconds=3600) as name:
        yield name
        podman_exec._forget(name)


def both_ways(monkeypatch, container, argv, **kwargs):
    """The command through a session, then through its own `podman exec`."""
    through_session = podman_exec.run(container, argv, **kwargs)
    monkeypatch.setenv("EREJE_PODMAN_EXEC", "each")
    own_exec = podman_exec.run(container, argv, **kwargs)
    monkeypatch.delenv("EREJE_PODMAN_EXEC")
    return through_session, own_exec


@pytest.mark.parametrize(
    "script",
    [
        "echo out; echo err >&2; exit 3",
        "pwd; id -u; id -g; echo $PATH; echo $HOME; umask",
        "cat; echo read-nothing",  # stdin is empty unless the caller gives input
        "kill -9 $$",  # a command killed by a signal: 128 + 9
        "printf '\\377\\000binary'",
    ],
)
def test_a_command_answers_as_under_podman_exec(monkeypatch, container, script):
    session, own = both_ways(monkeypatch, container, ["/bin/sh", "-c", script])
    assert (session.returncode, session.stdout, session.stderr) == (own.returncode, own.stdout, own.stderr)


def test_input_and_environment_reach_the_command(monkeypatch, container):
    session, own = both_ways(
        monkeypatch,
        container,
        ["sh", "-c", "echo $GREETING; cat"],
        input=b"\x00line\n",
        env={"GREETING": "salem"},
    )
    assert session.stdout == own.stdout == b"salem\n\x00line\n"


def test_a_missing_program_and_a_missing_container_fail_as_under_podman_exec(monkeypatch, container):
    session, own = both_ways(monkeypatch, container, ["no-such-program"])
    assert session.returncode == own.returncode == 127
    session, own = both_ways(monkeypatch, "ereje-test-exec-no-such-container", ["true"])
    assert session.returncode == own.returncode == 125
    assert b"no such container" in session.stderr


def test_a_command_past_its_timeout_is_killed(container):
    with pytest.raises(subprocess.TimeoutExpired):
        podman_exec.run(container, ["sh", "-c", "sleep 120 # ereje-timeout"], timeout=1)
    left = podman_exec.run(container, ["sh", "-c", "ps -eo args | grep -c '^sleep 120' || true"])
    assert left.stdout.strip() == b"0", "the timed-out command still runs"


def test_a_daemon_left_behind_does_not_hold_the_command(container):
    # Not a speed check: a session that waited for the daemon's output would take its 30 s.
    start = time.monotonic()
    done = podman_exec.run(container, ["sh", "-c", "sleep 30 & echo started"])
    assert done.stdout == b"started\n"
    assert time.monotonic() - start < 10


def test_commands_share_a_session_and_a_restarted_container_gets_a_new_one(container):
    """Two commands in a row come from the same session process (what saves podman's start-up); after
    the container restarts, the next command runs in a new session instead of failing."""
    first = podman_exec.run(container, ["sh", "-c", "echo $PPID"]).stdout
    second = podman_exec.run(container, ["sh", "-c", "echo $PPID"]).stdout
    assert first == second
    (session,) = podman_exec._idle[container]
    subprocess.run(["podman", "restart", "-t", "0", container], check=True, capture_output=True)
    after = podman_exec.run(container, ["sh", "-c", "echo $PPID"])
    assert after.returncode == 0 and after.stdout
    assert podman_exec._idle[container] != [session], "the ended session was used again"


def test_testinfra_runs_through_the_sessions(container):
    podman_exec.use_sessions_in_testinfra()
    host = testinfra.get_host(f"podman://{container}")
    assert host.run("echo $PPID").stdout == host.run("echo $PPID").stdout
    assert host.file("/etc/os-release").contains("bookworm")
    assert host.run("exit 4").rc == 4
