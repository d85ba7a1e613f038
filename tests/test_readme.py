"""The README is the operator's manual: what it says about settings must be what the code does."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings

README = Path(settings.BASE_DIR) / "README.md"
TABLE_ROW = re.compile(r"^\|(?P<names>[^|]*)\|(?P<defaults>[^|]*)\|", re.MULTILINE)
NAME = re.compile(r"`([A-Z][A-Z0-9_]+)`")
KILOBYTES = re.compile(r"(\d+)\s*KB")


def documented_defaults() -> dict[str, str]:
    """Each variable of the README's tables with the default written beside it; a row naming several
    variables gives each the matching item of its comma-separated defaults."""
    found = {}
    for row in TABLE_ROW.finditer(README.read_text(encoding="utf-8")):
        names = NAME.findall(row["names"])
        defaults = [item.strip() for item in row["defaults"].split(",")]
        if len(names) > 1 and len(defaults) == len(names):
            found.update(zip(names, defaults, strict=True))
        else:
            found.update((name, row["defaults"].strip()) for name in names)
    return found


@pytest.mark.parametrize("name", ["ARCHIVE_MAX_FORM_BYTES", "ARCHIVE_MAX_TRACKBACK_BYTES"])
def test_readme_states_the_size_limits_the_code_applies(name: str) -> None:
    if os.environ.get(name):
        pytest.skip(f"{name} is set in this environment, so the setting is not the default")
    written = KILOBYTES.fullmatch(documented_defaults()[name])
    assert written, f"README gives {name} no default in KB"
    assert int(written.group(1)) * 1024 == getattr(settings, name), f"README's default of {name} is not the code's"


SETTINGS = Path(settings.BASE_DIR) / "archive" / "settings.py"
READ_FROM_ENVIRONMENT = re.compile(r"""(?:\benv_\w+|os\.environ\.get)\(\s*["']([A-Z][A-Z0-9_]*)["']""")


def test_every_variable_the_settings_read_is_in_the_readme() -> None:
    names = set(READ_FROM_ENVIRONMENT.findall(SETTINGS.read_text(encoding="utf-8")))
    assert len(names) > 20, "the pattern no longer finds the settings' variables"
    documented = set(NAME.findall(README.read_text(encoding="utf-8")))
    assert sorted(names - documented) == [], "variables archive/settings.py reads that README.md does not name"
