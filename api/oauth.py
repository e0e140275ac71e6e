"""``POST /oauth/token``: the OAuth2 client credentials grant, through authlib.

authlib's authorization server is synchronous and has no Starlette integration, so this is
a small adapter: the client row is loaded asynchronously first (its id names the tenant),
then authlib authenticates the client and issues the token in a worker thread, where the
deliberately slow argon2id secret check cannot stall the event loop.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, ClassVar

import structlog
from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import scope_to_list
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.runtime import AppRuntime
from tenants import repository as repo
from tenants.identity.passwords import verify_secret
from tenants.models import ApiClient, TenantStatus
from tenants.scope import TenantID, tenant_transaction

_log = structlog.get_logger(__name__)
_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
# Token requests are small; anything larger is not a token request.
_MAX_FORM_FIELDS = 16


class _Client(ClientMixin):  # type: ignore[misc]
    def __init__(self, row: ApiClient, tenant: TenantID) -> None:
        self.row = row
        self.tenant = tenant

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.row.scopes)
        if not scope:
            return " ".join(sorted(allowed))
        return " ".join(sorted(set(scope_to_list(scope)) & allowed))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_secret(self.row.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in _AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _Grant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(_AUTH_METHODS)


class _TokenRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, method: str, uri: str, headers: Any, form: dict[str, str]) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class _Server(AuthorizationServer):  # type: ignore[misc]
    """One request's authorization server, holding the one client it may know."""

    def __init__(self, runtime: AppRuntime, client: _Client | None) -> None:
        super().__init__(scopes_supported=sorted(runtime.matrix.scopes))
        self.runtime = runtime
        self.client = client
        self.issued_scopes: frozenset[str] | None = None
        self.register_grant(_Grant)
        self.register_token_generator("default", self._generate)

    def query_client(self, client_id: str) -> _Client | None:
        if self.client is not None and self.client.get_client_id() == client_id:
            return self.client
        return None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        return None  # the access token is a self-contained JWT; nothing to store

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, headers

    def _generate(
        self,
        grant_type: str,
        client: _Client,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        scopes = frozenset(scope_to_list(client.get_allowed_scope(scope)) or [])
        self.issued_scopes = scopes
        principal = self.runtime.identity.client_principal(client.tenant, client.row, scopes)
        ttl = self.runtime.settings.client_token_ttl
        issued = self.runtime.tokens.issue(principal, ttl=ttl)
        return {
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(sorted(scopes)),
        }


def _oauth_error(status: int, error: str, description: str) -> Response:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="renshi"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def _client_id_of(request: Request, form: dict[str, str]) -> str | None:
    from authlib.oauth2.rfc6749.util import extract_basic_authorization

    basic_id, _ = extract_basic_authorization(request.headers)
    return basic_id or form.get("client_id")


async def _load_client(client_id: str) -> _Client | None:
    slug, dot, _ = client_id.partition(".")
    if not dot or not slug:
        return None
    ref = await repo.platform_find_tenant_by_slug(slug)
    if ref is None or ref.status != TenantStatus.ACTIVE:
        return None
    async with tenant_transaction(ref.id):
        row = await repo.get_api_client_by_client_id(ref.id, client_id)
    if row is None or not row.is_active:
        return None
    return _Client(row, ref.id)


def token_endpoint(runtime: AppRuntime) -> Any:
    async def token(request: Request) -> Response:
        if request.method != "POST":
            return _oauth_error(405, "invalid_request", "use POST")
        if (
            request.headers.get("content-type", "").split(";")[0].strip()
            != "application/x-www-form-urlencoded"
        ):
            return _oauth_error(400, "invalid_request", "send application/x-www-form-urlencoded")
        raw = await request.form(max_fields=_MAX_FORM_FIELDS, max_files=0)
        form: dict[str, str] = {k: v for k, v in raw.items() if isinstance(v, str)}
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in raw.multi_items():
            values[key].append(str(value))
        if any(len(v) > 1 for v in values.values()):
            return _oauth_error(400, "invalid_request", "repeated parameters")
        client_id = _client_id_of(request, form)
        limiter = runtime.limiter
        client_ip = request.client.host if request.client else "unknown"
        for key in (f"client:{client_id}", f"ip:{client_ip}"):
            verdict = await limiter.hit(limiter.per_login, "oauth", key)
            if not verdict.allowed:
                response = _oauth_error(429, "slow_down", f"retry in {verdict.retry_after_s} s")
                response.headers["Retry-After"] = str(verdict.retry_after_s)
                return response
        client = await _load_client(client_id) if client_id else None
        server = _Server(runtime, client)
        # TLS terminates in front of the service; authlib insists on an https URI.
        uri = str(request.url.replace(scheme="https"))
        oauth_request = _TokenRequest(request.method, uri, request.headers, form)
        status, body, headers = await asyncio.to_thread(server.create_token_response, oauth_request)
        if isinstance(body, dict) and body.get("error") == "invalid_client":
            # One answer whether the client is unknown, revoked or the secret is wrong.
            return _oauth_error(401, "invalid_client", "client authentication failed")
        if status == 200 and client is not None:
            async with tenant_transaction(client.tenant):
                client.row.last_used_at = datetime.now(UTC)
                await repo.save_api_client(client.tenant, client.row, ["last_used_at"])
            _log.info(
                "client_token_issued",
                client_id=client.row.client_id,
                scopes=sorted(server.issued_scopes or ()),
            )
        return JSONResponse(body, status_code=status, headers=dict(headers))

    return token
