"""Every error code in ``src/`` is named by some test, or is on a reasoned allow-list.

Codes are a public contract (``sealrun.errors``): scripts match on them, the HTTP problem
bodies carry them. A code no test names is a promise nobody checks, so this test lists every
code the source can raise and fails on one that no test file mentions. The few left out are
plumbing (a base class's default, a code only a broken host can produce) and each says why.

A code is found in the source as:

* a ``code="..."`` keyword argument (``SealrunError(..., code="X")``);
* a ``default_code = "..."`` class attribute (the exception tree's defaults);
* a module constant ``X = "X"`` (the attestation code table);
* a key of a ``*STATUS*`` table (the services' code → HTTP status maps);
* a member of an enum named ``*Code`` (``FailureCode``, signed on chain).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

SRC = REPO / "src" / "sealrun"
TESTS = REPO / "tests"
_CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")

# code → why no test needs to name it: plumbing only. A meaningful code gets a test instead.
ALLOWED_UNTESTED: dict[str, str] = {
    "RELEASE_REFUSED": "a base class's default_code: every raise in src/ names its own code",
    "RECEIPT_SIGNER_INVALID": "an HKDF output outside the secp256k1 order: probability 2**-128",
    "DEMO_VERIFY_FAILED": "the demo's check of its own receipt; each check's code is tested (tests/receipts)",
    "DEMO_FAILED": "a base class's default_code: every raise in src/ names its own code",
    "TASK_STATE": "a base class's default_code: every raise in src/ names its own code",
    "ATTEST_ERROR": "a base class's default_code: every raise in src/ names its own code",
    "CHAIN_ERROR": "a base class's default_code: every raise in src/ names its own code",
    "ENCLAVE_ERROR": "a base class's default_code: every raise in src/ names its own code",
    "REQUEST_INVALID": "a base class's default_code: every raise in src/ names its own code",
    "SANDBOX_ERROR": "a base class's default_code: every raise in src/ names its own code",
    "SEALRUN_ERROR": "a base class's default_code: every raise in src/ names its own code",
    "SEAL_ERROR": "a base class's default_code: every raise in src/ names its own code",
    "SECRET_ERROR": "a base class's default_code: every raise in src/ names its own code",
    "WALLET_ERROR": "a base class's default_code: every raise in src/ names its own code",
    "ANVIL_INSTALL_FAILED": "the anvil binary could not be installed: a host without the toolchain",
    "ANVIL_START_FAILED": "anvil exited at start: a broken host binary, not an input",
    "CHAIN_SERVE_FAILED": "the embedded chain's HTTP server could not bind: a host port problem",
    "CHAIN_BUSY": "the embedded chain's lock timed out: host load, not an input",
    "CHAIN_TIMEOUT": "an RPC node that never answers: needs a hung node, covered by CHAIN_* handling",
    "CHAIN_RPC_ERROR": "a JSON-RPC error object a real node returns only when broken",
    "CHAIN_DEPLOY_FAILED": "the contracts' deployment reverted: only a broken artifact does that",
    "CHAIN_ARTIFACT_INVALID": "corrupt checked-in compiled artifacts: test_artifacts guards their sync",
    "ENCLAVE_NOT_ROOT": "the isolated launch run without root: the suite always runs as root",
    "SANDBOX_CGROUP_BUSY": "a cgroup that cannot be removed: host state, not an input",
    "SEAL_IO": "a disk read/write error while sealing: needs a failing disk",
    "WALLET_REQUIRED": (
        "dead defensive checks in cli/journey.py and cli/order.py: session.market(wallet=True) "
        "always unlocks a wallet, so the client always has a sender with an account"
    ),
}

# Meaningful codes still without a test: a debt list, not an excuse. Each entry goes when its
# test lands; the list only shrinks (issue 16's audit emptied it).
OWED_TESTS: frozenset[str] = frozenset()


def _codes_in(tree: ast.AST) -> set[str]:
    found: set[str] = set()

    def string(node: ast.AST | None) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _CODE.match(node.value):
            return node.value
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "code" and (value := string(node.value)):
            found.add(value)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            value = string(node.value)
            if value is not None and name in ("default_code", value):
                found.add(value)
            if "STATUS" in name and isinstance(node.value, ast.Dict):
                found.update(key for key in map(string, node.value.keys) if key)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if "STATUS" in node.target.id and isinstance(node.value, ast.Dict):
                found.update(key for key in map(string, node.value.keys) if key)
        elif isinstance(node, ast.ClassDef) and node.name.endswith("Code"):
            for item in node.body:
                if isinstance(item, ast.Assign) and isinstance(item.targets[0], ast.Name):
                    found.add(item.targets[0].id)
    return found


def source_codes() -> dict[str, list[str]]:
    """Every code of ``src/`` and the modules it occurs in."""
    codes: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for code in _codes_in(ast.parse(path.read_text(), str(path))):
            codes.setdefault(code, []).append(str(path.relative_to(REPO)))
    return codes


def _tested_text() -> str:
    # test_error_families names families and owed sites, not tests of the codes.
    skip = {Path(__file__).resolve(), (TESTS / "unit" / "test_error_families.py").resolve()}
    return "\n".join(path.read_text() for path in sorted(TESTS.rglob("*.py")) if path.resolve() not in skip)


def _named(code: str, text: str) -> bool:
    return re.search(rf"(?<![A-Z0-9_]){code}(?![A-Z0-9_])", text) is not None


def test_the_extraction_finds_the_known_tables() -> None:
    codes = source_codes()
    # One of each source kind, so a broken extraction cannot pass by finding nothing.
    kinds = (
        "SECRET_NOT_OWNER",
        "SEALRUN_ERROR",
        "ATTEST_REVOKED",
        "SECRET_AT_REST_CORRUPT",
        "ATTEMPTS_EXHAUSTED",
    )
    for code in kinds:
        assert code in codes, code
    assert len(codes) > 150


def test_every_code_is_named_by_a_test() -> None:
    text = _tested_text()
    excused = ALLOWED_UNTESTED.keys() | OWED_TESTS
    untested = sorted(code for code in source_codes() if code not in excused and not _named(code, text))
    assert untested == [], "codes that no test names (add a test, or a reasoned ALLOWED_UNTESTED entry)"


def test_the_allow_list_is_not_stale() -> None:
    codes = source_codes()
    text = _tested_text()
    excused = sorted(ALLOWED_UNTESTED.keys() | OWED_TESTS)
    assert [code for code in excused if code not in codes] == [], "excused codes no longer in src/: drop them"
    assert [code for code in excused if _named(code, text)] == [], "excused codes now tested: drop them"
    assert all(len(reason) > 20 for reason in ALLOWED_UNTESTED.values())
