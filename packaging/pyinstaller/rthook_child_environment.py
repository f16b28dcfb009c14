"""PyInstaller runtime hook: the programs the app starts get the environment it was started with.

On Linux the bootloader puts the bundle's folder first in ``LD_LIBRARY_PATH`` (the original, if any, saved in
``LD_LIBRARY_PATH_ORIG``). The dynamic loader read it when this process started, so undoing it here changes nothing
for the app itself; but every program the app starts would inherit it and load the bundle's Qt, ICU or Python
instead of its own: the browser a sign-in opens (``xdg-open`` → a Qt or GTK browser), a ``BROWSER`` command. The
app's own processes (the renewal worker, the tray started by a bridge) are the bundle's executable again, whose
bootloader sets it anew. PyInstaller's documentation recommends exactly this ("LD_LIBRARY_PATH / LIBPATH
considerations", runtime-information.html).
"""

import os
import sys

if sys.platform.startswith("linux"):
    _original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if _original is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = _original
