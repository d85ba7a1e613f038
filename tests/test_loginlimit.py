"""The admin login's brake (archive/loginlimit.py), through real requests to /admin/login/: a guesser
locks out themselves, not the moderator; one address trying many usernames is stopped; and
`clear_login_failures` lifts a lock."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from archive import loginlimit

PASSWORD = "correct horse battery staple"
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
GUESSER = "198.51.100.7"
MODERATOR = "203.0.113.9"


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("admin", "admin@example.com", PASSWORD)


def attempt(username: str, password: str, ip: str = "192.0.2.1"):
    return Client(REMOTE_ADDR=ip).post("/admin/login/", {"username": username, "password": password})


def lock(username: str, ip: str) -> None:
    for _ in range(settings.ARCHIVE_LOGIN_MAX_FAILURES):
        assert attempt(username, "wrong", ip=ip).status_code == 200


def test_five_failures_then_429_even_with_the_right_password(admin_user):
    lock("admin", "192.0.2.1")
    refused = attempt("admin", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed login attempts" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= settings.ARCHIVE_LOGIN_WINDOW_SECONDS
    assert "_auth_user_id" not in refused.wsgi_request.session


def test_a_guesser_who_knows_the_username_does_not_lock_the_moderator_out(admin_user):
    lock("Admin", GUESSER)
    assert attempt("admin ", PASSWORD, ip=GUESSER).status_code == 429  # the guesser is stopped...
    assert attempt("admin", PASSWORD, ip=MODERATOR).status_code == 302  # ...the moderator gets in
    for n in range(3):  # from many addresses too
        lock("admin", f"198.51.100.{100 + n}")
    assert attempt("admin", PASSWORD, ip=MODERATOR).status_code == 302


def test_a_locked_pair_leaves_other_usernames_from_that_address_alone(admin_user):
    lock("admin", GUESSER)
    assert attempt("someone-else", "wrong", ip=GUESSER).status_code == 200


def test_one_address_trying_many_usernames_is_stopped(admin_user):
    for n in range(settings.ARCHIVE_LOGIN_MAX_FAILURES * loginlimit.ADDRESS_FACTOR):
        assert attempt(f"guess{n}", "wrong", ip="192.0.2.77").status_code == 200
    assert attempt("admin", PASSWORD, ip="192.0.2.77").status_code == 429
    assert attempt("admin", PASSWORD, ip="192.0.2.78").status_code == 302


def test_success_resets_the_count(admin_user):
    for _ in range(settings.ARCHIVE_LOGIN_MAX_FAILURES - 1):
        attempt("admin", "wrong")
    assert attempt("admin", PASSWORD).status_code == 302
    for _ in range(settings.ARCHIVE_LOGIN_MAX_FAILURES - 1):
        assert attempt("admin", "wrong").status_code == 200
    assert attempt("admin", PASSWORD).status_code == 302


def test_the_login_form_still_works(admin_user):
    reader = Client(enforce_csrf_checks=True)
    page = reader.get("/admin/login/?next=/admin/")
    assert page.status_code == 200
    token = TOKEN.search(page.content).group(1).decode()
    response = reader.post("/admin/login/?next=/admin/",
                           {"username": "admin", "password": PASSWORD, "csrfmiddlewaretoken": token})  # fmt: skip
    assert response.status_code == 302
    assert reader.get("/admin/").status_code == 200


def test_the_window_is_fixed_from_the_first_failure(db, settings):
    window = settings.ARCHIVE_LOGIN_WINDOW_SECONDS
    start = 1_000_000.0
    for n in range(settings.ARCHIVE_LOGIN_MAX_FAILURES):
        loginlimit.record_failure("192.0.2.5", "victim", now=start + n * 60)
    assert loginlimit.blocked_for("192.0.2.5", "victim", now=start + 300) == window - 300
    assert loginlimit.blocked_for("192.0.2.5", " VICTIM", now=start + window - 1) == 1
    assert loginlimit.blocked_for("192.0.2.5", "victim", now=start + window) == 0
    assert loginlimit.blocked_for("192.0.2.6", "victim", now=start + 300) == 0  # another address
    assert loginlimit.blocked_for("192.0.2.5", "other", now=start + 300) == 0  # the address's count is below its own


def clear(*args: str) -> str:
    out = StringIO()
    call_command("clear_login_failures", *args, stdout=out)
    return out.getvalue()


def test_clear_login_failures_for_one_pair(admin_user):
    lock("admin", MODERATOR)
    lock("admin", GUESSER)
    assert "'admin' from 203.0.113.9" in clear("--username", "Admin", "--ip", MODERATOR)
    assert attempt("admin", PASSWORD, ip=MODERATOR).status_code == 302
    assert attempt("admin", PASSWORD, ip=GUESSER).status_code == 429  # only that pair


def test_clear_login_failures_for_a_username_from_every_address(admin_user):
    lock("admin", MODERATOR)
    lock("admin", GUESSER)
    lock("other", GUESSER)
    clear("--username", "admin")
    assert attempt("admin", PASSWORD, ip=MODERATOR).status_code == 302
    assert attempt("admin", PASSWORD, ip=GUESSER).status_code == 302
    assert attempt("other", "wrong", ip=GUESSER).status_code == 429


def test_clear_login_failures_for_an_address(admin_user):
    for n in range(settings.ARCHIVE_LOGIN_MAX_FAILURES * loginlimit.ADDRESS_FACTOR):
        attempt(f"guess{n}", "wrong", ip=GUESSER)
    lock("admin", MODERATOR)
    clear("--ip", f"::ffff:{GUESSER}")  # the IPv4 address written the IPv6 way is the same address
    assert attempt("guess0", "wrong", ip=GUESSER).status_code == 200
    assert attempt("admin", PASSWORD, ip=GUESSER).status_code == 302
    assert attempt("admin", PASSWORD, ip=MODERATOR).status_code == 429


def test_clear_login_failures_of_everyone(admin_user):
    lock("admin", MODERATOR)
    lock("admin", GUESSER)
    assert clear() == "Cleared every failure.\n"
    assert attempt("admin", PASSWORD, ip=MODERATOR).status_code == 302
    assert attempt("admin", PASSWORD, ip=GUESSER).status_code == 302


def test_clear_login_failures_refuses_a_malformed_address(db):
    with pytest.raises(CommandError, match="not an IP address"):
        clear("--ip", "192.0.2.300")
