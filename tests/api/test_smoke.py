from __future__ import annotations

from api.runtime import AppRuntime
from tests.factories import create_tenant, create_user, user_token
from tests.support.graphql import GraphQLClient


async def test_viewer_of_a_logged_in_user(gql: GraphQLClient, runtime: AppRuntime) -> None:
    tenant = await create_tenant()
    user = await create_user(tenant, roles=("admin",))
    response = await gql(
        "{ viewer { kind user { email } } }", token=user_token(runtime.tokens, user)
    )
    assert response.ok() == {"viewer": {"kind": "USER", "user": {"email": user.email}}}
