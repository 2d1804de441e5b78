"""The SMS's composition root: :func:`create_app` builds everything; importing does nothing.

Components that need outside resources (the chain reader, the clock, the randomness) may be
injected, which is how tests run the real service against an in-memory chain; in a deployment
they come from the settings.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine

from sealrun.adapters.db import create_database_engine, session_factory, upgrade_database
from sealrun.adapters.web import BodySizeLimit, install_problem_handlers
from sealrun.adapters.web.observability import (
    Check,
    ServiceMetrics,
    database_check,
    install_observability,
    rpc_check,
)
from sealrun.api.sms import HealthOut
from sealrun.core.attestation import (
    ConfidentialVmVerifier,
    EvidenceType,
    NitroVerifier,
    Policy,
    SevSnpVerifier,
    SgxDcapVerifier,
    SimulatedVerifier,
    SimulatorPublicKey,
    TdxDcapVerifier,
    TrustedImages,
)
from sealrun.core.chainstate import ChainReader
from sealrun.core.receipts.release import derive_release_key
from sealrun.core.requests import RequestDomain, RequestVerifier
from sealrun.core.tasks import address_of
from sealrun.errors import AttestationError, ConfigError
from sealrun.services.sms.appraisal import ChainPinnedPolicy, base_policy
from sealrun.services.sms.codes import all_statuses
from sealrun.services.sms.repository import SmsRepository
from sealrun.services.sms.routes import ReleaseMetrics, router
from sealrun.services.sms.settings import SmsSettings
from sealrun.services.sms.usecases import AttestationPolicy, EvidenceVerifier, SmsOptions, SmsUseCases
from sealrun.services.sms.vault import MasterKeyring

__all__ = [
    "SMS_MIGRATIONS",
    "SMS_VERSION_TABLE",
    "SmsComponents",
    "build_components",
    "create_app",
    "migrate",
]

SMS_MIGRATIONS = "sealrun.services.sms:migrations"
SMS_VERSION_TABLE = "sms_alembic_version"
MAX_BODY_BYTES = 4 << 20


@dataclass(frozen=True)
class SmsComponents:
    """Everything :func:`create_app` wires, exposed for commands (migrate, rotate) and tests."""

    settings: SmsSettings
    usecases: SmsUseCases
    domain: RequestDomain
    engine: Engine
    #: The address of the release signing key (derived from the current master key).
    release_signer: str | None = None

    def close(self) -> None:
        """Close the database connections."""
        self.engine.dispose()


def migrate(settings: SmsSettings) -> None:
    """Create or upgrade the SMS tables (also run at every start)."""
    engine = create_database_engine(settings.resolved_database_url(), schema=settings.database_schema)
    try:
        upgrade_database(engine, script_location=SMS_MIGRATIONS, version_table=SMS_VERSION_TABLE)
    finally:
        engine.dispose()


def rotate_master_key(settings: SmsSettings) -> int:
    """Re-seal every stored secret under the current master key; return the rows rewritten."""
    settings.check()
    current, keys = settings.master_keys()
    keyring = MasterKeyring(current, keys)
    engine = create_database_engine(settings.resolved_database_url(), schema=settings.database_schema)
    try:
        upgrade_database(engine, script_location=SMS_MIGRATIONS, version_table=SMS_VERSION_TABLE)
        repository = SmsRepository(session_factory(engine))
        return repository.reseal_all(lambda envelope, kind, row: keyring.reseal(envelope, kind=kind, row=row))
    finally:
        engine.dispose()


def _verifiers(settings: SmsSettings) -> dict[EvidenceType, EvidenceVerifier]:
    verifiers: dict[EvidenceType, EvidenceVerifier] = {
        EvidenceType.SGX_DCAP: SgxDcapVerifier(),
        EvidenceType.TDX_DCAP: TdxDcapVerifier(),
        EvidenceType.SEV_SNP: SevSnpVerifier(),
        EvidenceType.NITRO: NitroVerifier(),
    }
    if settings.trusted_images_file is not None:
        images = _trusted_images(settings.trusted_images_file)
        verifiers[EvidenceType.TDX_DCAP] = ConfidentialVmVerifier(TdxDcapVerifier(), images)
        verifiers[EvidenceType.SEV_SNP] = ConfidentialVmVerifier(SevSnpVerifier(), images)
    if settings.allow_simulated_evidence:
        if settings.simulator_public_key_file is None:
            raise ConfigError(
                "simulated evidence needs simulator_public_key_file", code="SMS_SIMULATOR_KEY_MISSING"
            )
        try:
            public = SimulatorPublicKey.parse(settings.simulator_public_key_file.read_bytes())
        except OSError as error:
            raise ConfigError(
                "cannot read the simulator public key", code="SMS_SIMULATOR_KEY_MISSING"
            ) from error
        verifiers[EvidenceType.SIMULATED] = SimulatedVerifier(public)
    return verifiers


def _trusted_images(path: Path) -> TrustedImages:
    """The confidential-VM base images the deployment trusts (read once, at start)."""
    try:
        return TrustedImages.from_text(path.read_bytes())
    except OSError as error:
        raise ConfigError(
            f"cannot read the trusted images {path}: {error.strerror}", code="SMS_TRUSTED_IMAGES_INVALID"
        ) from None
    except AttestationError as error:
        raise ConfigError(error.message, code="SMS_TRUSTED_IMAGES_INVALID") from None


def _chain_reader(settings: SmsSettings, engine: Engine) -> ChainReader:
    """The hub reader over JSON-RPC; its deal index shares the SMS's database."""
    if settings.chain_rpc_url is None or settings.hub is None:
        raise ConfigError("the SMS needs chain_rpc_url and hub to read the chain", code="SMS_CHAIN_MISSING")
    from sealrun.adapters.chain.client import Marketplace

    market = Marketplace.connect(
        settings.chain_rpc_url, hub=settings.hub, index=engine, start_block=settings.chain_start_block
    )
    reader: ChainReader = market.reader
    return reader


def _policy(settings: SmsSettings) -> Policy:
    types = {EvidenceType.parse(name) for name in settings.allowed_tee_types}
    if settings.allow_simulated_evidence:
        types.add(EvidenceType.SIMULATED)
    return base_policy(
        allowed_tee_types=frozenset(types),
        accepted_tcb_statuses=frozenset(settings.accepted_tcb_statuses),
        rejected_advisories=frozenset(settings.rejected_advisories),
    )


def build_components(
    settings: SmsSettings,
    *,
    chain: ChainReader | None = None,
    clock: Callable[[], int] | None = None,
    random: Callable[[int], bytes] | None = None,
    verifiers: dict[EvidenceType, EvidenceVerifier] | None = None,
    policy: AttestationPolicy | None = None,
    migrate_schema: bool = True,
) -> SmsComponents:
    """Check the settings, migrate the database and build the use cases.

    Raises:
        ConfigError: a configuration that must not start (see :meth:`SmsSettings.check`).
        StorageError: the database is unreachable.
    """
    settings.check()
    current, keys = settings.master_keys()
    if settings.chain_id is None or settings.hub is None:
        raise ConfigError("the SMS needs chain_id and hub (its EIP-712 domain)", code="SMS_CHAIN_MISSING")
    domain = RequestDomain(chain_id=settings.chain_id, hub=settings.hub)
    engine = create_database_engine(settings.resolved_database_url(), schema=settings.database_schema)
    if migrate_schema:
        upgrade_database(engine, script_location=SMS_MIGRATIONS, version_table=SMS_VERSION_TABLE)
    repository = SmsRepository(session_factory(engine))
    options = SmsOptions(
        nonce_ttl=settings.nonce_ttl,
        result_upload_url=settings.result_upload_url,
        upload_token_key=None
        if settings.upload_token_key is None
        else settings.upload_token_key.get_secret_value().encode(),
        upload_token_ttl=settings.upload_token_ttl,
        max_releases=settings.max_releases_per_task,
        session_ttl=settings.session_ttl,
    )
    usecases = SmsUseCases(
        chain=chain if chain is not None else _chain_reader(settings, engine),
        repository=repository,
        keyring=MasterKeyring(current, keys),
        requests=RequestVerifier(domain, repository, window=settings.request_window),
        verifiers=verifiers if verifiers is not None else _verifiers(settings),
        policy=policy if policy is not None else ChainPinnedPolicy(_policy(settings)),
        clock=clock or (lambda: int(time.time())),
        random=random or os.urandom,
        options=options,
    )
    signer = address_of(derive_release_key(keys[current]))
    return SmsComponents(
        settings=settings, usecases=usecases, domain=domain, engine=engine, release_signer=signer
    )


def create_app(settings: SmsSettings | None = None, **inject: object) -> FastAPI:
    """Build the SMS application.

    Args:
        settings: the settings (read from ``SEALRUN_SMS_*`` when omitted).
        inject: optional ``chain``, ``clock``, ``random``, ``verifiers``, ``policy`` (tests).

    Returns:
        The FastAPI app; its OpenAPI document is at ``/openapi.json``.
    """
    components = build_components(settings or SmsSettings(), **inject)  # type: ignore[arg-type]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        components.close()

    app = FastAPI(
        lifespan=lifespan,
        title="sealrun SMS",
        version="1",
        description="Secret management: secrets for on-chain owners, attested key release, audit log.",
    )
    app.state.sms = components.usecases
    app.state.components = components
    app.state.health = HealthOut(
        status="ok",
        mode=components.settings.mode,
        chain_id=components.domain.chain_id,
        hub=components.domain.hub,
        simulated_evidence=components.settings.allow_simulated_evidence,
        release_signer=components.release_signer,
    )
    app.include_router(router)
    install_problem_handlers(app, all_statuses())
    app.add_middleware(BodySizeLimit, limit=MAX_BODY_BYTES)
    metrics = ServiceMetrics("sms")
    app.state.releases = ReleaseMetrics(
        outcomes=metrics.counter(
            "sealrun_releases",
            "Key release requests answered, by outcome (released, refused) and code (the refusal's).",
            ["outcome", "code"],
        ),
        latency=metrics.histogram(
            "sealrun_release_latency_seconds", "Time to appraise a release request and answer it."
        ),
    )
    checks: dict[str, Check] = {"database": database_check(components.engine)}
    if components.settings.chain_rpc_url is not None:
        checks["chain"] = rpc_check(components.settings.chain_rpc_url)
    install_observability(app, metrics, checks)
    return app
