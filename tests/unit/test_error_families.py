"""Every error code is raised by a class that owns its family, from a module of that family.

``sealrun.errors`` gives each exception class the code families (prefixes) it owns; this
test reads the AST of every module in ``src/`` and checks each construction of an error
class that names its code (a string, or a constant of a codes module such as
``core/attestation/codes.py``):

1. the code is in one of the class's families (``ReleaseError`` raises ``RELEASE_*``, not
   ``SecretError``);
2. the module is a home of that family (:data:`FAMILY_HOMES`): ``ATTEST_*`` is raised in
   ``core.attestation``, not by the store. A new home is a decision: add it here, in sight.

Codes computed at run time (``code=error.code`` when translating) are out of reach and
skipped. Measure: ``uv run --frozen pytest -q tests/unit/test_error_families.py``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache

import sealrun.errors as errors
from tests.conftest import REPO

SRC = REPO / "src"

#: family -> the packages (below ``sealrun.``) whose modules raise it. ``cli`` is the edge.
FAMILY_HOMES: dict[str, frozenset[str]] = {
    "ANVIL": frozenset({"adapters.localchain"}),
    "APP_UNKNOWN": frozenset({"services.worker"}),
    "ASSIGNMENT": frozenset({"services.scheduler"}),
    "ATTEST": frozenset({"adapters.collateral", "cli", "core.attestation"}),
    "AUDIT": frozenset({"services.sms"}),
    "CANCELLED": frozenset({"cli"}),
    "CONFIRMATION": frozenset({"cli"}),
    "BUNDLE": frozenset({"adapters.bundlefiles", "core.bundles", "core.tasks", "enclave"}),
    "BUNDLE_UNAVAILABLE": frozenset({"services.worker"}),
    "CHAIN": frozenset({"adapters.chain", "adapters.localchain", "cli", "requester", "devnet"}),
    "CONFIG": frozenset(
        {
            "adapters.logs",
            "adapters.profiles",
            "cli",
            "requester",
            "core.estimates",
            "core.requests",
            "core.tasks",  # the retry policy (CONFIG_RETRY_INVALID)
            "services.market",
            "services.scheduler",
            "services.store",
            "services.worker",
        }
    ),
    "DATASET_FILENAME": frozenset({"core.tasks"}),
    "DB": frozenset({"adapters.db", "services.sms"}),
    "DEMO": frozenset({"cli"}),
    "DEVNET": frozenset({"cli", "devnet"}),
    "DEVNET_START": frozenset({"devnet"}),
    "ENCLAVE": frozenset({"adapters.tee", "enclave"}),
    "EVENTS": frozenset({"adapters.http", "services.scheduler"}),
    "FETCH_POLICY": frozenset({"core.netpolicy"}),
    "FILE": frozenset({"adapters.sealedfiles", "cli", "enclave"}),
    "INPUT": frozenset({"core.netpolicy", "enclave"}),
    "INVALID": frozenset({"api", "cli", "core.requests", "core.tasks"}),
    "KEY_FILE": frozenset({"adapters.sealedfiles", "cli"}),
    "MANIFEST": frozenset({"adapters.bundlefiles", "core.bundles"}),
    "ORDER": frozenset({"api", "cli", "requester", "core.orders", "services.market"}),
    "OUTPUT": frozenset({"cli", "enclave"}),
    "PROFILE": frozenset({"adapters.profiles"}),
    "QUOTE": frozenset({"adapters.tee"}),
    "RECEIPT": frozenset({"cli", "core.receipts", "adapters.receipts"}),
    "RELEASE": frozenset({"core.releases", "services.sms"}),
    "REPORT": frozenset({"adapters.tee", "services.worker"}),
    "REQUEST": frozenset({"adapters.db", "api", "core.requests", "services.sms", "services.store"}),
    "SANDBOX": frozenset({"adapters.sandbox"}),
    "SEAL": frozenset({"adapters.sealedfiles", "core.sealing"}),
    "SECRET": frozenset({"adapters.http", "requester", "core.releases", "core.secretrules", "services.sms"}),
    "SECRET_FILE": frozenset({"adapters.secretfiles"}),
    "SERVICE": frozenset({"adapters.http", "services.scheduler"}),  # SERVICE_STANDBY: a standby replica
    "SERVICE_URL": frozenset({"cli", "requester", "adapters.http", "services.explorer"}),
    "SIGNATURE": frozenset({"core.tasks"}),
    "SIMULATOR_KEY": frozenset({"adapters.tee", "enclave"}),
    "SMS": frozenset({"adapters.http", "services.sms"}),
    "STATUS": frozenset({"services.scheduler"}),
    "STORAGE": frozenset({"adapters.http", "api", "services.store"}),
    "TASK": frozenset({"requester"}),
    "TEE_INPUTS": frozenset({"requester"}),
    "TASK_UNKNOWN": frozenset({"services.scheduler", "services.worker"}),
    "UNPACK": frozenset({"adapters.sealedfiles", "core.sealing"}),
    "UPLOAD": frozenset({"core.uploads"}),
    "USAGE": frozenset({"cli", "enclave"}),
    "WALLET": frozenset({"adapters.keystore", "cli", "requester"}),
    "WEBHOOK": frozenset({"services.scheduler"}),
    "WORKER": frozenset({"services.scheduler"}),
}


@dataclass(frozen=True)
class RaiseSite:
    """One construction of an error class with a code known before run time."""

    module: str
    line: int
    cls: type[errors.SealrunError]
    code: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} {self.cls.__name__}(code={self.code!r})"


def _error_classes() -> dict[str, type[errors.SealrunError]]:
    found = {name: getattr(errors, name) for name in errors.__all__}
    return {name: cls for name, cls in found.items() if issubclass(cls, errors.SealrunError)}


def _string_constants(tree: ast.Module) -> dict[str, str]:
    constants: dict[str, str] = {}
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[union-attr]
            constants.update({target.id: value.value for target in targets if isinstance(target, ast.Name)})
    return constants


@cache
def _modules() -> dict[str, ast.Module]:
    modules = {}
    for path in sorted((SRC / "sealrun").rglob("*.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = ast.parse(path.read_text(encoding="utf-8"))
    return modules


class _Resolver:
    """Resolves a ``code=`` expression to a string through the module's own constants and
    the constants it imports (``from m import X`` or ``import m as codes; codes.X``)."""

    def __init__(
        self, module: str, modules: dict[str, ast.Module], constants: dict[str, dict[str, str]]
    ) -> None:
        self._own = constants[module]
        self._names: dict[str, str] = {}
        self._aliases: dict[str, str] = {}
        for node in ast.walk(modules[module]):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if full in modules:
                        self._aliases[alias.asname or alias.name] = full
                    elif alias.name in constants.get(node.module, {}):
                        self._names[alias.asname or alias.name] = constants[node.module][alias.name]
        self._constants = constants

    def resolve(self, expr: ast.expr) -> str | None:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return expr.value
        if isinstance(expr, ast.Name):
            return self._own.get(expr.id) or self._names.get(expr.id)
        if (
            isinstance(expr, ast.Attribute)
            and isinstance(expr.value, ast.Name)
            and expr.value.id in self._aliases
        ):
            return self._constants[self._aliases[expr.value.id]].get(expr.attr)
        return None


@cache
def raise_sites() -> tuple[RaiseSite, ...]:
    """Every construction of an error class in src/ whose code is known before run time."""
    modules = _modules()
    classes = _error_classes()
    constants = {name: _string_constants(tree) for name, tree in modules.items()}
    sites = []
    for module, tree in modules.items():
        resolver = _Resolver(module, modules, constants)
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in classes
            ):
                continue
            cls = classes[node.func.id]
            given = next((keyword.value for keyword in node.keywords if keyword.arg == "code"), None)
            code = cls.default_code if given is None else resolver.resolve(given)
            if code is not None:
                sites.append(RaiseSite(module, node.lineno, cls, code))
    return tuple(sites)


def _family(site: RaiseSite) -> str | None:
    matches = [
        family for family in site.cls.families if site.code == family or site.code.startswith(family + "_")
    ]
    return max(matches, key=len, default=None)


def _package(module: str) -> str:
    parts = module.split(".")[1:]
    return ".".join(parts[:2]) if parts[0] in ("core", "adapters", "services") else parts[0]


def test_the_scan_finds_the_raise_sites() -> None:
    sites = raise_sites()
    assert len(sites) > 500
    codes = {site.code for site in sites}
    # a string, a module constant and a constant of a codes module are all resolved
    assert {"RELEASE_NONCE_USED", "ATTEST_MALFORMED", "UPLOAD_TOKEN_EXPIRED"} <= codes


def test_every_code_is_raised_by_a_class_that_owns_its_family() -> None:
    wrong = [site for site in raise_sites() if not site.cls.owns(site.code)]
    assert not wrong, "codes outside their class's families:\n" + "\n".join(map(str, wrong))


def test_every_module_raises_the_families_of_its_package() -> None:
    astray = []
    for site in raise_sites():
        family = _family(site)
        if family is not None and _package(site.module) not in FAMILY_HOMES.get(family, frozenset()):
            astray.append(f"{site} (family {family})")
    assert not astray, "codes raised outside their family's homes:\n" + "\n".join(astray)


def test_every_family_is_owned_and_every_home_is_used() -> None:
    owned = {family for cls in _error_classes().values() for family in cls.families}
    assert set(FAMILY_HOMES) <= owned
    used = {(_family(site), _package(site.module)) for site in raise_sites()}
    unused = sorted(
        (family, home)
        for family, homes in FAMILY_HOMES.items()
        for home in homes
        if (family, home) not in used
    )
    assert not unused, f"homes no module uses any more; remove them: {unused}"


def test_every_class_owns_its_default_code_and_families_are_words() -> None:
    for cls in _error_classes().values():
        if cls is not errors.SealrunError:
            assert cls.owns(cls.default_code), cls
        for family in cls.families:
            assert family.isupper()
            assert not family.endswith("_")
