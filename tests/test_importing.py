"""`import_seeds`: files → Post rows, one output line per file, idempotent, never a traceback for bad input.

Runs the command in-process with call_command against the test database, and as a real
`python manage.py import_seeds …` subprocess against a throwaway SQLite file.
"""

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from archive.importing import import_file
from archive.models import Post

BASE_DIR = Path(settings.BASE_DIR)
SEED = BASE_DIR / "seeds" / "000_326f7f888e732a1a.txt"
SAMPLES = Path(__file__).parent / "samples"
SEED_TITLE = "Russia supports both Assad troops and rebels in battle against ISIS – Putin"
SEED_SLUG = "russia-supports-both-assad-troops-and-rebels-in-battle-against-isis-putin"
FIRST_INVALID = (SAMPLES / "invalid_bytes.txt").read_bytes().index(b"\x81")  # the byte the error names

pytestmark = pytest.mark.django_db


def run_import(*paths):
    """call_command('import_seeds', …) → (stdout lines, stderr lines, failed?)."""
    out, err = StringIO(), StringIO()
    failed = False
    try:
        call_command("import_seeds", *[str(p) for p in paths], stdout=out, stderr=err, no_color=True)
    except CommandError as exc:
        failed = True
        err.write(f"CommandError: {exc}\n")
    return out.getvalue().splitlines(), err.getvalue().splitlines(), failed


def rows():
    """Every Post row, every column, bytes as bytes: what 'changes nothing' is checked against."""
    result = []
    for row in Post.objects.order_by("pk").values():
        row["original"] = bytes(row["original"])
        result.append(row)
    return result


def write(directory, name, data):
    path = Path(directory) / name
    path.write_bytes(data)
    return path


# --- the real seed --------------------------------------------------------------------------------------


def test_seed_becomes_one_post_with_everything_kept():
    out, err, failed = run_import(SEED)
    assert (out, err, failed) == ([f"{SEED.name}: created"], [], False)
    post = Post.objects.get()
    raw = SEED.read_bytes()
    assert post.title == SEED_TITLE
    assert post.slug == SEED_SLUG
    assert post.source_name == SEED.name
    assert bytes(post.original) == raw
    assert post.sha256 == hashlib.sha256(raw).hexdigest()
    assert post.encoding == "utf-8"
    assert post.chrome == [
        "Source Article from",
        "You can leave a response, or trackback from your own site.",
        "Leave a Reply",
        "Powered by WordPress | Designed by: Premium WordPress Themes | Thanks to Themes Gallery, Bromoney "
        "and Wordpress Themes",
    ]
    assert "Powered by" not in post.body and "Leave a Reply" not in post.body
    assert post.body.startswith("“We support both") and post.body.endswith("national interests from outset – Putin")
    assert post.comments_open and post.pings_open


def test_no_paths_imports_every_seed_in_seeds_dir():
    out, err, failed = run_import()
    names = sorted(p.name for p in (BASE_DIR / "seeds").glob("*.txt"))
    assert out == [f"{name}: created" for name in names]
    assert (err, failed) == ([], False)
    assert sorted(Post.objects.values_list("source_name", flat=True)) == names


# --- idempotency ----------------------------------------------------------------------------------------


def test_second_run_creates_nothing_and_changes_nothing():
    paths = [SEED, SAMPLES / "bom.txt", SAMPLES / "cp1252.txt", SAMPLES / "same_title_a.txt"]
    first_out, _, _ = run_import(*paths)
    assert [line.split(": ")[1] for line in first_out] == ["created"] * 4
    before = rows()
    out, err, failed = run_import(*paths)
    assert out == [f"{p.name}: unchanged" for p in paths]
    assert (err, failed) == ([], False)
    assert rows() == before


def test_same_title_gets_a_wordpress_style_suffix():
    out, _, failed = run_import(SAMPLES / "same_title_a.txt", SAMPLES / "same_title_b.txt")
    assert not failed
    assert out == ["same_title_a.txt: created", "same_title_b.txt: created"]
    slugs = dict(Post.objects.values_list("source_name", "slug"))
    assert slugs == {"same_title_a.txt": "two-files-one-title", "same_title_b.txt": "two-files-one-title-2"}
    # a re-run, in the other order, leaves both slugs where they are
    assert run_import(SAMPLES / "same_title_b.txt", SAMPLES / "same_title_a.txt")[0] == [
        "same_title_b.txt: unchanged",
        "same_title_a.txt: unchanged",
    ]
    assert dict(Post.objects.values_list("source_name", "slug")) == slugs


def test_third_file_with_the_same_title_is_dash_3(tmp_path):
    for name in ("a.txt", "b.txt", "c.txt"):
        write(tmp_path, name, f"Same title\n\nBody of {name}.\n".encode())
    run_import(*sorted(tmp_path.iterdir()))
    assert list(Post.objects.order_by("source_name").values_list("slug", flat=True)) == [
        "same-title",
        "same-title-2",
        "same-title-3",
    ]


def test_title_that_would_take_a_site_path_gets_a_suffix(tmp_path):
    run_import(write(tmp_path, "admin.txt", b"Admin\n\nNot the admin site.\n"))
    assert Post.objects.get().slug == "admin-2"


def test_changed_bytes_update_the_post_and_keep_its_slug(tmp_path):
    path = write(tmp_path, "story.txt", b"The first title\n\nFirst text.\n")
    assert run_import(path)[0] == ["story.txt: created"]
    post = Post.objects.get()
    new_raw = b"A retitled story\n\nSecond text.\n"
    path.write_bytes(new_raw)
    out, err, failed = run_import(path)
    assert (out, err, failed) == (["story.txt: updated"], [], False)
    updated = Post.objects.get()
    assert updated.pk == post.pk
    assert updated.slug == "the-first-title"  # a permalink never moves
    assert updated.title == "A retitled story"
    assert updated.body == "Second text."
    assert bytes(updated.original) == new_raw
    assert updated.sha256 == hashlib.sha256(new_raw).hexdigest()
    assert run_import(path)[0] == ["story.txt: unchanged"]


def test_identity_is_the_file_name_not_the_directory(tmp_path):
    a, b = tmp_path / "one", tmp_path / "two"
    a.mkdir()
    b.mkdir()
    shutil.copy(SEED, a / SEED.name)
    shutil.copy(SEED, b / SEED.name)
    assert run_import(a / SEED.name)[0] == [f"{SEED.name}: created"]
    assert run_import(b / SEED.name)[0] == [f"{SEED.name}: unchanged"]
    assert Post.objects.count() == 1


# --- real-world files -----------------------------------------------------------------------------------


def test_bom_and_crlf_are_imported_and_the_bytes_kept():
    paths = [SAMPLES / "bom.txt", SAMPLES / "crlf.txt", SAMPLES / "bom_crlf_no_final_newline.txt"]
    out, err, failed = run_import(*paths)
    assert out == [f"{p.name}: created" for p in paths]
    assert (err, failed) == ([], False)
    for path in paths:
        post = Post.objects.get(source_name=path.name)
        assert bytes(post.original) == path.read_bytes()
        assert "\ufeff" not in post.title and "\r" not in post.title + post.body
    assert Post.objects.get(source_name="bom.txt").encoding == "utf-8-sig"


def test_cp1252_fallback_is_noted_in_the_output():
    out, err, failed = run_import(SAMPLES / "cp1252.txt")
    assert (out, err, failed) == (["cp1252.txt: created: decoded as Windows-1252"], [], False)
    post = Post.objects.get()
    assert post.encoding == "cp1252"
    assert post.title == "Café “quoted” – a Windows-1252 title"


def test_control_characters_are_stripped_noted_and_the_bytes_kept(tmp_path, client):
    raw = "Bell\x07 title\n\nEscape \x1b[1mcodes\x1b[0m and C1 \u0085\u009b here.\n".encode()
    path = write(tmp_path, "controls.txt", raw)
    out, err, failed = run_import(path)
    assert (out, err, failed) == (["controls.txt: created: removed 5 control characters"], [], False)
    post = Post.objects.get()
    assert (post.title, post.body) == ("Bell title", "Escape [1mcodes[0m and C1  here.")
    assert bytes(post.original) == raw
    page = client.get(post.get_absolute_url()).content.decode()
    assert not any(ch in page for ch in "\x07\x1b\x85\x9b")
    assert client.get(post.get_original_url()).content == raw  # served byte for byte all the same
    cp1252 = write(tmp_path, "both.txt", b"Caf\xe9\x01\n\nText.\n")
    assert str(import_file(cp1252)) == "both.txt: created: decoded as Windows-1252; removed 1 control character"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("invalid_bytes.txt", f"is neither UTF-8 nor Windows-1252 text (byte {FIRST_INVALID})"),
        ("mixed_encoding.txt", "mixes UTF-8 with bytes that are not UTF-8 (byte 39): refusing to guess"),
        ("empty.txt", "is empty or blank"),
        ("blank.txt", "is empty or blank"),
    ],
)
def test_bad_file_is_refused_naming_the_file(name, reason):
    out, err, failed = run_import(SAMPLES / name)
    assert failed
    assert out == []
    assert err == [f"{name}: error: {reason}", "CommandError: 1 of 1 file(s) failed"]
    assert not Post.objects.exists()


def test_missing_file_and_directory_are_errors_not_tracebacks(tmp_path):
    out, err, failed = run_import(tmp_path / "nowhere.txt", tmp_path)
    assert failed and out == []
    assert err[0] == "nowhere.txt: error: cannot be read (No such file or directory)"
    assert err[1] == f"{tmp_path.name}: error: cannot be read (Is a directory)"


def test_title_too_long_for_its_column_is_refused(tmp_path):
    path = write(tmp_path, "long.txt", ("x" * 501 + "\n\nBody.\n").encode())
    _, err, failed = run_import(path)
    assert failed
    assert err[0] == "long.txt: error: title is longer than 500 characters"
    assert not Post.objects.exists()


def test_file_name_that_is_not_utf8_is_refused_without_a_traceback(tmp_path):
    bad_name = os.fsdecode(b"bad\xffname.txt")
    try:
        path = write(tmp_path, bad_name, b"Title\n\nBody.\n")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system does not take non-UTF-8 names")
    good = write(tmp_path, "good.txt", b"Good\n\nBody.\n")
    out, err, failed = run_import(path, good)
    assert failed
    assert out == ["good.txt: created"]
    assert err[0] == "bad\ufffdname.txt: error: file name is not valid UTF-8; rename the file"
    assert list(Post.objects.values_list("source_name", flat=True)) == ["good.txt"]


def test_one_bad_file_never_stops_the_others():
    names = [
        "empty.txt",
        "bom.txt",
        "invalid_bytes.txt",
        "cp1252.txt",
        "blank.txt",
        "crlf.txt",
        "mixed_encoding.txt",
        "literal.txt",
    ]
    out, err, failed = run_import(*[SAMPLES / n for n in names])
    assert failed
    good = {"bom.txt", "cp1252.txt", "crlf.txt", "literal.txt"}
    assert [line.split(": ")[0] for line in out] == [n for n in names if n in good]
    assert all(line.split(": ")[1] == "created" for line in out)
    assert [line.split(": ")[0] for line in err[:-1]] == [n for n in names if n not in good]
    assert all(line.split(": ")[1] == "error" for line in err[:-1])
    assert err[-1] == "CommandError: 4 of 8 file(s) failed"
    assert set(Post.objects.values_list("source_name", flat=True)) == good


def test_exactly_one_line_per_file(tmp_path):
    paths = [SAMPLES / "bom.txt", SAMPLES / "empty.txt", SEED]
    out, err, _ = run_import(*paths)
    lines = out + err[:-1]
    assert len(lines) == len(paths)
    for path in paths:
        assert sum(line.startswith(f"{path.name}: ") for line in lines) == 1


# --- the real command, as an operator runs it -----------------------------------------------------------


def manage(db_path, *args):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "CACHE_URL": "locmem://",
        "ARCHIVE_PLAIN_STATIC": "1",
        "DJANGO_SECRET_KEY": "only-for-this-test",
        "DJANGO_SETTINGS_MODULE": "archive.settings",
        "PYTHONIOENCODING": "utf-8",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *map(str, args)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def db_rows(db_path):
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT * FROM archive_post ORDER BY id").fetchall()


def test_command_as_a_subprocess(tmp_path):
    db_path = tmp_path / "archive.sqlite3"
    assert str(db_path).startswith("/")  # sqlite:////tmp/… as the operator writes it
    migrated = manage(db_path, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr

    paths = [SAMPLES / "empty.txt", SEED, SAMPLES / "invalid_bytes.txt", SAMPLES / "cp1252.txt"]
    first = manage(db_path, "import_seeds", *paths)
    assert first.returncode == 1
    assert "Traceback" not in first.stdout + first.stderr
    assert first.stdout.splitlines() == [
        f"{SEED.name}: created",
        "cp1252.txt: created: decoded as Windows-1252",
    ]
    assert first.stderr.splitlines() == [
        "empty.txt: error: is empty or blank",
        f"invalid_bytes.txt: error: is neither UTF-8 nor Windows-1252 text (byte {FIRST_INVALID})",
        "CommandError: 2 of 4 file(s) failed",
    ]
    imported = db_rows(db_path)
    assert len(imported) == 2

    good = [SEED, SAMPLES / "cp1252.txt"]
    second = manage(db_path, "import_seeds", *good)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [f"{SEED.name}: unchanged", "cp1252.txt: unchanged"]
    assert second.stderr == ""
    assert db_rows(db_path) == imported


def test_subprocess_with_nothing_but_bad_input_still_has_no_traceback(tmp_path):
    db_path = tmp_path / "archive.sqlite3"
    assert manage(db_path, "migrate", "--noinput").returncode == 0
    result = manage(db_path, "import_seeds", tmp_path / "missing.txt", SAMPLES / "blank.txt")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "missing.txt: error: cannot be read (No such file or directory)",
        "blank.txt: error: is empty or blank",
        "CommandError: 2 of 2 file(s) failed",
    ]
    assert db_rows(db_path) == []


def test_import_file_result_reads_as_one_line():
    result = import_file(SAMPLES / "cp1252.txt")
    assert str(result) == "cp1252.txt: created: decoded as Windows-1252"
    assert not result.failed
    assert str(import_file(SAMPLES / "cp1252.txt")) == "cp1252.txt: unchanged"
