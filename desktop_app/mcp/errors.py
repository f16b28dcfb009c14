"""The MCP client's own corners of the app's error tree (``desktop_app.errors``).

::

    ConnectorError
     ├── RequestFailed
     │    └── McpRpcError              the server answered with a JSON-RPC error object
     ├── UserActionRequired
     │    ├── SignInRequired
     │    │    └── McpSignInRequired        401 that the auth could not fix
     │    └── McpForbidden                  403: code insufficient_scope or forbidden
     └── ProtocolViolation
          └── McpProtocolError              malformed JSON-RPC, wrong content type, id mismatch, too large ...
               └── UnsupportedProtocolVersion   no protocol version both sides speak

Network failures are ``NetworkError``; 5xx and 429 are ``ServerUnavailable`` (both from the shared tree).
The 401/403 errors carry the ``WWW-Authenticate`` value so the caller can read its challenge; no error ever
carries an ``Authorization`` header or a token.
"""

from __future__ import annotations

from desktop_app.error_codes import Code
from desktop_app.errors import ProtocolViolation, RequestFailed, SignInRequired, UserActionRequired, one_line

#: JSON-RPC 2.0 and MCP error codes → the machine-readable ``code`` of an :class:`McpRpcError`.
RPC_CODE_NAMES: dict[int, Code] = {
    -32700: "parse_error",
    -32600: "invalid_request",
    -32601: "method_not_found",
    -32602: "invalid_params",
    -32603: "internal_error",
    -32020: "header_mismatch",
    -32021: "missing_client_capability",
    -32022: "unsupported_protocol_version",
}


class McpRpcError(RequestFailed):
    """The MCP server answered a request with a JSON-RPC error object.

    ``rpc_code`` is the JSON-RPC code, ``rpc_message`` the server's message reduced to one printable line.
    """

    def __init__(self, rpc_code: int, rpc_message: str, *, method: str, url: str) -> None:
        self.rpc_code = rpc_code
        self.rpc_message = one_line(rpc_message)
        self.method = method
        detail = f": {self.rpc_message}" if self.rpc_message else ""
        super().__init__(
            RPC_CODE_NAMES.get(rpc_code, "rpc_error"),
            f"{url} answered {one_line(method, 60)} with JSON-RPC error {rpc_code}{detail}",
            url=url,
        )


class McpSignInRequired(SignInRequired):
    """HTTP 401 from the MCP endpoint even after the auth had its turn."""

    def __init__(self, message: str, *, url: str, www_authenticate: str | None) -> None:
        super().__init__("sign_in_required", message, url=url, hint="Sign in to this server again.")
        self.www_authenticate = www_authenticate


class McpForbidden(UserActionRequired):
    """HTTP 403 from the MCP endpoint: ``insufficient_scope`` when the challenge says so, else ``forbidden``."""

    def __init__(self, code: Code, message: str, *, url: str, www_authenticate: str | None) -> None:
        super().__init__(code, message, url=url)
        self.www_authenticate = www_authenticate


class McpProtocolError(ProtocolViolation):
    """The MCP server broke the transport or JSON-RPC rules (the ``code`` says which)."""


class UnsupportedProtocolVersion(McpProtocolError):
    """The server and this app share no MCP protocol version.

    ``version`` is what the server chose or asked for (if it named one), ``supported`` what it says it supports.
    """

    def __init__(self, message: str, *, url: str, version: str | None = None, supported: tuple[str, ...] = ()) -> None:
        super().__init__(
            "unsupported_protocol_version",
            message,
            url=url,
            hint="The server speaks an MCP version this app does not; check for an update of either side.",
        )
        self.version = version
        self.supported = supported
