"""What each connector may do: the person's tool switches, pinned tool definitions and server identity (issue 16).

Qt-free core. ``identity*`` modules: the client side of the server identity and tool attestation extension
(docs/decisions/0026-server-identity.md).
"""
