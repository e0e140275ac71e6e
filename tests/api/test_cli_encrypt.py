"""``renshi encrypt``: a sender encrypts an import file with a key file, with no database."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tenants.crypto.imports import ImportKeyBundle, ImportKeys, import_keys_from_settings
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tenants.settings import Settings
from tests.factories import create_tenant, tenant_id

ROOT = Path(__file__).resolve().parents[2]
PLAINTEXT = os.urandom(2 * 1024 * 1024 + 777)  # three segments


@pytest.fixture
def keys(settings: Settings) -> ImportKeys:
    return import_keys_from_settings(settings)


async def renshi(
    home: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {
        **os.environ,
        # A database nobody listens on: the command must not need one.
        "DATABASE_URL": "postgresql://renshi@127.0.0.1:9/none",
        "DATABASE_ADMIN_URL": "",
        "RENSHI_HOME": str(home),
        "RENSHI_LOG_LEVEL": "WARNING",
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=120,
    )


async def _key_file(keys: ImportKeys, tenant: Tenant, folder: Path) -> tuple[Path, Any]:
    async with tenant_transaction(tenant_id(tenant)):
        bundle: ImportKeyBundle = await keys.create_key(tenant_id(tenant), tenant_slug=tenant.slug)
    path = folder / "key.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path, bundle


async def _decrypt(keys: ImportKeys, tenant: Tenant, ciphertext: bytes) -> bytes:
    async with tenant_transaction(tenant_id(tenant)):
        stream = await keys.decrypting_stream(tenant_id(tenant), io.BytesIO(ciphertext))
    with stream:
        return await asyncio.to_thread(stream.read)


async def test_a_file_encrypted_by_the_command_imports(keys: ImportKeys, tmp_path: Path) -> None:
    tenant = await create_tenant()
    key_file, bundle = await _key_file(keys, tenant, tmp_path)
    source, encrypted = tmp_path / "people.csv", tmp_path / "people.csv.enc"
    source.write_bytes(PLAINTEXT)
    # when
    result = await renshi(
        tmp_path, "encrypt", "--keyset", str(key_file), "--tenant", tenant.slug,
        str(source), str(encrypted),
    )  # fmt: skip
    # then one summary line, and a file the tenant decrypts
    assert result.returncode == 0, result.stderr.decode()
    summary = result.stdout.decode().strip()
    assert "\n" not in summary
    assert f"({len(PLAINTEXT)} bytes)" in summary
    assert f"({encrypted.stat().st_size} bytes)" in summary
    assert f"tenant {tenant.slug}" in summary
    assert await _decrypt(keys, tenant, encrypted.read_bytes()) == PLAINTEXT
    # and no temporary file is left behind
    assert sorted(os.listdir(tmp_path)) == [
        "key.json",
        "people.csv",
        "people.csv.enc",
    ]

    # the tenant id names the tenant too, and --json gives the summary as JSON
    again = tmp_path / "again.enc"
    result = await renshi(
        tmp_path, "--json", "encrypt", "--keyset", str(key_file), "--tenant",
        str(tenant.id), str(source), str(again),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout) == {
        "tenant": tenant.slug,
        "key_id": bundle["keyId"],
        "input": str(source),
        "output": str(again),
        "bytes_in": len(PLAINTEXT),
        "bytes_out": again.stat().st_size,
    }
    assert await _decrypt(keys, tenant, again.read_bytes()) == PLAINTEXT


async def test_standard_input_and_output(keys: ImportKeys, tmp_path: Path) -> None:
    tenant = await create_tenant()
    key_file, _ = await _key_file(keys, tenant, tmp_path)
    result = await renshi(
        tmp_path, "--json", "encrypt", "--keyset", str(key_file), "--tenant", tenant.slug, "-", "-",
        stdin=PLAINTEXT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    # the summary goes to standard error, away from the ciphertext
    assert json.loads(result.stderr)["bytes_out"] == len(result.stdout)
    assert await _decrypt(keys, tenant, result.stdout) == PLAINTEXT


async def test_a_key_file_of_another_tenant_is_refused(keys: ImportKeys, tmp_path: Path) -> None:
    tenant, other = await create_tenant(), await create_tenant()
    key_file, _ = await _key_file(keys, tenant, tmp_path)
    source, encrypted = tmp_path / "people.csv", tmp_path / "people.csv.enc"
    source.write_bytes(b"employee_no,name\n")
    # when
    result = await renshi(
        tmp_path, "encrypt", "--keyset", str(key_file), "--tenant", other.slug,
        str(source), str(encrypted),
    )  # fmt: skip
    # then
    assert result.returncode == 1
    message = result.stderr.decode()
    assert message.startswith(
        f"renshi: the key file is for tenant '{tenant.slug}', not '{other.slug}'"
    )
    assert "密钥文件属于组织" in message
    assert "Traceback" not in message
    assert not encrypted.exists()


async def test_unusable_inputs_are_one_clear_line(keys: ImportKeys, tmp_path: Path) -> None:
    tenant = await create_tenant()
    key_file, _ = await _key_file(keys, tenant, tmp_path)
    not_a_key = tmp_path / "people.csv"
    not_a_key.write_bytes(b"employee_no,name\n")
    cases = [
        (str(not_a_key), str(not_a_key), "renshi: not a Renshi import key file: it is not JSON"),
        (str(tmp_path / "missing.json"), str(not_a_key), "renshi: cannot read the key file"),
        (str(key_file), str(tmp_path / "missing.csv"), "renshi: cannot encrypt"),
    ]
    for keyset, source, expected in cases:
        result = await renshi(
            tmp_path, "encrypt", "--keyset", keyset, "--tenant", tenant.slug,
            source, str(tmp_path / "out.enc"),
        )  # fmt: skip
        message = result.stderr.decode()
        assert result.returncode == 1, message
        assert message.startswith(expected), message
        assert "Traceback" not in message
        assert " / " in message  # followed by the Chinese message
    assert not (tmp_path / "out.enc").exists()
