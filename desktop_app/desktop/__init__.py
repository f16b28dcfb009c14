"""The app on a freedesktop desktop: its menu entry, AppStream metainfo and icons, written by ``desktop install`` (into
``$XDG_DATA_HOME``) and by the packaging (``packaging/linux/stage.py``) from the same code (docs/decisions/0022).

Qt-free, except :mod:`desktop_app.desktop.icons`, which renders the PNG icons and is imported only to do so.
"""
