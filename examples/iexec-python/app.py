"""An iExec-style app: summarise the task's inputs into IEXEC_OUT/result.json.

It uses only iExec's interface: ``IEXEC_IN`` (the opened dataset, named by
``IEXEC_DATASET_FILENAME``, and the input files ``IEXEC_INPUT_FILE_NAME_1..n``), the
requester secrets ``IEXEC_REQUESTER_SECRET_n`` (only their presence and length are
reported, never their value), the arguments, and ``IEXEC_OUT`` for the result and
``computed.json``. With ``--fail`` it exits with status 3 after logging to stderr (used to
show failure receipts and sealed logs).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zipfile


def summary(data: bytes) -> dict[str, object]:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "lines": data.count(b"\n")}


def describe(path: str) -> dict[str, object]:
    if zipfile.is_zipfile(path):  # a folder dataset arrives as one ZIP, as on iExec
        with zipfile.ZipFile(path) as archive:
            members = sorted(n for n in archive.namelist() if not n.endswith("/"))
            return {"files": {name: summary(archive.read(name)) for name in members}}
    with open(path, "rb") as handle:
        return summary(handle.read())


def main(argv: list[str]) -> int:
    print(f"task {os.environ.get('IEXEC_TASK_ID', '?')} started with args {argv}")
    if "--fail" in argv:
        print("asked to fail: exiting with status 3", file=sys.stderr)
        return 3
    folder = os.environ["IEXEC_IN"]
    inputs: dict[str, object] = {}
    dataset = os.environ.get("IEXEC_DATASET_FILENAME")
    if dataset:
        inputs["dataset"] = {"name": dataset, **describe(os.path.join(folder, dataset))}
    count = int(os.environ.get("IEXEC_INPUT_FILES_NUMBER", "0"))
    inputs["input_files"] = [
        {"name": name, **describe(os.path.join(folder, name))}
        for name in (os.environ[f"IEXEC_INPUT_FILE_NAME_{i}"] for i in range(1, count + 1))
    ]
    secrets = {
        key: len(value)
        for key, value in sorted(os.environ.items())
        if key.startswith("IEXEC_REQUESTER_SECRET_")
    }
    out = os.environ["IEXEC_OUT"]
    result = os.path.join(out, "result.json")
    with open(result, "w") as handle:
        json.dump(
            {"args": argv, "inputs": inputs, "secret_lengths": secrets}, handle, indent=2, sort_keys=True
        )
    with open(os.path.join(out, "computed.json"), "w") as handle:
        json.dump({"deterministic-output-path": result}, handle)
    print("wrote result.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
