"""The console program ends without the interpreter's teardown once the command has returned: freeing the modules of
torch, diffusers and transformers kept `sdbridge serve` alive 1.2-3 s after a clean Ctrl-C shutdown. The exit
handlers still run, stdout is flushed and the exit code kept; with argv (tests) `main` returns as before."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from sdbridge import cli

_PROGRAM = textwrap.dedent("""
    import atexit, sys
    from sdbridge import cli

    class Finalized:
        def __del__(self):
            sys.stderr.write("teardown ran\\n")

    keep = Finalized()  # freed only by the interpreter's teardown
    atexit.register(lambda: sys.stderr.write("exit handlers ran\\n"))
    sys.stdout.write("buffered output")  # no newline, no flush: the exit must flush it
    sys.argv = ["sdbridge", *sys.argv[1:]]
    sys.exit(cli.main({argv}))
""")


def _run(argv: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _PROGRAM.format(argv=argv), *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "0"})


def test_the_console_program_skips_the_teardown() -> None:
    bad = ["serve", "--model", "tiny", "--controlnet", "depth=tiny@abc"]  # refused in the command: exit code 2
    returned = _run("sys.argv[1:]", *bad)  # main with argv: the interpreter tears down as usual
    assert returned.returncode == 2 and "teardown ran" in returned.stderr, returned.stderr
    program = _run("", *bad)
    assert program.returncode == 2, program.stderr
    assert "exit handlers ran" in program.stderr and "teardown ran" not in program.stderr, program.stderr
    assert "SCALE 'abc'" in program.stderr and program.stdout == "buffered output"


def test_a_running_non_daemon_thread_gets_the_normal_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)
    monkeypatch.setattr(cli.atexit, "_run_exitfuncs", lambda: None)
    cli.exit_without_teardown(3)
    assert exits == [3]  # no other thread: the process would end here
    release = threading.Event()
    worker = threading.Thread(target=release.wait, daemon=False)
    worker.start()
    try:
        cli.exit_without_teardown(4)
    finally:
        release.set()
        worker.join()
    assert exits == [3]  # the interpreter's own exit waits for the thread
