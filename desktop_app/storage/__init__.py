"""Where the app keeps things: the keyring vault, the SQLite registry, the data directory, cross-process locks.

Implements the ports declared in :mod:`desktop_app.accounts.ports`; Qt-free.
"""
