"""GraphQL of user accounts: the ``User`` type, the ``users`` list and its mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeVar
from uuid import UUID

import strawberry
from strawberry import relay

from api.graphql.context import Info, RequestContext
from api.graphql.errors import Error, error_from
from api.graphql.fields import root_field, root_mutation
from api.graphql.mutations import attempt
from api.graphql.relay import PAGE_SIZE, node_type, paginated, require_node_id, to_connection
from tenants import repository as repo
from tenants.authorization import Reach, Role
from tenants.errors import ServiceError
from tenants.models import User
from tenants.service import user_service

RoleType = strawberry.enum(Role, name="Role")
T = TypeVar("T")


@strawberry.type(name="User", description="A person who can log in to this organisation.")
class UserType(relay.Node):
    id: relay.NodeID[str]
    email: str
    display_name: str
    roles: list[Role]
    is_active: bool
    last_login_at: datetime | None
    created_at: datetime

    @classmethod
    def from_model(cls, row: User) -> UserType:
        return cls(
            id=str(row.id),
            email=row.email,
            display_name=row.display_name,
            roles=[Role(r) for r in row.roles if r in Role._value2member_map_],
            is_active=row.is_active,
            last_login_at=row.last_login_at,
            created_at=row.created_at,
        )


@node_type("User")
async def load_user(context: RequestContext, node_id: UUID, reach: Reach) -> UserType | None:
    if reach == Reach.SELF and node_id != context.require_actor().principal.subject_id:
        return None
    row = await context.loaders.users.load(node_id)
    return UserType.from_model(row) if row is not None else None


@strawberry.input
class UserFilter:
    search: str | None = strawberry.field(default=None, description="Part of the email or name.")
    role: Role | None = None
    is_active: bool | None = None


@strawberry.input
class UserCreateInput:
    email: str
    display_name: str
    roles: list[Role]
    password: str | None = strawberry.field(
        default=None, description="Initial password; without one the user cannot log in yet."
    )


@strawberry.type
class UserCreatePayload:
    user: UserType


@strawberry.type
class UserCreateError(Error):
    pass


@strawberry.input
class UserUpdateInput:
    id: relay.GlobalID
    display_name: str | None = strawberry.UNSET
    roles: list[Role] | None = strawberry.UNSET
    is_active: bool | None = strawberry.UNSET


@strawberry.type
class UserUpdatePayload:
    user: UserType


@strawberry.type
class UserUpdateError(Error):
    pass


@strawberry.type
class UserDeletePayload:
    deleted_id: relay.GlobalID


@strawberry.type
class UserDeleteError(Error):
    pass


UserCreateResult = Annotated[
    UserCreatePayload | UserCreateError, strawberry.union("UserCreateResult")
]
UserUpdateResult = Annotated[
    UserUpdatePayload | UserUpdateError, strawberry.union("UserUpdateResult")
]
UserDeleteResult = Annotated[
    UserDeletePayload | UserDeleteError, strawberry.union("UserDeleteResult")
]


def _user_id(global_id: relay.GlobalID) -> UUID:
    return require_node_id(global_id, "User", "user", "用户")


def _unset_to_none(value: T | None) -> T | None:
    return None if value is strawberry.UNSET else value


@strawberry.type
class UserQueries:
    @root_field(description="User accounts, by email.")
    async def users(
        self,
        info: Info,
        first: int = PAGE_SIZE,
        after: str | None = None,
        filter: UserFilter | None = None,
    ) -> relay.Connection[UserType]:
        tenant = info.context.tenant_id
        given = filter or UserFilter()
        page = await paginated(
            lambda: repo.list_users(
                tenant,
                first=first,
                after=after,
                search=given.search,
                role=given.role.value if given.role is not None else None,
                active=given.is_active,
            )
        )
        return to_connection(page, UserType.from_model)


@strawberry.type
class UserMutations:
    @root_mutation()
    async def create_user(self, info: Info, input: UserCreateInput) -> UserCreateResult:
        tenant = info.context.tenant_id
        result = await attempt(
            lambda: user_service.create(
                tenant,
                email=input.email,
                display_name=input.display_name,
                roles=[r.value for r in input.roles],
                password=input.password,
            )
        )
        if isinstance(result, ServiceError):
            return error_from(UserCreateError, result)
        return UserCreatePayload(user=UserType.from_model(result))

    @root_mutation()
    async def update_user(self, info: Info, input: UserUpdateInput) -> UserUpdateResult:
        tenant = info.context.tenant_id
        roles = _unset_to_none(input.roles)

        async def update() -> User:
            return await user_service.update(
                tenant,
                _user_id(input.id),
                display_name=_unset_to_none(input.display_name),
                roles=[r.value for r in roles] if roles is not None else None,
                is_active=_unset_to_none(input.is_active),
            )

        result = await attempt(update)
        if isinstance(result, ServiceError):
            return error_from(UserUpdateError, result)
        return UserUpdatePayload(user=UserType.from_model(result))

    @root_mutation()
    async def delete_user(self, info: Info, id: relay.GlobalID) -> UserDeleteResult:
        tenant = info.context.tenant_id
        result = await attempt(lambda: user_service.delete(tenant, _user_id(id)))
        if isinstance(result, ServiceError):
            return error_from(UserDeleteError, result)
        return UserDeletePayload(deleted_id=id)
