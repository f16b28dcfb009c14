"""Where the app keeps things: the secret stores (keyring, file), the SQLite registry, the data directory,
cross-process locks, and stores that keep nothing (:mod:`desktop_app.storage.memory`).

Implements the ports declared in :mod:`desktop_app.accounts.ports`; Qt-free.
"""
