"""`.ci/system-deps.sh` (run by every `make test`) installs Debian packages only when one is missing: on a
machine that has them all it must say nothing and install nothing, however long its font list is."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / ".ci" / "system-deps.sh"
# What the script looks for, so that the test runs it only where it has nothing to install.
COMMANDS = ("chromium", "java", "wrk", "nginx", "redis-server", "fc-list")
POSTGRES = Path("/usr/lib/postgresql/15/bin/postgres")
MANY_FONTS = 1500  # fc-list then writes ~75 KB, more than a pipe holds: a reader that stops early cuts it off


def dejavu_font() -> Path | None:
    if not shutil.which("fc-list"):
        return None
    listed = subprocess.run(["fc-list", ":family=DejaVu Sans", "file"], capture_output=True, text=True).stdout
    files = [Path(line.rstrip().rstrip(":")) for line in listed.splitlines() if line.strip()]
    return files[0] if files else None


def font_config(tmp_path: Path, font: Path) -> Path:
    """The system's fonts plus many more files (links to DejaVu), as on a machine with Chromium's fonts."""
    extra = tmp_path / "fonts"
    extra.mkdir()
    for n in range(MANY_FONTS):
        (extra / f"font-{n}.ttf").symlink_to(font)
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{extra}</dir>\n  <cachedir>{tmp_path / 'cache'}</cachedir>\n</fontconfig>\n"
    )
    return config


def test_nothing_is_installed_when_everything_is_present(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the script installs only as root; as another user it never runs apt-get")
    missing = [name for name in COMMANDS if not shutil.which(name)] + ([] if POSTGRES.exists() else [str(POSTGRES)])
    font = dejavu_font()
    if missing or font is None:
        pytest.skip(f"not everything the script checks is installed ({', '.join(missing) or 'DejaVu fonts'})")
    env = {**os.environ, "FONTCONFIG_FILE": str(font_config(tmp_path, font))}
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)
    assert "Installing" not in done.stdout, done.stdout
    assert "Missing" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
