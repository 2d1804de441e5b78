"""scripts/sms-backup.sh: a backup of the SMS database restores to exactly what it held.

On a SQLite file (sqlite3's online backup API) and a PostgreSQL schema (pg_dump/pg_restore):
records written after the backup are gone after the restore, the audit chain verifies, and a
backup that does not match its checksum is refused before the database is touched.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealrun.adapters.db import create_database_engine, session_factory, upgrade_database
from sealrun.services.sms.app import SMS_MIGRATIONS, SMS_VERSION_TABLE
from sealrun.services.sms.audit import AuditFacts, verify_audit_chain
from sealrun.services.sms.repository import SmsRepository
from tests.databases import DATABASES, PG_URL, database_url

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "sms-backup.sh"
TASK = "0x" + "3c" * 32


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False)


def _needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


@pytest.fixture(params=DATABASES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, list[str]]]:
    """(the SMS's SQLAlchemy URL, the URL the script takes, the script's extra arguments)."""
    _needs("sqlite3" if request.param == "sqlite" else "pg_dump")
    with database_url(request.param, tmp_path, prefix="sms") as url:
        if request.param == "sqlite":
            yield url, url, []
        else:
            yield url, PG_URL, [url.rsplit("%3D", 1)[1]]


def test_a_restore_brings_back_exactly_the_backup(tmp_path: Path, target: tuple[str, str, list[str]]) -> None:
    url, script_url, schema = target
    engine = create_database_engine(url)
    upgrade_database(engine, script_location=SMS_MIGRATIONS, version_table=SMS_VERSION_TABLE)
    repository = SmsRepository(session_factory(engine))
    try:
        for n in range(3):
            repository.append_audit(AuditFacts(event="refusal", code="ATTEST_X", detail=f"before {n}"), at=n)
        assert repository.reserve_release(TASK, cap=5, now=1)
        kept = repository.audit_records()
        backup = tmp_path / "backups" / "sms.dump"
        backup.parent.mkdir()
        made = _run("backup", script_url, str(backup), *schema)
        assert made.returncode == 0, made.stderr
        assert backup.with_suffix(".dump.sha256").is_file()
        assert backup.stat().st_mode & 0o077 == 0  # a backup of secrets is private

        repository.append_audit(AuditFacts(event="refusal", code="ATTEST_X", detail="after"), at=9)
        assert repository.reserve_release(TASK, cap=5, now=2)
        engine.dispose()  # restore runs with the SMS stopped

        restored = _run("restore", script_url, str(backup), *schema)
        assert restored.returncode == 0, restored.stderr
        records = repository.audit_records()
        assert records == kept
        assert verify_audit_chain(records) == kept[-1].entry_hash
        assert repository.releases(TASK) == 1
        # The SMS goes on appending to the restored chain.
        repository.append_audit(AuditFacts(event="refusal", code="ATTEST_X", detail="next"), at=10)
        verify_audit_chain(repository.audit_records())
    finally:
        engine.dispose()


def test_a_tampered_backup_is_refused_before_anything_is_touched(tmp_path: Path) -> None:
    _needs("sqlite3")
    database = tmp_path / "sms.db"
    url = f"sqlite:///{database}"
    engine = create_database_engine(url)
    upgrade_database(engine, script_location=SMS_MIGRATIONS, version_table=SMS_VERSION_TABLE)
    SmsRepository(session_factory(engine)).append_audit(
        AuditFacts(event="refusal", code="X", detail="x"), at=1
    )
    engine.dispose()
    backup = tmp_path / "sms.backup"
    assert _run("backup", url, str(backup)).returncode == 0
    data = bytearray(backup.read_bytes())
    data[200] ^= 1
    backup.write_bytes(bytes(data))
    before = database.read_bytes()
    refused = _run("restore", url, str(backup))
    assert refused.returncode == 2
    assert "does not match its checksum" in refused.stderr
    assert database.read_bytes() == before


@pytest.mark.parametrize(
    "args",
    [
        ["backup", "mysql://x/y", "out"],
        ["backup", "sqlite:///x.db", "out", "bad-schema;"],
        ["backup", "sqlite:///x.db", "-out"],
        ["wipe", "sqlite:///x.db", "out"],
        ["backup"],
    ],
)
def test_bad_arguments_are_refused(args: list[str], tmp_path: Path) -> None:
    refused = subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=30, cwd=tmp_path, check=False
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith("sms-backup: ")
