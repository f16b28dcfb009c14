"""The only package that imports PySide6: the controller, item models, views, dialogs and icons of the window.

Imports go one way: ``ui`` → ``accounts`` → ``oauth``/``mcp``. Long work runs as coroutines on the Qt event loop
(qasync); the only async boundary is :class:`desktop_app.ui.controller.Controller`.
"""
