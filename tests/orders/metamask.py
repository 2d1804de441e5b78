"""Sign EIP-712 payloads with MetaMask's ``@metamask/eth-sig-util`` (signTypedData V4) in node."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / "tools" / "node" / "node_modules"

_SCRIPT = """
const { signTypedData, TypedDataUtils, SignTypedDataVersion } = require('@metamask/eth-sig-util');
let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const { items } = JSON.parse(input);
  const out = items.map(({ key, data }) => ({
    signature: signTypedData({ privateKey: Buffer.from(key, 'hex'), data, version: SignTypedDataVersion.V4 }),
    hash: '0x' + TypedDataUtils.eip712Hash(data, SignTypedDataVersion.V4).toString('hex'),
  }));
  process.stdout.write(JSON.stringify(out));
});
"""


def metamask_sign(items: list[tuple[bytes, dict[str, Any]]]) -> list[tuple[bytes, bytes]]:
    """Return (signature, eip712 hash) from eth-sig-util for each (private key, typed data)."""
    node = shutil.which("node")
    assert node is not None, "node is not installed"
    payload = json.dumps({"items": [{"key": key.hex(), "data": data} for key, data in items]})
    result = subprocess.run(
        [node, "-e", _SCRIPT],
        input=payload,
        capture_output=True,
        text=True,
        check=False,
        env={"NODE_PATH": str(NODE_MODULES), "PATH": str(Path(node).parent)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [
        (bytes.fromhex(entry["signature"][2:]), bytes.fromhex(entry["hash"][2:]))
        for entry in json.loads(result.stdout)
    ]
