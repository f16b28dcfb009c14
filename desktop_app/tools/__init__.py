"""Tool control: the person decides what each connector (one account of one server) may do.

Qt-free core (docs/decisions/0025-tool-control.md): :mod:`~desktop_app.tools.canonical` (a tool definition's pinned
form and its RFC 8785 bytes), :mod:`~desktop_app.tools.model` (records, settings, the identity check's verdict),
:mod:`~desktop_app.tools.policy` (the rules: trust on first use, changes and new tools held, approvals, switches),
:mod:`~desktop_app.tools.ports` (what storage provides), :mod:`~desktop_app.tools.gate` (what the bridge asks),
:mod:`~desktop_app.tools.control` (what the window and the command line ask) and :mod:`~desktop_app.tools.diff` (a
change as old and new text).
"""
