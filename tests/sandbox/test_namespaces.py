"""Nested namespaces are refused inside the sandbox, and sandboxes are strangers to each other.

Python 3.11 has no ``os.unshare``: an app calling it gets an AttributeError, which proves
nothing. These apps call libc's ``unshare`` through ``ctypes`` and report the errno the
kernel gave, so the tests assert the refusal bwrap's ``--disable-userns`` produces.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable

import pytest

from sealrun.adapters.sandbox import BubblewrapSandbox
from sealrun.errors import SandboxError
from tests.sandbox.conftest import Ran

UNSHARE = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def unshare(name, flags):
    result = libc.unshare(flags)
    print(name, 0 if result == 0 else ctypes.get_errno())
unshare("user", 0x10000000)            # CLONE_NEWUSER
unshare("mount", 0x00020000)           # CLONE_NEWNS
unshare("net", 0x40000000)             # CLONE_NEWNET
unshare("user+mount", 0x10020000)
"""


def test_nested_user_and_mount_namespaces_are_refused(run_app: Callable[..., Ran]) -> None:
    ran = run_app(UNSHARE)
    results = dict(line.split() for line in ran.stdout.splitlines())
    # --disable-userns caps user namespaces at the sandbox's own (max_user_namespaces = 1
    # inside): ENOSPC. Without one, the app has no capability to make the others: EPERM.
    assert results == {
        "user": str(errno.ENOSPC),
        "mount": str(errno.EPERM),
        "net": str(errno.EPERM),
        "user+mount": str(errno.ENOSPC),
    }, ran.stdout + ran.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="per-task host users need root")
def test_two_sandboxes_are_different_host_users_that_cannot_read_each_others_outputs(
    run_app: Callable[..., Ran],
) -> None:
    first, second = BubblewrapSandbox(), BubblewrapSandbox()
    assert first.host_uid != second.host_uid
    assert first.host_gid != second.host_gid
    ran = run_app('open("/iexec_out/secret", "w").write("first task only")\n', sandbox=first)
    secret = ran.output_dir / "secret"
    assert secret.stat().st_uid == first.host_uid
    # On the host, the second task's user can neither list nor read the first one's output.
    for command in (["ls", str(ran.output_dir)], ["cat", str(secret)]):
        attempt = subprocess.run(
            command,
            user=second.host_uid,
            group=second.host_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            check=False,
        )
        assert attempt.returncode != 0
        assert "Permission denied" in attempt.stderr
    # Nor can its sandbox be given that folder: bwrap, as its user, could not reach it.
    with pytest.raises(SandboxError) as caught:
        run_app("print(open('/iexec_in/secret').read())\n", sandbox=second, input_dir=ran.output_dir)
    assert caught.value.code == "SANDBOX_PATH_UNREACHABLE"
