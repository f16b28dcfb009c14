import httpx
import pytest

from desktop_app.errors import AddressWithoutScheme, ConfigurationError, ProtocolViolation
from desktop_app.oauth.urls import (
    address_with_scheme,
    authorization_server_metadata_urls,
    canonical_resource,
    is_loopback_host,
    origin,
    protected_resource_metadata_urls,
    require_secure,
    validate_browser_url,
)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("HTTPS://Example.COM/mcp", "https://example.com/mcp"),
        ("https://example.com:443/mcp", "https://example.com/mcp"),
        ("http://127.0.0.1:80/mcp", "http://127.0.0.1/mcp"),
        ("https://example.com:8443/mcp", "https://example.com:8443/mcp"),
        ("https://example.com/mcp#frag", "https://example.com/mcp"),
        ("https://example.com", "https://example.com"),  # no trailing slash added
        ("https://example.com/mcp/", "https://example.com/mcp/"),  # nor removed: the path is the server's
        ("https://example.com/Path/MCP", "https://example.com/Path/MCP"),  # path case kept
        ("https://[::1]:8080/mcp", "https://[::1]:8080/mcp"),
        ("https://example.com/mcp?tenant=a", "https://example.com/mcp?tenant=a"),
    ],
)
def test_canonical_resource(given: str, canonical: str) -> None:
    assert canonical_resource(given) == canonical


@pytest.mark.parametrize(
    "bad",
    [
        "example.com/mcp",
        "ftp://example.com/x",
        "https://",
        "https://u:p@example.com/mcp",
        "https://example.com:99999/mcp",
        "javascript:alert(1)",
    ],
)
def test_canonical_resource_refuses_what_is_not_a_server_url(bad: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        canonical_resource(bad)
    assert info.value.code == "malformed_url"
    assert bad.strip()[:10] in info.value.message


def test_protected_resource_metadata_urls_path_first_then_root() -> None:
    assert protected_resource_metadata_urls("https://h.example/public/mcp") == [
        "https://h.example/.well-known/oauth-protected-resource/public/mcp",
        "https://h.example/.well-known/oauth-protected-resource",
    ]
    assert protected_resource_metadata_urls("https://h.example") == [
        "https://h.example/.well-known/oauth-protected-resource"
    ]


def test_authorization_server_metadata_order_with_and_without_path() -> None:
    assert authorization_server_metadata_urls("https://as.example/tenant1") == [
        "https://as.example/.well-known/oauth-authorization-server/tenant1",
        "https://as.example/.well-known/openid-configuration/tenant1",
        "https://as.example/tenant1/.well-known/openid-configuration",
    ]
    assert authorization_server_metadata_urls("https://as.example") == [
        "https://as.example/.well-known/oauth-authorization-server",
        "https://as.example/.well-known/openid-configuration",
    ]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.5.6.7", "::1", "[::1]", "localhost", "LOCALHOST", "a.localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["example.com", "10.0.0.1", "169.254.169.254", "localhost.example.com", "", None])
def test_not_loopback_hosts(host: str | None) -> None:
    assert not is_loopback_host(host)


def test_require_secure() -> None:
    assert require_secure("https://as.example/token", what="x") == "https://as.example/token"
    assert require_secure("http://127.0.0.1:9/token", what="x")
    with pytest.raises(ProtocolViolation) as info:
        require_secure("http://as.example/token", what="token endpoint")
    assert info.value.code == "insecure_url"
    assert "http://as.example/token" in info.value.message
    with pytest.raises(ConfigurationError):
        require_secure("http://as.example/", what="server address", configuration=True)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>x</script>",
        "file:///etc/passwd",
        "vbscript:msgbox",
        "https://as.example/auth?x=1;rm -rf /",
        "https://as.example/auth?$(touch /tmp/x)`id`",
        "http://evil.example/authorize",
        "https://as.example/a\nb",
    ],
)
def test_browser_url_refusals(url: str) -> None:
    with pytest.raises(ProtocolViolation):
        validate_browser_url(url)


def test_browser_url_accepts_https_and_loopback_http() -> None:
    assert validate_browser_url("https://as.example/authorize?a=b%20c&d=e")
    assert validate_browser_url("http://127.0.0.1:5555/authorize?a=b")


def test_white_space_inside_an_address_is_refused_naming_it() -> None:
    for url in ("http://127.0.0.1/ #", "https://ex ample.com/mcp", "https://example.com/m\tcp"):
        with pytest.raises(ConfigurationError) as refused:
            canonical_resource(url)
        assert "white space" in refused.value.message and repr(url) in refused.value.message
    assert canonical_resource("  https://example.com/mcp \n") == "https://example.com/mcp"  # around it is fine


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("https://Bücher.example/mcp", "https://xn--bcher-kva.example/mcp"),
        ("https://straße.example/mcp", "https://xn--strae-oqa.example/mcp"),  # IDNA 2008, as httpx sends it
        ("https://xn--bcher-kva.example/mcp", "https://xn--bcher-kva.example/mcp"),
    ],
)
def test_international_hosts_are_canonical_in_their_idna_form(given: str, canonical: str) -> None:
    assert canonical_resource(given) == canonical
    assert origin(given) == canonical.removesuffix("/mcp")
    assert str(httpx.URL(given).copy_with(path="/mcp")) == canonical  # what goes on the wire


@pytest.mark.parametrize(
    "hostile",
    [
        "https://as.example/token\x1b]8;;https://evil.example\x1b\\",  # OSC 8 hyperlink
        "https://as.example/tok\x1b[2Jen",  # clear screen
        "https://as.example/\u202etoken",  # right-to-left override
        "https://as.example/to\u200bken",  # zero-width space
        "https://as.example/token\x9b",  # C1 CSI
        "https://as.example/token\x00",
        "https://as.example/token\x7f",
    ],
)
def test_urls_with_control_or_invisible_characters_are_refused(hostile: str) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        require_secure(hostile, what="token endpoint")
    assert caught.value.code == "malformed_url"
    assert "control or invisible" in caught.value.message
    with pytest.raises(ConfigurationError):
        canonical_resource(hostile)


def test_an_international_name_without_an_idna_form_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        canonical_resource("https://\u2603.example/mcp")  # a snowman: IDNA 2008 has no form for it
    assert caught.value.code == "malformed_url"


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("mcp.example.com/mcp", "https://mcp.example.com/mcp"),
        (" mcp.example.com ", "https://mcp.example.com"),
        ("localhost:8080/mcp", "https://localhost:8080/mcp"),
        ("127.0.0.1:3000/mcp", "https://127.0.0.1:3000/mcp"),
        ("https://mcp.example.com/mcp", None),  # has its scheme
        ("ftp:mcp.example.com", None),  # a scheme of its own
        ("http:/mcp.example.com", None),
        ("me@mcp.example.com/mcp", None),  # names a user: not what a server's address looks like
        ("mcp.example.com:99999/mcp", None),  # no address even with https://
        ("", None),
    ],
)
def test_an_address_without_its_scheme_is_meant_with_https(text: str, meant: str | None) -> None:
    assert address_with_scheme(text) == meant


def test_a_person_s_address_without_https_is_refused_with_it_a_server_s_is_not() -> None:
    with pytest.raises(AddressWithoutScheme) as refused:
        canonical_resource("mcp.example.com/mcp")
    assert refused.value.code == "malformed_url"
    assert refused.value.suggestion == "https://mcp.example.com/mcp"
    with pytest.raises(ProtocolViolation) as from_a_server:
        require_secure("as.example.com/token", what="token endpoint")
    assert not isinstance(from_a_server.value, AddressWithoutScheme)
