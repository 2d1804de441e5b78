"""The app templates of ``sealrun app init --template python|node|shell``.

Each template is a working app written as an iExec app (docs/apps.md): it reads the dataset
at ``IEXEC_IN/IEXEC_DATASET_FILENAME`` when there is one (a folder dataset is a ZIP), the
input files ``IEXEC_INPUT_FILE_NAME_1..n``, the requester secret ``IEXEC_REQUESTER_SECRET_1``
and the app secret ``IEXEC_APP_DEVELOPER_SECRET`` (never printing a secret's value), writes
``IEXEC_OUT/result.txt`` and ``IEXEC_OUT/computed.json``; with a test input and a README of
three commands. ``tests/cli/test_app_templates.py`` runs each through ``sealrun app test``.
"""

from __future__ import annotations

__all__ = ["TEMPLATES", "template_files"]

_MANIFEST = """\
# sealrun app manifest (docs/apps.md, docs/enclave.md)
[app]
name = "{name}"
entrypoint = {entrypoint}
runtime = "{runtime}"

[resources]
memory_mb = 512        # memory of the whole sandbox
processes = 64         # processes and threads at once
file_size_mb = 256     # largest file the app may write
output_size_mb = 256   # total size of IEXEC_OUT
wall_time_s = 3600     # ceiling; the task's category time may lower it
tmp_size_mb = 64       # the private /tmp

[outputs]
declared = ["result.txt"]
"""

_PYTHON = '''\
"""A sealrun app written as an iExec app: read IEXEC_IN, write IEXEC_OUT and computed.json."""

import json
import os
import sys
import zipfile

IEXEC_IN = os.environ["IEXEC_IN"]
IEXEC_OUT = os.environ["IEXEC_OUT"]


def read_dataset() -> str | None:
    """The dataset's text, or None without a dataset (a folder dataset arrives as one ZIP)."""
    name = os.environ.get("IEXEC_DATASET_FILENAME")
    if not name:
        return None
    path = os.path.join(IEXEC_IN, name)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = sorted(n for n in archive.namelist() if not n.endswith("/"))
            return "\\n".join(archive.read(n).decode("utf-8", "replace") for n in members)
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def main() -> int:
    computed = {"deterministic-output-path": IEXEC_OUT}
    status = 0
    try:
        lines = [f"args: {' '.join(sys.argv[1:]) or '(none)'}"]
        dataset = read_dataset()
        if dataset is None:
            lines.append("dataset: none")
        else:
            lines.append(f"dataset {os.environ['IEXEC_DATASET_FILENAME']}: {len(dataset.split())} words")
        count = int(os.environ.get("IEXEC_INPUT_FILES_NUMBER", "0"))
        for index in range(1, count + 1):
            name = os.environ[f"IEXEC_INPUT_FILE_NAME_{index}"]
            size = os.path.getsize(os.path.join(IEXEC_IN, name))
            lines.append(f"input file {index} {name}: {size} bytes")
        # Secrets: use them, never print them.
        secret = os.environ.get("IEXEC_REQUESTER_SECRET_1")
        lines.append(f"requester secret 1: {'set' if secret else 'not set'}")
        app_secret = os.environ.get("IEXEC_APP_DEVELOPER_SECRET")
        lines.append(f"app secret: {'set' if app_secret else 'not set'}")
        result = os.path.join(IEXEC_OUT, "result.txt")
        with open(result, "w", encoding="utf-8") as handle:
            handle.write("\\n".join(lines) + "\\n")
        print("\\n".join(lines))
        computed = {"deterministic-output-path": result}
    except Exception as error:  # say what went wrong, and fail the task (exit status 1)
        print(f"error: {error}", file=sys.stderr)
        computed["error-message"] = str(error)
        status = 1
    finally:
        with open(os.path.join(IEXEC_OUT, "computed.json"), "w", encoding="utf-8") as handle:
            json.dump(computed, handle)
    return status


if __name__ == "__main__":
    sys.exit(main())
'''

_NODE = """\
// A sealrun app written as an iExec app: read IEXEC_IN, write IEXEC_OUT and computed.json.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const { IEXEC_IN, IEXEC_OUT } = process.env;

function readDataset() {
  // The dataset's text, or null without a dataset. A folder dataset arrives as one ZIP:
  // read it with a zip library (e.g. @iexec/dataprotector-deserializer) if you push folders.
  const name = process.env.IEXEC_DATASET_FILENAME;
  if (!name) return null;
  return fs.readFileSync(path.join(IEXEC_IN, name), 'utf8');
}

function main() {
  let computed = { 'deterministic-output-path': IEXEC_OUT };
  try {
    const lines = [`args: ${process.argv.slice(2).join(' ') || '(none)'}`];
    const dataset = readDataset();
    if (dataset === null) {
      lines.push('dataset: none');
    } else {
      const words = dataset.split(/\\s+/).filter(Boolean).length;
      lines.push(`dataset ${process.env.IEXEC_DATASET_FILENAME}: ${words} words`);
    }
    const count = parseInt(process.env.IEXEC_INPUT_FILES_NUMBER || '0', 10);
    for (let i = 1; i <= count; i++) {
      const name = process.env[`IEXEC_INPUT_FILE_NAME_${i}`];
      const size = fs.statSync(path.join(IEXEC_IN, name)).size;
      lines.push(`input file ${i} ${name}: ${size} bytes`);
    }
    // Secrets: use them, never print them.
    lines.push(`requester secret 1: ${process.env.IEXEC_REQUESTER_SECRET_1 ? 'set' : 'not set'}`);
    lines.push(`app secret: ${process.env.IEXEC_APP_DEVELOPER_SECRET ? 'set' : 'not set'}`);
    const result = path.join(IEXEC_OUT, 'result.txt');
    fs.writeFileSync(result, lines.join('\\n') + '\\n');
    console.log(lines.join('\\n'));
    computed = { 'deterministic-output-path': result };
  } catch (error) {
    // Say what went wrong, and fail the task (exit status 1).
    console.error(`error: ${error.message}`);
    computed['error-message'] = error.message;
    process.exitCode = 1;
  } finally {
    fs.writeFileSync(path.join(IEXEC_OUT, 'computed.json'), JSON.stringify(computed));
  }
}

main();
"""

_SHELL = """\
#!/bin/sh
# A sealrun app written as an iExec app: read IEXEC_IN, write IEXEC_OUT and computed.json.
set -eu
result="$IEXEC_OUT/result.txt"
# computed.json is written whatever happens; a failing command fails the task (set -e).
trap 'printf "{\\"deterministic-output-path\\": \\"%s\\"}" "$result" > "$IEXEC_OUT/computed.json"' EXIT

{
  echo "args: ${*:-(none)}"
  if [ -n "${IEXEC_DATASET_FILENAME:-}" ]; then
    words=$(wc -w < "$IEXEC_IN/$IEXEC_DATASET_FILENAME")
    echo "dataset $IEXEC_DATASET_FILENAME: $words words"
  else
    echo "dataset: none"
  fi
  i=1
  while [ "$i" -le "${IEXEC_INPUT_FILES_NUMBER:-0}" ]; do
    eval "name=\\$IEXEC_INPUT_FILE_NAME_$i"
    echo "input file $i $name: $(wc -c < "$IEXEC_IN/$name") bytes"
    i=$((i + 1))
  done
  # Secrets: use them, never print them.
  secret=set; [ -n "${IEXEC_REQUESTER_SECRET_1:-}" ] || secret="not set"
  echo "requester secret 1: $secret"
  secret=set; [ -n "${IEXEC_APP_DEVELOPER_SECRET:-}" ] || secret="not set"
  echo "app secret: $secret"
} > "$result"
cat "$result"
"""

_README = """\
# {name}

A sealrun app ({language}) written as an iExec app: it reads the dataset at
`$IEXEC_IN/$IEXEC_DATASET_FILENAME`, the input files, requester secret 1 and the app secret,
and writes `$IEXEC_OUT/result.txt` and `$IEXEC_OUT/computed.json` (the contract: docs/apps.md
in sealrun). Edit `{app_file}`, then:

```sh
# 1. run it locally in the real sandbox, with the test inputs (nothing leaves this machine)
sealrun app test . --input test-input/dataset.txt --input-file test-input/input.txt \\
    --args "hello" --secret 1=a-requester-secret --app-secret an-app-secret

# 2. register it on chain (prints its address, 0xAPP, and its fingerprint)
sealrun app deploy .

# 3. buy a task of it and follow it to the decrypted result (after an app order is published)
sealrun app run 0xAPP --args "hello" --watch --download --decrypt
```
"""

_DATASET = "This is the private dataset of the test run.\nIt arrives under its own name in IEXEC_IN.\n"
_INPUT = "a public input file\n"

# template -> (language, app file, app text, entrypoint, runtime)
_APPS = {
    "python": ("Python", "app.py", _PYTHON, '["python3", "app.py"]', "python3"),
    "node": ("JavaScript, Node.js", "app.js", _NODE, '["node", "app.js"]', "node"),
    "shell": ("POSIX shell", "app.sh", _SHELL, '["sh", "app.sh"]', "native"),
}
TEMPLATES = tuple(_APPS)


def template_files(template: str, name: str) -> dict[str, str]:
    """The files of ``template`` for an app named ``name``: {relative path: text}.

    Raises:
        KeyError: an unknown template (the CLI checks the name against :data:`TEMPLATES`).
    """
    language, app_file, app_text, entrypoint, runtime = _APPS[template]
    return {
        "sealrun-app.toml": _MANIFEST.format(name=name, entrypoint=entrypoint, runtime=runtime),
        app_file: app_text,
        "README.md": _README.format(name=name, language=language, app_file=app_file),
        "test-input/dataset.txt": _DATASET,
        "test-input/input.txt": _INPUT,
    }
