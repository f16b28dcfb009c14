"""MCP Connector Manager: connect AI tools to remote MCP servers, with OAuth done exactly right.

Layers (imports go one way only): ``ui`` → ``accounts`` → ``oauth`` / ``mcp`` → nothing of ours.
``oauth``, ``mcp`` and ``cli`` are Qt-free; ``tests/unit/test_layers.py`` proves it.
"""
