"""Running import_wxr as the operator does, and the hand-made export every WXR test reads."""

from io import StringIO
from pathlib import Path

from django.core.management import CommandError, call_command

BLOG = Path(__file__).parent / "samples" / "wxr" / "blog.xml"  # hand-made after WordPress 6.1's export.php
REAL = Path(__file__).parent / "samples" / "wxr" / "wordpress-peer.xml"  # written by WordPress 6.1.9 itself


def run(command: str, *args: object) -> tuple[list[str], list[str], bool]:
    """call_command(command, …) → (stdout lines, stderr lines, failed?)."""
    out, err = StringIO(), StringIO()
    failed = False
    try:
        call_command(command, *[str(a) for a in args], stdout=out, stderr=err, no_color=True)
    except CommandError as exc:
        failed = True
        err.write(f"CommandError: {exc}\n")
    return out.getvalue().splitlines(), err.getvalue().splitlines(), failed
