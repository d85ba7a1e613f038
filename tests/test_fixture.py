"""fixtures/seed_post.json must be exactly what `import_seeds` makes of the seed, so it can never go stale.

If this fails after a change to the parser or the model, regenerate the fixture from a fresh import:
    DATABASE_URL=sqlite:////tmp/fresh.sqlite3 python manage.py migrate
    DATABASE_URL=sqlite:////tmp/fresh.sqlite3 python manage.py import_seeds
    DATABASE_URL=sqlite:////tmp/fresh.sqlite3 python manage.py dumpdata archive.Post --indent 2 \
        > fixtures/seed_post.json
"""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from archive.models import Post

BASE_DIR = Path(settings.BASE_DIR)
FIXTURE = BASE_DIR / "fixtures" / "seed_post.json"
SEED = BASE_DIR / "seeds" / "000_326f7f888e732a1a.txt"
NOT_COMPARED = {"id", "imported_at", "updated_at"}

pytestmark = pytest.mark.django_db


def post_fields(post):
    """Every concrete field of a Post but its key and import time, as plain Python values."""
    values = {}
    for field in Post._meta.concrete_fields:
        if field.attname in NOT_COMPARED:
            continue
        value = getattr(post, field.attname)
        values[field.attname] = bytes(value) if isinstance(value, memoryview) else value
    return values


def test_fixture_compares_every_field_but_two():
    names = {f.attname for f in Post._meta.concrete_fields}
    assert names >= NOT_COMPARED
    assert {"title", "slug", "body", "source_name", "original", "sha256", "encoding", "chrome"} <= names


def test_fixture_holds_the_seed_post_and_nothing_else():
    objects = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert [obj["model"] for obj in objects] == ["archive.post"]
    assert objects[0]["fields"]["source_name"] == SEED.name


def test_fixture_equals_a_fresh_import_of_the_seed():
    call_command("loaddata", str(FIXTURE), stdout=StringIO())
    loaded = post_fields(Post.objects.get())
    Post.objects.all().delete()

    out = StringIO()
    call_command("import_seeds", str(SEED), stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == f"{SEED.name}: created"
    imported = post_fields(Post.objects.get())

    for name in imported:
        assert loaded[name] == imported[name], f"fixture is stale in {name!r}: regenerate it (see module doc)"
    assert loaded == imported
    assert imported["original"] == SEED.read_bytes()


def test_importing_over_the_fixture_changes_nothing():
    call_command("loaddata", str(FIXTURE), stdout=StringIO())
    before = post_fields(Post.objects.get())
    out = StringIO()
    call_command("import_seeds", str(SEED), stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == f"{SEED.name}: unchanged"
    assert Post.objects.count() == 1
    assert post_fields(Post.objects.get()) == before


def test_loaded_fixture_serves_the_article(client):
    call_command("loaddata", str(FIXTURE), stdout=StringIO())
    post = Post.objects.get()
    response = client.get(post.get_absolute_url())
    assert response.status_code == 200
    assert post.title in response.content.decode()
    assert client.get(post.get_original_url()).content == SEED.read_bytes()
