"""Apps in the style of iExec's public iApp templates (Python and JavaScript) run unchanged.

Written for this test in the templates' style, nothing sealrun-specific: they read the
dataset at ``IEXEC_IN/IEXEC_DATASET_FILENAME``, the input files (served over a loopback
origin the runtime's fetch policy allows, as a worker allows the devnet's store), requester
secret 1 and the app secret, and write ``result.txt`` and ``computed.json``. The JavaScript
app is a Node.js bundle with the usual ``node_modules/.bin`` symlink, under the default
memory limit (issue 14, point 10). A folder dataset arrives as the ZIP a DataProtector
deserializer reads (``getValue('secretText', 'string')``).
"""

from __future__ import annotations

import io
import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from sealrun.adapters.tee import RunReport
from sealrun.core.sealing import ArchiveEntry, ArchiveReader
from sealrun.core.tasks import FailureCode
from sealrun.enclave import EnclaveRuntime, UnsafeLocalSecretsFile
from tests.enclave.conftest import DATASET_ADDRESS, Task
from tests.enclave.test_failures import assert_receipt
from tests.enclave.test_runtime import open_tar

PYTHON_TEMPLATE_APP = """
import json
import os
import shutil
import sys
import zipfile

IEXEC_OUT = os.getenv('IEXEC_OUT')
computed_json = {}
try:
    messages = []
    args = sys.argv[1:]
    if len(args) > 0:
        messages.append(' '.join(args))
    iexec_in = os.getenv('IEXEC_IN')
    dataset = os.getenv('IEXEC_DATASET_FILENAME')
    path = os.path.join(iexec_in, dataset)
    if zipfile.is_zipfile(path):
        # As the template's protected_data.getValue('secretText', 'string'): a borsh string.
        with zipfile.ZipFile(path, 'r') as zipf:
            raw = zipf.read('secretText')
        messages.append(raw[4:4 + struct.unpack('<I', raw[:4])[0]].decode())
    else:
        with open(path) as f:
            messages.append(f.read().strip())
    for i in range(1, int(os.getenv('IEXEC_INPUT_FILES_NUMBER', 0)) + 1):
        name = os.getenv(f'IEXEC_INPUT_FILE_NAME_{i}')
        shutil.copy(os.path.join(iexec_in, name), os.path.join(IEXEC_OUT, f'inputFile_{i}'))
    secret = os.getenv('IEXEC_REQUESTER_SECRET_1')
    app_secret = os.getenv('IEXEC_APP_DEVELOPER_SECRET')
    messages.append(f"requester secret {'*' * len(secret)}, app secret {'*' * len(app_secret)}")
    messages.append(f"{os.getenv('IEXEC_DATASET_ADDRESS')} bulk {os.getenv('IEXEC_BULK_SLICE_SIZE')}")
    with open(IEXEC_OUT + '/result.txt', 'w') as f:
        f.write(f"Hello, {' | '.join(messages)}!")
    computed_json = {'deterministic-output-path': IEXEC_OUT + '/result.txt'}
except Exception as e:
    print(e)
    computed_json = {'deterministic-output-path': IEXEC_OUT, 'error-message': 'Oops something went wrong'}
finally:
    with open(IEXEC_OUT + '/computed.json', 'w') as f:
        json.dump(computed_json, f)
""".replace("import sys\n", "import struct\nimport sys\n")

JS_TEMPLATE_APP = """
const fs = require('node:fs/promises');
const { shout } = require('shout');

const main = async () => {
  const { IEXEC_OUT, IEXEC_IN } = process.env;
  let computedJsonObj = {};
  try {
    const messages = [];
    const args = process.argv.slice(2);
    messages.push(args.join(' '));
    const data = await fs.readFile(`${IEXEC_IN}/${process.env.IEXEC_DATASET_FILENAME}`, 'utf8');
    messages.push(shout(data.trim()));
    const { IEXEC_INPUT_FILES_NUMBER } = process.env;
    for (let i = 1; i <= IEXEC_INPUT_FILES_NUMBER; i++) {
      const inputFileName = process.env[`IEXEC_INPUT_FILE_NAME_${i}`];
      await fs.copyFile(`${IEXEC_IN}/${inputFileName}`, `${IEXEC_OUT}/inputFile_${i}`);
    }
    const { IEXEC_APP_DEVELOPER_SECRET, IEXEC_REQUESTER_SECRET_1 } = process.env;
    messages.push(`requester secret ${IEXEC_REQUESTER_SECRET_1.replace(/./g, '*')}`);
    messages.push(`app secret ${IEXEC_APP_DEVELOPER_SECRET.replace(/./g, '*')}`);
    messages.push(`heap ${process.env.NODE_OPTIONS}`);
    await fs.writeFile(`${IEXEC_OUT}/result.txt`, `Hello, ${messages.join(' | ')}!`);
    computedJsonObj = { 'deterministic-output-path': `${IEXEC_OUT}/result.txt` };
  } catch (e) {
    console.log(e);
    computedJsonObj = { 'deterministic-output-path': IEXEC_OUT, 'error-message': 'Oops' };
  } finally {
    await fs.writeFile(`${IEXEC_OUT}/computed.json`, JSON.stringify(computedJsonObj));
  }
};

main();
"""


def _run(
    runtime: EnclaveRuntime,
    bundle: Path,
    make_task: Callable[..., Task],
    work: Path,
    http_root: tuple[str, Path],
    dataset: bytes,
    filename: str,
) -> tuple[RunReport, Task]:
    base, served = http_root
    (served / "public.csv").write_text("a,b\n1,2\n")
    task = make_task(
        dataset=dataset,
        dataset_filename=filename,
        args="Bob",
        input_files=(f"{base}/public.csv",),
        requester_secrets={1: "s3cr3t"},
        app_developer_secret="dev-key",
    )
    return runtime.run(bundle, UnsafeLocalSecretsFile(task.secrets_file), work), task


def _borsh_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<I", len(raw)) + raw


def test_the_python_template_reads_a_file_dataset_inputs_and_secrets(
    runtime: EnclaveRuntime,
    make_bundle: Callable[..., Path],
    make_task: Callable[..., Task],
    work_root: Path,
    http_root: tuple[str, Path],
) -> None:
    bundle = make_bundle({"src/app.py": PYTHON_TEMPLATE_APP}, entrypoint='["python3", "src/app.py"]')
    report, task = _run(runtime, bundle, make_task, work_root / "w", http_root, b"Alice\n", "name.txt")
    assert report.status == "completed", report
    assert report.result is not None
    files = open_tar(Path(report.result.sealed_path), task.beneficiary)
    assert (
        files["result.txt"]
        == (
            f"Hello, Bob | Alice | requester secret ******, app secret ******* | {DATASET_ADDRESS} bulk 0!"
        ).encode()
    )
    assert files["inputFile_1"] == b"a,b\n1,2\n"
    assert json.loads(files["computed.json"]) == {"deterministic-output-path": "/iexec_out/result.txt"}


def test_the_python_template_reads_a_folder_dataset_as_a_protected_data_zip(
    runtime: EnclaveRuntime,
    make_bundle: Callable[..., Path],
    make_task: Callable[..., Task],
    work_root: Path,
    http_root: tuple[str, Path],
) -> None:
    secret = _borsh_string("Carol")
    entries = [ArchiveEntry("secretText", "file", size=len(secret), open=lambda: io.BytesIO(secret))]
    with ArchiveReader(entries) as archive:
        folder = archive.read()
    bundle = make_bundle({"src/app.py": PYTHON_TEMPLATE_APP}, entrypoint='["python3", "src/app.py"]')
    report, task = _run(runtime, bundle, make_task, work_root / "w", http_root, folder, "protectedData")
    assert report.status == "completed", report
    assert report.result is not None
    files = open_tar(Path(report.result.sealed_path), task.beneficiary)
    # Issue 14: delivered as a folder, this was "Hello, Bob | ...!" with "Oops" swallowed.
    assert files["result.txt"].startswith(b"Hello, Bob | Carol | requester secret ******")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_javascript_template_runs_on_node_with_node_modules_links(
    runtime: EnclaveRuntime,
    make_bundle: Callable[..., Path],
    make_task: Callable[..., Task],
    work_root: Path,
    http_root: tuple[str, Path],
) -> None:
    bundle = make_bundle(
        {
            "src/app.js": JS_TEMPLATE_APP,
            "node_modules/shout/package.json": '{"name": "shout", "main": "index.js", "bin": "cli.js"}',
            "node_modules/shout/index.js": "exports.shout = (s) => s.toUpperCase();\n",
            "node_modules/shout/cli.js": "#!/usr/bin/env node\nconsole.log('shout');\n",
        },
        entrypoint='["node", "src/app.js"]',
    )
    manifest = bundle / "sealrun-app.toml"
    manifest.write_text(manifest.read_text().replace('runtime = "python3"', 'runtime = "node"'))
    (bundle / "node_modules" / ".bin").mkdir()
    (bundle / "node_modules" / ".bin" / "shout").symlink_to("../shout/cli.js")
    report, task = _run(runtime, bundle, make_task, work_root / "w", http_root, b"dave\n", "name.txt")
    assert report.status == "completed", report
    assert report.result is not None
    files = open_tar(Path(report.result.sealed_path), task.beneficiary)
    assert files["result.txt"] == (
        b"Hello, Bob | DAVE | requester secret ****** | app secret ******* | heap --max-old-space-size=384!"
    )
    assert files["inputFile_1"] == b"a,b\n1,2\n"


def test_a_template_whose_computed_json_is_missing_ends_failed_with_its_code(
    runtime: EnclaveRuntime,
    make_bundle: Callable[..., Path],
    make_task: Callable[..., Task],
    work_root: Path,
    http_root: tuple[str, Path],
) -> None:
    app = PYTHON_TEMPLATE_APP.replace("'/computed.json'", "'/computed.jsn'")
    bundle = make_bundle({"src/app.py": app}, entrypoint='["python3", "src/app.py"]')
    report, task = _run(runtime, bundle, make_task, work_root / "w", http_root, b"Alice\n", "name.txt")
    logs = assert_receipt(report, task, FailureCode.APP_COMPUTED_JSON_INVALID)
    assert report.failure is not None
    assert report.failure.code == 19
    assert b"the app wrote no computed.json" in logs["enclave.log"]
