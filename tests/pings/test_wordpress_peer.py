"""A real WordPress pings the archive: Debian's WordPress 6.1 on 127.0.0.1:8080, set up by
../shared/peers/wordpress/setup.sh, runs its own pingback() against the production server and a worker.
Skipped (with the reason) where that peer is not installed and running."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.ping_helpers import Worker, wait_until
from tests.server import Client, Server

PEER = Path(__file__).resolve().parents[3] / "shared" / "peers" / "wordpress"
pytestmark = pytest.mark.server


def peer_running() -> bool:
    try:
        with urllib.request.urlopen("http://127.0.0.1:8080/", timeout=3) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.mark.skipif(not (PEER / "send-ping.sh").exists() or not peer_running(),
                    reason="no WordPress peer on 127.0.0.1:8080 (run ../shared/peers/wordpress/setup.sh as root)")
def test_wordpress_sends_a_pingback_that_appears_as_wordpress_shows_it():
    env = {"ARCHIVE_FETCH_ALLOW_PRIVATE": "1", "ARCHIVE_COMMENT_FLOOD_SECONDS": "0",
           "ARCHIVE_COMMENT_MODERATION": "open"}  # fmt: skip
    with Server(workers=1, env=env) as server, Worker(server):
        _, slug = server.first_post()
        target = f"{server.url}/{slug}/"
        sent = subprocess.run(["bash", str(PEER / "send-ping.sh"), "pingback", target], capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip
        assert "RESULT: methodResponse" in sent.stdout, sent.stdout[-2000:] + sent.stderr[-2000:]
        rows = wait_until(lambda: server.query("SELECT author_url, content FROM archive_comment "
                                               "WHERE kind = 'pingback' AND status = 'approved'"),
                          what="the pingback to be verified")  # fmt: skip
        [(source, excerpt)] = rows
        assert source.startswith("http://127.0.0.1:8080/") and excerpt.startswith("[…] ")
        page = Client(server.url).get(f"/{slug}/").text
        assert f'Pingback:</span> <cite class="fn p-name"><a href="{source}"' in page
