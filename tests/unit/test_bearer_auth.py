"""BearerAuth: only to its resource, renew once on 401, step up on 403 with a budget."""

import httpx
import pytest

from desktop_app.errors import SignInRequired, StepUpExhausted
from desktop_app.oauth.auth import BearerAuth, applies_to, merge_scopes
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.tokens import TokenSet
from desktop_app.oauth.urls import canonical_resource

RESOURCE = "https://mcp.example/mcp"


def token(n: int, scopes: tuple[str, ...] = ("a",)) -> TokenSet:
    return TokenSet(
        access_token=f"AT{n}",
        issuer="https://as.example",
        client_id="c",
        resource=RESOURCE,
        scopes=scopes,
        obtained_at=0,
        refresh_token="RT",
    )


class Source:
    resource = RESOURCE

    def __init__(self) -> None:
        self.current = token(1)
        self.renewals = 0
        self.step_ups: list[tuple[str, ...]] = []

    async def token(self) -> TokenSet:
        return self.current

    async def renew(self, rejected: TokenSet, challenge: BearerChallenge | None) -> TokenSet:
        self.renewals += 1
        self.current = token(self.current_number() + 1, self.current.scopes)
        return self.current

    async def step_up(self, scopes: tuple[str, ...], challenge: BearerChallenge) -> TokenSet:
        self.step_ups.append(scopes)
        self.current = token(self.current_number() + 1, scopes)
        return self.current

    def current_number(self) -> int:
        return int(self.current.access_token[2:])


def test_applies_only_to_the_resource() -> None:
    assert applies_to(RESOURCE, httpx.URL("https://mcp.example/mcp"))
    assert applies_to(RESOURCE, httpx.URL("https://MCP.example:443/mcp?x=1"))
    assert applies_to(RESOURCE, httpx.URL("https://mcp.example/mcp/sub"))
    assert not applies_to(RESOURCE, httpx.URL("https://mcp.example/mcpx"))
    assert not applies_to(RESOURCE, httpx.URL("https://mcp.example/other"))
    assert not applies_to(RESOURCE, httpx.URL("http://mcp.example/mcp"))
    assert not applies_to(RESOURCE, httpx.URL("https://mcp.example:8443/mcp"))
    assert not applies_to(RESOURCE, httpx.URL("https://evil.example/mcp"))


async def test_header_only_on_the_resource() -> None:
    seen: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request.headers.get("authorization")
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=BearerAuth(Source())) as client:
        await client.post(RESOURCE, json={})
        await client.get("https://evil.example/mcp")
    assert seen == {"mcp.example": "Bearer AT1", "evil.example": None}


async def test_401_renews_once_then_sign_in_required() -> None:
    source = Source()
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["authorization"])
        return httpx.Response(200) if request.headers["authorization"] == "Bearer AT2" else httpx.Response(401)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=BearerAuth(source)) as client:
        response = await client.post(RESOURCE, json={"x": 1})
        assert response.status_code == 200
    assert sent == ["Bearer AT1", "Bearer AT2"]
    assert source.renewals == 1

    always = Source()
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(401)), auth=BearerAuth(always)
    ) as client:
        with pytest.raises(SignInRequired):
            await client.post(RESOURCE, json={})
    assert always.renewals == 1


async def test_403_insufficient_scope_steps_up_with_the_union() -> None:
    source = Source()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer AT1":
            return httpx.Response(403, headers={"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="b"'})
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=BearerAuth(source)) as client:
        assert (await client.post(RESOURCE, json={})).status_code == 200
    assert source.step_ups == [("a", "b")]


async def test_step_up_budget() -> None:
    source = Source()
    challenge = {"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="admin"'}
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(403, headers=challenge)), auth=BearerAuth(source)
    ) as client:
        with pytest.raises(StepUpExhausted) as info:
            await client.post(RESOURCE, json={})
    assert len(source.step_ups) == 3
    assert "admin" in info.value.message


@pytest.mark.parametrize("per_request", [False, True])
async def test_a_budget_per_request_for_an_auth_that_lives_long(per_request: bool) -> None:
    """The bridge keeps one auth for its whole life: each request may step up, however many came before."""
    source = Source()
    granted: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        wanted = request.url.path.rsplit("/", 1)[-1]
        if wanted in source.current.scopes or wanted in granted:
            granted.add(wanted)
            return httpx.Response(200)
        challenge = f'Bearer error="insufficient_scope", scope="{wanted}"'
        return httpx.Response(403, headers={"WWW-Authenticate": challenge})

    auth = BearerAuth(source, per_request=per_request)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=auth) as client:
        outcomes = []
        for scope in ("s1", "s2", "s3", "s4"):
            try:
                outcomes.append((await client.post(f"{RESOURCE}/{scope}", json={})).status_code)
            except StepUpExhausted:
                outcomes.append(0)
    assert outcomes == ([200, 200, 200, 200] if per_request else [200, 200, 200, 0])


async def test_plain_403_is_returned_not_stepped_up() -> None:
    source = Source()
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(403)), auth=BearerAuth(source)
    ) as client:
        assert (await client.post(RESOURCE, json={})).status_code == 403
    assert source.step_ups == []


def test_merge_scopes_keeps_order() -> None:
    assert merge_scopes(("a", "b"), ("b", "c", "a")) == ("a", "b", "c")


async def test_token_follows_a_server_added_by_its_international_name() -> None:
    """Issue 12 item 15: the resource is stored in the IDNA form httpx sends, so the header goes on."""
    resource = canonical_resource("https://Bücher.example/mcp")
    assert resource == "https://xn--bcher-kva.example/mcp"
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200)

    source = Source()
    source.resource = resource  # type: ignore[misc]
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=BearerAuth(source)) as client:
        await client.post("https://bücher.example/mcp", json={})  # the address as the person typed it
        await client.post("https://bucher.example/mcp", json={})  # a look-alike: no token
    assert seen == ["Bearer AT1", None]
