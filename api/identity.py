"""GraphQL of identity: ``viewer``, ``login``, ``refreshToken``, ``logout``, ``changePassword``."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, TypeVar

import strawberry

from api.clients import ApiClientType
from api.graphql.context import Info
from api.graphql.errors import Error, error_from
from api.graphql.fields import field, root_field, root_mutation
from api.graphql.mutations import attempt
from api.tenancy import TenantType
from api.users import UserType
from domain.people.service import employee_service
from tenants.authorization import Role
from tenants.errors import ErrorCode, ServiceError
from tenants.identity.service import Session
from tenants.service import tenant_service, user_service

if TYPE_CHECKING:
    from api.people import EmployeeType


class PrincipalKind(StrEnum):
    USER = "user"
    CLIENT = "client"


PrincipalKindType = strawberry.enum(PrincipalKind, name="PrincipalKind")


@strawberry.type(description="Who is calling: a user, or an integrator's client.")
class Viewer:
    kind: PrincipalKind
    roles: list[Role]
    scopes: list[str]
    user: UserType | None
    api_client: ApiClientType | None

    @field(description="The caller's own record, when a user is linked to one.")
    async def employee(
        self, info: Info
    ) -> Annotated[EmployeeType, strawberry.lazy("api.people")] | None:
        from api.people import EmployeeType

        actor = info.context.require_actor()
        if actor.user is None:
            return None
        row = await employee_service.of_user(actor.principal.tenant_id, actor.user.id)
        return EmployeeType.from_model(row) if row is not None else None

    @field(description="The organisation the caller belongs to.")
    async def tenant(self, info: Info) -> TenantType:
        tenant = info.context.tenant_id
        return TenantType.from_model(await tenant_service.get(tenant))


@strawberry.type(description="A session: a short-lived access token and a refresh token.")
class LoginPayload:
    access_token: str
    refresh_token: str
    expires_in: int = strawberry.field(description="Seconds until the access token expires.")
    token_type: str = "Bearer"  # noqa: S105 - the token type, not a secret


@strawberry.type
class LoginError(Error):
    retry_after: int | None = strawberry.field(
        default=None, description="Seconds to wait before trying again, when rate limited."
    )


@strawberry.type
class TokenRefreshPayload(LoginPayload):
    pass


@strawberry.type
class TokenRefreshError(Error):
    pass


@strawberry.type
class LogoutPayload:
    ok: bool


@strawberry.type
class LogoutError(Error):
    pass


@strawberry.type
class PasswordChangePayload:
    user: UserType


@strawberry.type
class PasswordChangeError(Error):
    pass


LoginResult = Annotated[LoginPayload | LoginError, strawberry.union("LoginResult")]
TokenRefreshResult = Annotated[
    TokenRefreshPayload | TokenRefreshError, strawberry.union("TokenRefreshResult")
]
LogoutResult = Annotated[LogoutPayload | LogoutError, strawberry.union("LogoutResult")]
PasswordChangeResult = Annotated[
    PasswordChangePayload | PasswordChangeError, strawberry.union("PasswordChangeResult")
]


P = TypeVar("P", bound=LoginPayload)


def _session(cls: type[P], session: Session) -> P:
    return cls(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        expires_in=session.expires_in,
    )


@strawberry.type
class IdentityQueries:
    @root_field(description="The caller; null when anonymous.")
    def viewer(self, info: Info) -> Viewer | None:
        actor = info.context.actor
        if actor is None:
            return None
        principal = actor.principal
        return Viewer(
            kind=PrincipalKind(principal.kind),
            roles=sorted(principal.roles),
            scopes=sorted(principal.scopes),
            user=UserType.from_model(actor.user) if actor.user is not None else None,
            api_client=ApiClientType.from_model(actor.client) if actor.client is not None else None,
        )


@strawberry.type
class IdentityMutations:
    @root_mutation(description="Log in with a password.")
    async def login(self, info: Info, tenant: str, email: str, password: str) -> LoginResult:
        context = info.context
        limiter = context.runtime.limiter
        client_ip = context.request.client.host if context.request.client else "unknown"
        for key in (f"account:{tenant.strip().lower()}:{email.strip().lower()}", f"ip:{client_ip}"):
            verdict = await limiter.hit(limiter.per_login, "login", key)
            if not verdict.allowed:
                return LoginError(
                    code=ErrorCode.RATE_LIMITED,
                    field=None,
                    message=f"too many login attempts; try again in {verdict.retry_after_s} s",
                    message_zh=f"登录尝试过多，请在 {verdict.retry_after_s} 秒后重试",
                    retry_after=verdict.retry_after_s,
                )
        result = await attempt(
            lambda: context.runtime.identity.login(
                tenant_slug=tenant, email=email, password=password
            )
        )
        if isinstance(result, ServiceError):
            return error_from(LoginError, result)
        return _session(LoginPayload, result)

    @root_mutation(description="Trade a refresh token for a new pair; the one given stops working.")
    async def refresh_token(self, info: Info, refresh_token: str) -> TokenRefreshResult:
        result = await attempt(lambda: info.context.runtime.identity.refresh(refresh_token))
        if isinstance(result, ServiceError):
            return error_from(TokenRefreshError, result)
        return _session(TokenRefreshPayload, result)

    @root_mutation(description="End the session of this refresh token.")
    async def logout(self, info: Info, refresh_token: str) -> LogoutResult:
        result = await attempt(lambda: info.context.runtime.identity.logout(refresh_token))
        if isinstance(result, ServiceError):
            return error_from(LogoutError, result)
        return LogoutPayload(ok=True)

    @root_mutation(description="Change your own password; your other sessions end.")
    async def change_password(
        self, info: Info, current_password: str, new_password: str
    ) -> PasswordChangeResult:
        principal = info.context.require_actor().principal
        result = await attempt(
            lambda: user_service.change_password(
                principal.tenant_id,
                principal.subject_id,
                current=current_password,
                new=new_password,
            )
        )
        if isinstance(result, ServiceError):
            return error_from(PasswordChangeError, result)
        return PasswordChangePayload(user=UserType.from_model(result))
