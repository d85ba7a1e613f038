"""/healthz for load balancers, and the deployment check for several servers on a one-machine cache."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from tests.server import Client as HttpClient
from tests.server import Server

pytestmark = pytest.mark.django_db


def test_healthz_answers_200_uncached_and_says_nothing_personal(post):
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-store" in response["Cache-Control"]
    assert not response.cookies
    assert Client().post("/healthz").status_code == 405


def test_healthz_answers_503_when_the_cache_does_not(post, settings):
    # A file cache where no folder can be made: every set fails, as with a Redis that went away.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                                   "LOCATION": "/proc/no-cache-here"}}  # fmt: skip
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.content.startswith(b"cache: ")


@pytest.mark.server
def test_healthz_answers_503_while_the_database_is_gone():
    with Server(workers=1, env={"SQLITE_NO_PERSISTENT": "1"}) as server:  # a new connection per request
        if server.sqlite_path is None:
            pytest.skip("the database is taken away this way on SQLite only")
        assert HttpClient(server.url).get("/healthz").status == 200
        server.sqlite_path.rename(server.sqlite_path.with_suffix(".away"))
        server.sqlite_path.mkdir()  # a folder where the file was: no connection can open it
        answer = HttpClient(server.url).get("/healthz")
        assert answer.status == 503, answer.text
        assert answer.text.startswith("database: ")
        assert "Traceback" not in answer.text


def test_deploy_check_warns_of_several_servers_on_a_local_cache(settings):
    settings.ARCHIVE_SERVERS = 2
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with pytest.raises(SystemCheckError, match=r"archive\.W001"):
        call_command("check", "--deploy", "--fail-level", "WARNING", "--tag", "archive-deploy")


def test_deploy_check_is_quiet_for_one_server_or_a_shared_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}  # fmt: skip
    settings.ARCHIVE_SERVERS = 2
    call_command("check", "--deploy", "--fail-level", "WARNING", "--tag", "archive-deploy")
    settings.ARCHIVE_SERVERS = 1
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    call_command("check", "--deploy", "--fail-level", "WARNING", "--tag", "archive-deploy")
