"""The enclave runtime end to end: an iExec app runs unchanged; results are sealed and signed."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from sealrun.adapters.sealedfiles import open_path
from sealrun.adapters.tee import RunReport
from sealrun.core.receipts import parse_receipt
from sealrun.core.sealing import Identity, open_bytes
from sealrun.core.tasks import recover_signer, result_hash, result_seal, result_signature_digest
from sealrun.enclave import EnclaveRuntime, UnsafeLocalSecretsFile
from tests.enclave.conftest import COMPUTED, DATASET_ADDRESS, TASK_ID, WORKER, Task

# An app written for iExec, as iExec's docs show it: nothing sealrun-specific.
IEXEC_APP = """
import json, os, sys

iexec_in = os.environ["IEXEC_IN"]
iexec_out = os.environ["IEXEC_OUT"]
with open(os.path.join(iexec_in, os.environ["IEXEC_DATASET_FILENAME"])) as f:
    data = f.read()
inputs = [os.environ[f"IEXEC_INPUT_FILE_NAME_{i}"]
          for i in range(1, int(os.environ["IEXEC_INPUT_FILES_NUMBER"]) + 1)]
extra = "".join(open(os.path.join(iexec_in, name)).read() for name in inputs)
result = {
    "upper": data.upper(),
    "args": sys.argv[1:],
    "task": os.environ["IEXEC_TASK_ID"],
    "secret1": os.environ.get("IEXEC_REQUESTER_SECRET_1"),
    "dev": os.environ.get("IEXEC_APP_DEVELOPER_SECRET"),
    "inputs": extra,
}
print("computing", file=sys.stderr)
print("done")
with open(os.path.join(iexec_out, "result.json"), "w") as f:
    json.dump(result, f, sort_keys=True)
with open(os.path.join(iexec_out, "computed.json"), "w") as f:
    json.dump({"deterministic-output-path": os.path.join(iexec_out, "result.json")}, f)
"""


def open_tar(sealed: Path, identity: Identity) -> dict[str, bytes]:
    """Open a sealed folder as the beneficiary does (``sealrun result decrypt``): {path: bytes}."""
    with tempfile.TemporaryDirectory() as scratch:
        opened = open_path(sealed, Path(scratch) / "opened", [identity])
        assert opened.kind == "folder"
        return {
            p.relative_to(opened.path).as_posix(): p.read_bytes()
            for p in opened.path.rglob("*")
            if p.is_file()
        }


def test_iexec_app_runs_unchanged(
    runtime: EnclaveRuntime,
    make_bundle: Callable[..., Path],
    make_task: Callable[..., Task],
    work_root: Path,
    http_root: tuple[str, Path],
) -> None:
    base, served = http_root
    (served / "extra input.txt").write_text("public input")
    bundle = make_bundle({"app.py": IEXEC_APP})
    task = make_task(
        dataset=b"private data",
        args="--mode 'two words'",
        input_files=(f"{base}/extra%20input.txt",),
        requester_secrets={1: "s3cret"},
        app_developer_secret="dev-secret",
    )
    report = runtime.run(bundle, UnsafeLocalSecretsFile(task.secrets_file), work_root / "work")
    assert report.status == "completed"
    assert report.result is not None
    assert report.failure is None
    files = open_tar(Path(report.result.sealed_path), task.beneficiary)
    assert sorted(files) == ["computed.json", "result.json"]
    result = json.loads(files["result.json"])
    assert result == {
        "upper": "PRIVATE DATA",
        "args": ["--mode", "two words"],
        "task": TASK_ID,
        "secret1": "s3cret",
        "dev": "dev-secret",
        "inputs": "public input",
    }
    logs = open_tar(Path(report.logs.sealed_path), task.beneficiary)
    assert logs["stdout.log"] == b"done\n"
    assert logs["stderr.log"] == b"computing\n"
    assert report.logs.stdout_bytes == 5
    assert report.exit_status == 0


def test_result_is_bound_and_signed_by_the_enclave_key(
    runtime: EnclaveRuntime, make_bundle: Callable[..., Path], make_task: Callable[..., Task], work_root: Path
) -> None:
    bundle = make_bundle({"app.py": "open('/iexec_out/r', 'w').write('42')\n" + COMPUTED})
    task = make_task()
    report = runtime.run(bundle, UnsafeLocalSecretsFile(task.secrets_file), work_root / "work")
    assert report.result is not None
    sealed = Path(report.result.sealed_path)
    archive = open_bytes(sealed.read_bytes(), [task.beneficiary])
    import hashlib

    digest = hashlib.sha256(archive).digest()
    assert report.result.digest == "0x" + digest.hex()
    task_id = bytes.fromhex(TASK_ID[2:])
    assert report.result.result_hash == "0x" + result_hash(task_id, digest).hex()
    assert report.result.result_seal == "0x" + result_seal(WORKER, task_id, digest).hex()
    receipt = bytes.fromhex(report.result.receipt_digest[2:])
    signed = result_signature_digest(
        result_hash(task_id, digest), result_seal(WORKER, task_id, digest), receipt
    )
    assert recover_signer(signed, bytes.fromhex(report.result.signature[2:])) == report.enclave
    receipt = parse_receipt(Path(report.receipt_path).read_bytes())
    assert "0x" + receipt.digest.hex() == report.result.receipt_digest
    assert receipt.field("result", "digest") == report.result.digest
    assert receipt.field("app", "fingerprint") == report.fingerprint
    assert receipt.body["enclave"] == report.enclave
    assert receipt.field("result", "sealed_sha256") == report.result.sealed_checksum
    assert report.result.sealed_checksum == "0x" + hashlib.sha256(sealed.read_bytes()).hexdigest()
    # The same output gives the same digest: the archive is deterministic.
    again = runtime.run(bundle, UnsafeLocalSecretsFile(task.secrets_file), work_root / "work2")
    assert again.result is not None
    assert again.result.digest == report.result.digest
    assert again.result.sealed_checksum != report.result.sealed_checksum  # fresh age encryption


def test_report_file_holds_no_plaintext_and_plaintext_is_scrubbed(
    runtime: EnclaveRuntime, make_bundle: Callable[..., Path], make_task: Callable[..., Task], work_root: Path
) -> None:
    bundle = make_bundle(
        {
            "app.py": "import os\nprint('SECRET-STDOUT')\nopen('/iexec_out/r', 'w').write('SECRET-OUT')\n"
            + COMPUTED
        }
    )
    task = make_task(dataset=b"SECRET-DATASET")
    work = work_root / "work"
    report = runtime.run(bundle, UnsafeLocalSecretsFile(task.secrets_file), work)
    raw = (work / "report.json").read_bytes()
    assert RunReport.from_json(raw) == report
    names = ["logs.tar.age", "receipt.json", "report.json", "result.tar.age"]
    assert sorted(p.name for p in work.iterdir()) == names  # the receipt is checked for secrets too
    for path in work.iterdir():
        content = path.read_bytes()
        for secret in (b"SECRET-STDOUT", b"SECRET-OUT", b"SECRET-DATASET", task.bundle.enclave_key.encode()):
            assert secret not in content


def test_bundle_is_measured_and_fingerprint_reported(
    runtime: EnclaveRuntime, make_bundle: Callable[..., Path], make_task: Callable[..., Task], work_root: Path
) -> None:
    from sealrun.adapters.bundlefiles import load_bundle

    bundle = make_bundle({"app.py": "pass\n", "lib/x.py": "X = 1\n"})
    report = runtime.run(bundle, UnsafeLocalSecretsFile(make_task().secrets_file), work_root / "work")
    assert report.fingerprint == load_bundle(bundle).fingerprint_hex


def test_a_sealed_folder_dataset_arrives_as_one_zip_named_by_the_variable(
    runtime: EnclaveRuntime, make_bundle: Callable[..., Path], make_task: Callable[..., Task], work_root: Path
) -> None:
    import io

    from sealrun.core.sealing import ArchiveEntry, ArchiveReader

    entries = [
        ArchiveEntry("a.txt", "file", size=1, open=lambda: io.BytesIO(b"A")),
        ArchiveEntry("sub", "dir"),
        ArchiveEntry("sub/b.txt", "file", size=1, open=lambda: io.BytesIO(b"B")),
    ]
    with ArchiveReader(entries) as archive:
        folder_archive = archive.read()
    # As iExec delivers a multi-file dataset (and the iApp templates read a protected data): one
    # ZIP file at IEXEC_IN/IEXEC_DATASET_FILENAME whose members are the folder's own paths.
    app = (
        "import os, zipfile\n"
        "name = os.environ['IEXEC_DATASET_FILENAME']\n"
        "with zipfile.ZipFile(os.path.join(os.environ['IEXEC_IN'], name)) as z:\n"
        "    data = z.read('a.txt') + z.read('sub/b.txt')\n"
        "    members = ','.join(z.namelist())\n"
        "listing = ','.join(sorted(os.listdir(os.environ['IEXEC_IN'])))\n"
        "fields = [name.encode(), listing.encode(), members.encode(), data]\n"
        "open('/iexec_out/r', 'wb').write(b'|'.join(fields))\n"
    ) + COMPUTED
    task = make_task(dataset=folder_archive, dataset_filename="records")
    report = runtime.run(
        make_bundle({"app.py": app}), UnsafeLocalSecretsFile(task.secrets_file), work_root / "w"
    )
    assert report.result is not None
    files = open_tar(Path(report.result.sealed_path), task.beneficiary)
    assert files["r"] == b"records.zip|records.zip|a.txt,sub/,sub/b.txt|AB"
    # The same folder always gives the same ZIP bytes (fixed times, sorted, stored).
    again = runtime.run(
        make_bundle({"app.py": app}), UnsafeLocalSecretsFile(task.secrets_file), work_root / "w2"
    )
    assert again.result is not None
    assert again.result.digest == report.result.digest


def test_a_file_dataset_arrives_under_its_owners_name_or_its_address(
    runtime: EnclaveRuntime, make_bundle: Callable[..., Path], make_task: Callable[..., Task], work_root: Path
) -> None:
    app = (
        "import os\n"
        "name, address = os.environ['IEXEC_DATASET_FILENAME'], os.environ['IEXEC_DATASET_ADDRESS']\n"
        "data = open(os.path.join(os.environ['IEXEC_IN'], name)).read()\n"
        "bulk = os.environ['IEXEC_BULK_SLICE_SIZE']\n"
        "open('/iexec_out/r', 'w').write('|'.join([name, address, data, bulk]))\n"
    ) + COMPUTED
    bundle = make_bundle({"app.py": app})
    named = make_task(dataset=b"rows", dataset_filename="scores 2024.csv")
    report = runtime.run(bundle, UnsafeLocalSecretsFile(named.secrets_file), work_root / "w")
    assert report.result is not None
    files = open_tar(Path(report.result.sealed_path), named.beneficiary)
    assert files["r"] == f"scores 2024.csv|{DATASET_ADDRESS}|rows|0".encode()
    unnamed = make_task(dataset=b"rows", dataset_filename=None)
    report = runtime.run(bundle, UnsafeLocalSecretsFile(unnamed.secrets_file), work_root / "w2")
    assert report.result is not None
    files = open_tar(Path(report.result.sealed_path), unnamed.beneficiary)
    assert files["r"] == f"{DATASET_ADDRESS}|{DATASET_ADDRESS}|rows|0".encode()
