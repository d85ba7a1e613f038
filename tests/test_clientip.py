"""The reader's address: X-Forwarded-For counts only from a trusted proxy, read right to left."""

import pytest
from django.test import override_settings

from archive.clientip import client_address


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.5", "", "203.0.113.5"),
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),  # not from a trusted proxy: the header is ignored
        ("127.0.0.1", "198.51.100.1", "198.51.100.1"),
        ("127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client wrote 6.6.6.6 itself
        ("127.0.0.1", "198.51.100.1, 10.0.0.2", "198.51.100.1"),  # a second trusted proxy is skipped
        ("127.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3"),  # every hop trusted: the left-most
        ("127.0.0.1", "garbage, 198.51.100.1", "198.51.100.1"),
        ("127.0.0.1", "198.51.100.1, garbage", "127.0.0.1"),  # nothing left of a garbled hop is vouched for
        ("127.0.0.1", "", "127.0.0.1"),
        ("::ffff:127.0.0.1", "2001:db8::1", "2001:db8::1"),  # an IPv4-mapped peer is judged as IPv4
        ("127.0.0.1", "::ffff:198.51.100.1", "198.51.100.1"),
        ("", "198.51.100.1", None),  # a Unix socket: no address
        ("/run/app.sock", "", None),
    ],
)
@override_settings(ARCHIVE_TRUSTED_PROXIES=["127.0.0.0/8", "10.0.0.0/8"])
def test_client_address(remote, forwarded, expected):
    assert client_address(remote, forwarded) == expected


@override_settings(ARCHIVE_TRUSTED_PROXIES=[])
def test_no_trusted_proxy_by_default_means_the_header_never_counts():
    assert client_address("127.0.0.1", "198.51.100.1") == "127.0.0.1"


@pytest.mark.django_db
@override_settings(ARCHIVE_TRUSTED_PROXIES=["127.0.0.1/32"], ARCHIVE_COMMENT_MODERATION="open")
def test_a_reply_stores_the_forwarded_address(client, post):
    from archive.models import Comment

    response = client.post(
        "/comments/post/",
        {"comment": "Hello", "author": "A", "email": "a@example.com", "comment_post_ID": post.pk},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert response.status_code == 302
    assert Comment.objects.get().ip_address == "198.51.100.7"
