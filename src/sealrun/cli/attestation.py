"""``sealrun attestation``: verify TEE evidence as a user or auditor would, and make simulator keys.

``verify`` reads evidence that is raw, hex or base64 (as the shared vectors are), verifies it
with the verifier of the declared ``--type`` against the pinned vendor roots at ``--at`` (default:
now, read here at the edge and nowhere below), prints the normalised claims, and appraises them
with ``--policy`` when given. A verification failure prints its code and exits 1; a policy
refusal prints the claims, the verdict and the code, and exits 1. ``--trusted-images`` verifies
``tdx-dcap`` / ``sev-snp`` evidence in confidential-VM mode (the app fingerprint from the RTMR3
``--event-log`` / HOST_DATA, on a trusted base image).

``verify --bundle`` takes the collateral from an offline bundle (``collateral bundle``): the entry
for the evidence's FMSPC (DCAP) or chip id (SEV-SNP). ``collateral fetch|show|bundle`` are in
:mod:`sealrun.cli.collateral`.

``simulator-key`` writes a fresh per-deployment simulator key (PKCS#8 PEM, mode 0600, written to a
temp file then renamed) and prints its public key, which verifiers of simulated evidence need.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console

from sealrun.cli.collateral import collateral_app
from sealrun.cli.output import EXIT_ERROR, JSON_OPTION, Output, fail
from sealrun.core.attestation import (
    Claims,
    ConfidentialVmVerifier,
    Evidence,
    EvidenceType,
    NitroVerifier,
    Policy,
    SevSnpVerifier,
    SgxDcapVerifier,
    SimulatedVerifier,
    SimulatorKey,
    SimulatorPublicKey,
    TdxDcapVerifier,
    TrustedImages,
    decode_evidence_text,
)
from sealrun.core.attestation.bundle import parse_bundle, select_collateral
from sealrun.core.attestation.claims import ClaimsDocument
from sealrun.core.attestation.verifier import EvidenceVerifier, Verifier
from sealrun.errors import AttestationError, ConfigError

__all__ = ["attestation_app"]

attestation_app = typer.Typer(
    name="attestation", help="Verify TEE evidence; fetch and bundle collateral; make simulator keys."
)
attestation_app.add_typer(collateral_app)

_TYPES = ", ".join(kind.value for kind in EvidenceType)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read the {what} {path}: {error.strerror}", code="CONFIG_INVALID") from None


def _simulator_key(path: Path) -> SimulatorPublicKey:
    data = _read(path, "simulator key")
    try:
        return SimulatorPublicKey.parse(data)
    except AttestationError:
        return SimulatorKey.parse(data).public_key  # a private key file also names its public key


def _verifier(
    kind: EvidenceType, simulator_key: Path | None, *, allow_debug: bool, images: Path | None
) -> EvidenceVerifier:
    tdx, snp = TdxDcapVerifier(allow_debug=allow_debug), SevSnpVerifier(allow_debug=allow_debug)
    verifiers: list[Verifier] = [
        SgxDcapVerifier(allow_debug=allow_debug),
        tdx,
        snp,
        NitroVerifier(allow_debug=allow_debug),
    ]
    if images is not None:
        trusted = TrustedImages.from_text(_read(images, "trusted images"))
        verifiers[1:3] = [ConfidentialVmVerifier(tdx, trusted), ConfidentialVmVerifier(snp, trusted)]
    if simulator_key is not None:
        verifiers.append(SimulatedVerifier(_simulator_key(simulator_key), allow_debug=allow_debug))
    elif kind is EvidenceType.SIMULATED:
        raise ConfigError(
            "simulated evidence needs --simulator-key (its own trust root)", code="CONFIG_INVALID"
        )
    return EvidenceVerifier(verifiers)


def _human(claims: ClaimsDocument, verdict: Mapping[str, object] | None) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        for key, value in claims.items():
            if key == "extra":
                for name, register in claims["extra"].items():
                    console.print(f"  [dim]{name}[/dim]: {register}")
            else:
                console.print(f"[bold]{key}[/bold]: {value}")
        if verdict is not None:
            console.print(f"[bold]policy[/bold]: {verdict['decision']}")

    return render


_EVIDENCE_ARGUMENT = typer.Argument(..., help="Evidence file: raw, hex or base64.")
_TYPE_OPTION = typer.Option(..., "--type", help=f"Evidence type: {_TYPES}.")
_COLLATERAL_OPTION = typer.Option(
    None, "--collateral", help="DCAP: QuoteCollateralV3 JSON. sev-snp: the VCEK/VLEK (DER or PEM)."
)
_BUNDLE_OPTION = typer.Option(None, "--bundle", help="Take the collateral from this offline bundle.")
_AT_OPTION = typer.Option(None, "--at", help="Verify at this UNIX time (default: now).")
_POLICY_OPTION = typer.Option(None, "--policy", help="Appraise with this policy (TOML or JSON).")
_SIMULATOR_KEY_OPTION = typer.Option(
    None, "--simulator-key", help="Simulator public key (PEM or hex), for simulated evidence."
)
_ALLOW_DEBUG_OPTION = typer.Option(
    False, "--allow-debug", help="Show the claims of debug evidence (a policy still refuses it)."
)
_EVENT_LOG_OPTION = typer.Option(None, "--event-log", help="tdx-dcap: the RTMR3 event log (JSON).")
_IMAGES_OPTION = typer.Option(
    None, "--trusted-images", help="Confidential-VM mode: the trusted base images (TOML or JSON)."
)
_KEY_OUT_ARGUMENT = typer.Argument(..., help="Where to write the new private key (PEM, mode 0600).")
_FORCE_OPTION = typer.Option(False, "--force", help="Overwrite an existing file.")


@attestation_app.command("verify")
def verify(
    evidence_file: Path = _EVIDENCE_ARGUMENT,
    evidence_type: str = _TYPE_OPTION,
    collateral: Path | None = _COLLATERAL_OPTION,
    bundle: Path | None = _BUNDLE_OPTION,
    at: int | None = _AT_OPTION,
    policy_file: Path | None = _POLICY_OPTION,
    simulator_key: Path | None = _SIMULATOR_KEY_OPTION,
    allow_debug: bool = _ALLOW_DEBUG_OPTION,
    event_log: Path | None = _EVENT_LOG_OPTION,
    trusted_images: Path | None = _IMAGES_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Verify evidence against the pinned vendor roots; print its claims (and policy verdict)."""
    out = Output(json_out)
    kind = EvidenceType.parse(evidence_type)
    now = int(time.time()) if at is None else at
    if now < 0:
        raise ConfigError("--at must be a non-negative UNIX time", code="CONFIG_INVALID")
    policy = None
    if policy_file is not None:
        try:
            text = _read(policy_file, "policy").decode("utf-8")
        except UnicodeDecodeError:
            raise AttestationError(
                "the policy file is not UTF-8 text", code="ATTEST_POLICY_INVALID"
            ) from None
        policy = Policy.from_text(text)
    evidence = Evidence(
        type=kind,
        payload=decode_evidence_text(_read(evidence_file, "evidence")),
        collateral=None if collateral is None else _read(collateral, "collateral"),
        event_log=None if event_log is None else _read(event_log, "event log"),
    )
    if bundle is not None:
        if collateral is not None:
            raise ConfigError("give --collateral or --bundle, not both", code="CONFIG_INVALID")
        entries = parse_bundle(_read(bundle, "bundle"))
        evidence = replace(evidence, collateral=select_collateral(entries, evidence))
    verifier = _verifier(kind, simulator_key, allow_debug=allow_debug, images=trusted_images)
    claims: Claims = verifier.verify(evidence, now=now)
    rendered = claims.to_dict()
    result: dict[str, object] = {"verified_at": now, "claims": rendered}
    if policy is None:
        out.result(result, _human(rendered, None))
        return
    verdict: Mapping[str, object]
    try:
        verdict = policy.appraise(claims).to_dict()
    except AttestationError as refusal:
        verdict = {"decision": "reject", "code": refusal.code, "message": refusal.message}
        if not json_out:
            out.result(result, _human(rendered, verdict))
            fail(refusal, as_json=False)
        result |= {"verdict": verdict, "error": {"code": refusal.code, "message": refusal.message}}
        sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
        raise SystemExit(EXIT_ERROR) from None
    out.result(result | {"verdict": verdict}, _human(rendered, verdict))


@attestation_app.command("simulator-key")
def simulator_key_command(
    out_file: Path = _KEY_OUT_ARGUMENT,
    force: bool = _FORCE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Generate a per-deployment simulator key; print its public key (never ship the private one)."""
    out = Output(json_out)
    if out_file.exists() and not force:
        raise ConfigError(f"{out_file} exists; pass --force to replace it", code="CONFIG_INVALID")
    key = SimulatorKey.generate()
    folder = out_file.resolve().parent
    try:
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".simulator-key-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(key.to_pem())
            os.chmod(temporary, 0o600)
            os.replace(temporary, out_file)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise ConfigError(f"cannot write {out_file}: {error.strerror}", code="CONFIG_INVALID") from None
    public = key.public_key
    out.result(
        {"private_key_file": str(out_file), "public_key": public.raw.hex(), "key_id": public.key_id.hex()}
    )
