"""The ``renshi`` command line: serve, worker, migrate, tenants, users, clients and keys.

Other tools (CI, the README's examples, operators' scripts) rely on these command names and
on ``--json`` output, so both are kept stable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

from api.demo_command import add_demo_command
from domain.imports.export import write_import_files
from domain.imports.reports import use_import_keys
from domain.people.service import employee_service
from domain.templates.onboarding import provision_pack
from domain.templates.registry import pack_codes
from tenants import repository as repo
from tenants.authorization import Role, load_matrix
from tenants.crypto.imports import (
    CountingReader,
    ImportBundle,
    ImportBundleError,
    ImportKeys,
    encrypt_file,
    load_bundle,
)
from tenants.crypto.pii import pii_cipher_from_settings
from tenants.database.migrate import apply_migrations
from tenants.database.provision import provision
from tenants.database.runtime import DatabaseUrls, close_orm, init_orm, resolve_database
from tenants.database.urls import redact
from tenants.errors import ServiceError
from tenants.identity.keys import KeyConfigurationError, rotate_key_file
from tenants.lifecycle.deletion import TenantNotFoundError, delete_tenant
from tenants.lifecycle.export import TenantExportError, export_tenant_to_path
from tenants.logs import configure_logging
from tenants.scope import TenantID, tenant_transaction
from tenants.service import api_client_service, tenant_service, user_service
from tenants.settings import Settings, get_settings


class CommandError(Exception):
    """A command that cannot be carried out; printed without a traceback, exit status 1."""


def _emit(args: argparse.Namespace, values: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(values, ensure_ascii=False, default=str))
    else:
        for key, value in values.items():
            print(f"{key}: {value}")


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[DatabaseUrls]:
    urls = await resolve_database(settings)
    if settings.embedded and urls.admin_url is not None:
        await apply_migrations(urls.admin_url)
    await init_orm(urls.app_url, pool_size=2)
    cipher = pii_cipher_from_settings(settings)
    employee_service.use_sealer(cipher)
    tenant_service.use_keysets(cipher.keysets)
    use_import_keys(ImportKeys(cipher.keysets))
    try:
        yield urls
    finally:
        employee_service.use_sealer(None)
        tenant_service.use_keysets(None)
        use_import_keys(None)
        await close_orm()


async def _tenant_id(slug: str) -> TenantID:
    ref = await repo.platform_find_tenant_by_slug(slug)
    if ref is None:
        raise CommandError(f"no tenant with slug {slug!r}")
    return ref.id


def _service_error(exc: ServiceError) -> CommandError:
    where = f" ({exc.field})" if exc.field else ""
    return CommandError(f"{exc.code.value}{where}: {exc.message}")


async def _migrate(args: argparse.Namespace, settings: Settings) -> None:
    urls = await resolve_database(settings)
    if urls.admin_url is None:
        raise CommandError("DATABASE_ADMIN_URL is required to migrate an external database")
    await apply_migrations(urls.admin_url, report=print)
    print("schema is up to date")


async def _provision(args: argparse.Namespace, settings: Settings) -> None:
    result = await provision(
        args.superuser_url,
        database=args.database,
        owner=args.owner,
        app=args.app,
        owner_password=args.owner_password,
        app_password=args.app_password,
    )
    _emit(
        args,
        {"DATABASE_ADMIN_URL": redact(result.admin_url), "DATABASE_URL": redact(result.app_url)},
    )


async def _tenant_create(args: argparse.Namespace, settings: Settings) -> None:
    async with _database(settings):
        tenant = TenantID(uuid4())
        try:
            async with tenant_transaction(tenant):
                row = await tenant_service.create_tenant(
                    tenant,
                    slug=args.slug,
                    name=args.name,
                    template_code=args.template,
                    known_templates=pack_codes(),
                )
                await provision_pack(tenant)
        except ServiceError as exc:
            raise _service_error(exc) from exc
    _emit(args, {"tenant_id": row.id, "slug": row.slug, "template": row.template_code})


async def _tenant_export(args: argparse.Namespace, settings: Settings) -> None:
    out = Path(args.out)
    async with _database(settings):
        tenant = await _tenant_id(args.slug)
        try:
            # The full archive: the tables and each import's files, decrypted.
            manifest = await export_tenant_to_path(
                tenant,
                out,
                pii=pii_cipher_from_settings(settings),
                parts=(write_import_files,),
            )
        except (TenantExportError, OSError) as exc:
            raise CommandError(f"cannot export {args.slug!r} to {args.out!r}: {exc}") from exc
    # The archive is complete but for these files: exit 0, and say so where an operator looks.
    for skipped in manifest.skipped_files:
        print(
            f"renshi: warning: import {skipped.import_id}: its {skipped.part} file is not in "
            f"the archive ({skipped.code}): {skipped.reason}",
            file=sys.stderr,
        )
    _emit(
        args,
        {
            "slug": manifest.slug,
            "file": str(out),
            "tables": len(manifest.tables),
            "rows": sum(t.rows for t in manifest.tables),
            "import_files": len(manifest.files),
            "import_files_not_exported": len(manifest.skipped_files),
        },
    )


async def _tenant_delete(args: argparse.Namespace, settings: Settings) -> None:
    if args.confirm != args.slug:
        raise CommandError(
            f"not deleting {args.slug!r}: repeat its slug with --confirm {args.slug} / "
            f"未删除：请用 --confirm {args.slug} 再次输入该组织的标识"
        )
    async with _database(settings) as urls:
        if urls.admin_url is None:
            raise CommandError("DATABASE_ADMIN_URL is required to delete a tenant")
        tenant = await _tenant_id(args.slug)
        try:
            report = await delete_tenant(urls.admin_url, tenant)
        except TenantNotFoundError as exc:
            raise CommandError(f"no tenant with slug {args.slug!r}") from exc
    _emit(args, {"tenant_id": report.tenant_id, "slug": report.slug, "rows": report.total})


def _read_password_from_stdin() -> str:
    password = sys.stdin.read()
    # One trailing newline is what `echo` and here-strings add; it is not part of it.
    if password.endswith("\r\n"):
        password = password[:-2]
    elif password.endswith("\n"):
        password = password[:-1]
    if not password:
        raise CommandError("no password on standard input")
    return password


async def _user_create(args: argparse.Namespace, settings: Settings) -> None:
    password = _read_password_from_stdin() if args.password_stdin else None
    async with _database(settings):
        tenant = await _tenant_id(args.slug)
        try:
            async with tenant_transaction(tenant):
                user = await user_service.create(
                    tenant,
                    email=args.email,
                    display_name=args.name or args.email.split("@")[0],
                    roles=args.role,
                    password=password,
                )
        except ServiceError as exc:
            raise _service_error(exc) from exc
    _emit(args, {"user_id": user.id, "email": user.email, "roles": ",".join(user.roles)})


async def _client_create(args: argparse.Namespace, settings: Settings) -> None:
    async with _database(settings):
        tenant = await _tenant_id(args.slug)
        try:
            async with tenant_transaction(tenant):
                issued = await api_client_service.create(tenant, name=args.name, scopes=args.scopes)
        except ServiceError as exc:
            raise _service_error(exc) from exc
    _emit(
        args,
        {
            "client_id": issued.client.client_id,
            "client_secret": issued.secret,
            "scopes": " ".join(issued.client.scopes),
        },
    )
    if not args.json:
        print("The secret is shown once; store it now.", file=sys.stderr)


async def _keys_rotate(args: argparse.Namespace, settings: Settings) -> None:
    try:
        key = rotate_key_file(settings)
    except KeyConfigurationError as exc:
        raise CommandError(str(exc)) from exc
    _emit(args, {"kid": key.kid, "file": settings.resolved_jwt_keys_file})


def _encrypt(args: argparse.Namespace, settings: Settings) -> None:
    """Encrypt an import file as a tenant's sender would; needs the key file, no database."""
    try:
        bundle = load_bundle(args.keyset)
    except ImportBundleError as exc:
        raise CommandError(f"{exc.message} / {exc.message_zh}") from exc
    if args.tenant not in (bundle.tenant_slug, str(bundle.tenant_id)):
        # The key file decides what the file opens for; a mix-up would only show at import.
        raise CommandError(
            f"the key file is for tenant {bundle.tenant_slug!r}, not {args.tenant!r} / "
            f"密钥文件属于组织 {bundle.tenant_slug!r}，而不是 {args.tenant!r}"
        )
    try:
        with contextlib.ExitStack() as stack:
            source = (
                sys.stdin.buffer
                if args.input == "-"
                else stack.enter_context(open(args.input, "rb"))
            )
            counted = CountingReader(source)
            if args.output == "-":
                written = encrypt_file(
                    bundle.handle, bundle.associated_data, counted, sys.stdout.buffer
                )
                sys.stdout.buffer.flush()
            else:
                written = _encrypt_to_path(bundle, counted, Path(args.output))
    except OSError as exc:
        raise CommandError(
            f"cannot encrypt {args.input!r} to {args.output!r}: {exc.strerror or exc} / "
            f"无法将 {args.input!r} 加密到 {args.output!r}"
        ) from exc
    summary = {
        "tenant": bundle.tenant_slug,
        "key_id": bundle.handle.keyset_info().primary_key_id,
        "input": args.input,
        "output": args.output,
        "bytes_in": counted.bytes_read,
        "bytes_out": written,
    }
    # With the ciphertext on standard output, the summary must not mix into it.
    stream = sys.stderr if args.output == "-" else sys.stdout
    if args.json:
        print(json.dumps(summary, ensure_ascii=False), file=stream)
    else:
        print(
            f"encrypted {args.input} ({counted.bytes_read} bytes) to {args.output} "
            f"({written} bytes) for tenant {bundle.tenant_slug} with key {summary['key_id']}",
            file=stream,
        )


def _encrypt_to_path(bundle: ImportBundle, source: CountingReader, output: Path) -> int:
    # Written aside and renamed when complete: a failure never leaves a partial file under
    # the final name (which an uploader could pick up), and OUT may be IN itself.
    fd, partial = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as destination:
            written = encrypt_file(bundle.handle, bundle.associated_data, source, destination)
        # mkstemp makes it owner-only; give it the mode open(OUT, "wb") would have.
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(partial, 0o666 & ~umask)
        os.replace(partial, output)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return written


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        proxy_headers=True,
        server_header=False,
        lifespan="on",
    )


def _worker(args: argparse.Namespace, settings: Settings) -> None:
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    if settings.broker_kind == "stub":
        raise CommandError(
            "BROKER_URL is not set: jobs run inside `renshi serve`. "
            "Set BROKER_URL (redis:// or amqp://) to run separate workers."
        )
    argv = [
        "workers.process:broker",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
    ]
    if args.queues:
        argv += ["--queues", *args.queues]
    parser = make_argument_parser()  # type: ignore[no-untyped-call]
    raise SystemExit(dramatiq_main(parser.parse_args(argv)))  # type: ignore[no-untyped-call]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="renshi", description="Renshi (人事): employee records and fair evaluation."
    )
    parser.add_argument("--json", action="store_true", help="print results as one JSON object")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API (and, with no BROKER_URL, the jobs)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.set_defaults(run=_serve)

    worker = commands.add_parser("worker", help="run job workers (needs BROKER_URL)")
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument("--threads", type=int, default=4)
    worker.add_argument("--queues", nargs="*", help="only these queues (default: all)")
    worker.set_defaults(run=_worker)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(run=_migrate)

    db = commands.add_parser("db", help="database administration").add_subparsers(
        dest="db_command", required=True
    )
    prov = db.add_parser(
        "provision", help="create the database, the owner role and the application role"
    )
    prov.add_argument("--superuser-url", required=True)
    prov.add_argument("--database", default="renshi")
    prov.add_argument("--owner", default="renshi_owner")
    prov.add_argument("--app", default="renshi_app")
    prov.add_argument("--owner-password")
    prov.add_argument("--app-password")
    prov.set_defaults(run=_provision)

    tenant = commands.add_parser("tenant", help="tenants").add_subparsers(
        dest="tenant_command", required=True
    )
    tenant_create = tenant.add_parser("create", help="create a tenant")
    tenant_create.add_argument("slug")
    tenant_create.add_argument("--name", required=True)
    tenant_create.add_argument(
        "--template", required=True, help="template pack code, e.g. enterprise_rd"
    )
    tenant_create.set_defaults(run=_tenant_create)
    tenant_export = tenant.add_parser(
        "export", help="write all of a tenant's data, personal fields decrypted, to a zip"
    )
    tenant_export.add_argument("slug")
    tenant_export.add_argument("--out", required=True, help="the archive to write (mode 0600)")
    tenant_export.set_defaults(run=_tenant_export)
    tenant_delete = tenant.add_parser(
        "delete", help="delete a tenant, every row it owns and its keys; cannot be undone"
    )
    tenant_delete.add_argument("slug")
    tenant_delete.add_argument("--confirm", required=True, help="the slug again")
    tenant_delete.set_defaults(run=_tenant_delete)

    user = commands.add_parser("user", help="users").add_subparsers(
        dest="user_command", required=True
    )
    user_create = user.add_parser("create", help="create a user in a tenant")
    user_create.add_argument("slug")
    user_create.add_argument("email")
    user_create.add_argument(
        "--role", action="append", required=True, choices=[r.value for r in Role], help="repeatable"
    )
    user_create.add_argument("--name", help="display name (default: the email's local part)")
    user_create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    user_create.set_defaults(run=_user_create)

    client = commands.add_parser("client", help="API clients").add_subparsers(
        dest="client_command", required=True
    )
    client_create = client.add_parser(
        "create", help="create an OAuth2 client; prints its secret once"
    )
    client_create.add_argument("slug")
    client_create.add_argument("name")
    client_create.add_argument(
        "--scopes", nargs="+", required=True, choices=sorted(load_matrix().scopes)
    )
    client_create.set_defaults(run=_client_create)

    keys = commands.add_parser("keys", help="JWT signing keys").add_subparsers(
        dest="keys_command", required=True
    )
    rotate = keys.add_parser(
        "rotate", help="add a new signing key; tokens of older keys stay valid"
    )
    rotate.set_defaults(run=_keys_rotate)
    encrypt = commands.add_parser(
        "encrypt",
        help="encrypt an import file with a tenant's import key file (no database needed)",
    )
    encrypt.add_argument(
        "--keyset", required=True, help="the import key file downloaded for the tenant"
    )
    encrypt.add_argument(
        "--tenant", required=True, help="the tenant's slug (or id); must match the key file"
    )
    encrypt.add_argument("input", metavar="IN", help="the file to encrypt; - for standard input")
    encrypt.add_argument("output", metavar="OUT", help="the encrypted file; - for standard output")
    encrypt.set_defaults(run=_encrypt)
    add_demo_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings)
    try:
        outcome = args.run(args, settings)
        if asyncio.iscoroutine(outcome):
            asyncio.run(outcome)
    except CommandError as exc:
        print(f"renshi: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
