"""``sealrun app test`` reads local files only when a flag names them; URLs follow a worker's rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sealrun.core.netpolicy import FetchPolicy
from sealrun.enclave.localtest import LoopbackFileServer, run_local_test
from sealrun.errors import ConfigError, EnclaveError
from tests.enclave.conftest import COMPUTED
from tests.enclave.test_cli import in_process

# The red team's app: copy every input into the output, and list what it got.
COPY_APP = (
    "import json, os, shutil\n"
    "count = int(os.environ['IEXEC_INPUT_FILES_NUMBER'])\n"
    "names = [os.environ[f'IEXEC_INPUT_FILE_NAME_{i}'] for i in range(1, count + 1)]\n"
    "for name in os.listdir('/iexec_in'):\n"
    "    shutil.copy(os.path.join('/iexec_in', name), '/iexec_out')\n"
    "json.dump(names, open('/iexec_out/names.json', 'w'))\n"
) + COMPUTED


@pytest.fixture
def bundle(work_root: Path) -> Path:
    root = work_root / "copy"
    root.mkdir()
    (root / "sealrun-app.toml").write_text(
        '[app]\nname = "copy"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'
    )
    (root / "app.py").write_text(COPY_APP)
    return root


def test_input_file_copies_exactly_the_named_local_files(
    bundle: Path, work_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = work_root / "one.csv", work_root / "two words.txt"
    one.write_text("a,b\n")
    two.write_text("hello")
    status, ran = in_process(
        capsys, "app", "test", bundle, "--input-file", one, "--input-file", two, "--out", work_root / "out"
    )
    assert status == 0, ran
    out = work_root / "out" / "output"
    assert json.loads((out / "names.json").read_text()) == ["one.csv", "two_words.txt"]
    assert (out / "one.csv").read_text() == "a,b\n"
    assert (out / "two_words.txt").read_text() == "hello"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--input-url", "file:///etc/passwd"), "INPUT_URL_REFUSED"),
        (("--input-url", "file:///dev/zero"), "INPUT_URL_REFUSED"),
        (("--input-url", "data:,x"), "INPUT_URL_REFUSED"),
        (("--input-url", "http://127.0.0.1:5000/secrets"), "INPUT_URL_REFUSED"),
        (("--input-file", "{root}/absent.txt"), "FILE_NOT_FOUND"),
        (("--input-file", "file:///etc/passwd"), "FILE_NOT_FOUND"),
        (("--input-file", "{root}"), "FILE_NOT_FOUND"),
    ],
)
def test_file_urls_and_missing_files_are_refused_before_the_run(
    bundle: Path, work_root: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: str
) -> None:
    status, answer = in_process(
        capsys, "app", "test", bundle, *(a.format(root=work_root) for a in args), "--out", work_root / "out"
    )
    assert status == 1
    assert answer["error"]["code"] == code  # type: ignore[index]
    assert not (work_root / "out").exists()


def test_a_loopback_https_url_fails_the_task_at_the_enclave(bundle: Path, work_root: Path) -> None:
    # Past the bench's scheme check, the runtime still refuses the address when it connects.
    with LoopbackFileServer() as other:
        secret = work_root / "secret.txt"
        secret.write_text("host secret")
        url = other.add(secret).replace("http://", "https://")
        ran = run_local_test(bundle, output_dir=work_root / "out", input_files=[url])
    assert ran.report.status == "failed"
    assert ran.report.failure is not None
    assert ran.report.failure.name == "INPUT_URL_REFUSED"
    assert ran.output_dir is None
    log = (ran.logs_dir / "enclave.log").read_text()
    assert "127.0.0.1 is loopback" in log


def test_the_bench_lists_only_its_own_server(bundle: Path, work_root: Path) -> None:
    # A developer's own allowed origins are kept; the bench adds exactly one.
    with pytest.raises(EnclaveError) as caught:
        run_local_test(
            bundle,
            output_dir=work_root / "out",
            input_files=["http://127.0.0.1:1/x"],
            fetch=FetchPolicy(allowed_http_origins=frozenset({"http://127.0.0.1:2"})),
        )
    assert caught.value.code == "INPUT_URL_REFUSED"


def test_the_loopback_file_server_serves_only_added_files(work_root: Path) -> None:
    import httpx

    served = work_root / "served.txt"
    served.write_text("ok")
    (work_root / "other.txt").write_text("not served")
    with LoopbackFileServer() as server:
        url = server.add(served)
        assert httpx.get(url).text == "ok"
        assert httpx.get(server.origin + "/other.txt").status_code == 404
        assert httpx.get(server.origin + "/1/../other.txt").status_code == 404
        with pytest.raises(ConfigError) as caught:
            server.add(work_root / "absent")
        assert caught.value.code == "FILE_NOT_FOUND"
