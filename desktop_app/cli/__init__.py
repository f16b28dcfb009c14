"""The command line, Qt-free: it never imports the window (``desktop_app.app``, ``desktop_app.ui``).

- ``parser``: the words (argparse); ``arguments``: what the commands make of them.
- ``output``: where text goes, exit codes, how an error is reported; ``console``: the conversation (approving a
  pairing, questions, the sign-in link); ``text`` and ``pairing_text``: the wording of what servers chose.
- ``profile``: the profile, opened for a command and closed after it.
- ``quick``: what is answered without the engine (help, a fresh token); ``main``: the rest, on an event loop;
  ``commands``: the commands by theme (servers, accounts, tools, connect, diagnostics).
"""
