"""Run `sealrun` commands, each in its own process, without paying the import cost each time.

Importing the CLI (web3, eth-account, SQLAlchemy, ...) costs seconds of CPU; a test that
runs thirty commands would spend minutes importing. This runner imports
``sealrun.cli.main`` once, then serves requests on stdin (one JSON object per line:
``{"args", "env", "cwd"}``): for each it ``fork``s a child that sets the environment and
working directory, points fds 0/1/2 at /dev/null and two files, and calls the console entry
point ``main(args)`` exactly as ``.venv/bin/sealrun`` does. The parent answers
``{"returncode", "stdout", "stderr"}``. So every command still runs in a separate process
with real exit status and output streams; only the interpreter start-up is shared.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


def _child(request: dict[str, object], out_path: str, err_path: str) -> None:
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(request["env"]).items()})  # type: ignore[call-overload]
    os.chdir(str(request["cwd"]))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(os.open(out_path, os.O_WRONLY), 1)
    os.dup2(os.open(err_path, os.O_WRONLY), 2)
    status = 0
    try:
        from sealrun.cli.main import main

        main([str(a) for a in request["args"]])  # type: ignore[attr-defined]
    except SystemExit as done:
        status = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 99
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status)


def serve() -> None:
    # The root command loads each noun (and web3 behind it) only when it runs: load them all
    # here, once, since sharing these imports is what this runner exists for.
    import click

    from sealrun.cli.main import _COMMANDS, cli

    for name in _COMMANDS:
        cli.get_command(click.Context(cli), name)
    import sealrun.adapters.chain.client
    import sealrun.adapters.keystore  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        with (
            tempfile.NamedTemporaryFile(delete=False) as out,
            tempfile.NamedTemporaryFile(delete=False) as err,
        ):
            out_path, err_path = out.name, err.name
        pid = os.fork()
        if pid == 0:
            _child(request, out_path, err_path)
        _, status = os.waitpid(pid, 0)
        with open(out_path, encoding="utf-8", errors="replace") as out_file:
            stdout = out_file.read()
        with open(err_path, encoding="utf-8", errors="replace") as err_file:
            stderr = err_file.read()
        os.unlink(out_path)
        os.unlink(err_path)
        answer = {"returncode": os.waitstatus_to_exitcode(status), "stdout": stdout, "stderr": stderr}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
