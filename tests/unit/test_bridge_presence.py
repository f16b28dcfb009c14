"""Which bridges run now: a file per bridge, read back only while its process lives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from desktop_app.bridge import presence


def test_a_running_bridge_is_listed_until_it_withdraws(tmp_path: Path) -> None:
    path = presence.announce(tmp_path, server_id=3, account_id=7, started_at=100.0)
    (live,) = presence.live_bridges(tmp_path)
    assert (live.pid, live.server_id, live.account_id, live.started_at) == (os.getpid(), 3, 7, 100.0)
    assert live.launched_by  # the parent process's name (pytest's launcher)
    presence.withdraw(path)
    assert presence.live_bridges(tmp_path) == []


def test_files_of_bridges_that_are_gone_are_ignored_and_removed(tmp_path: Path) -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = int(ended.stdout)
    folder = tmp_path / presence.FOLDER
    folder.mkdir()
    entry = presence.LiveBridge(gone, 1, 2, "claude", 1.0)
    (folder / f"{gone}.json").write_text(json.dumps(asdict(entry)))
    path = presence.announce(tmp_path, server_id=1, account_id=2, started_at=2.0)
    reused = json.loads(path.read_text())
    reused["process_start"] = (
        reused["process_start"] or 0
    ) + 1  # this pid, but another process than the one that wrote
    (folder / "reused.json").write_text(json.dumps(reused))
    (folder / "broken.json").write_text("{")
    assert [b.started_at for b in presence.live_bridges(tmp_path)] == [2.0]
    assert not (folder / f"{gone}.json").exists()
    assert (folder / "broken.json").exists()  # unreadable: left alone, not guessed at
