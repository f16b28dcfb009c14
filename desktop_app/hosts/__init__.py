"""Connectors in MCP hosts (Qt-free): the hosts and where they keep their servers (``catalog``), what an entry holds
(``entries``), format editors that change one entry and keep every other byte (``jsonc``/``json_edit``,
``toml_edit``, ``yaml_edit``, through ``documents``), atomic writes with a backup (``files``), and install,
uninstall and survey (``installer``). Errors: ``errors``. Decision record: docs/decisions/0021-host-configs.md."""
