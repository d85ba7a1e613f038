"""The seed parser on its own: bytes in, title + blocks + chrome out. No database, no HTTP.

The expectations for the real seed are worked out here from the file itself, with a reading that shares no
code with archive/seeds.py, so the parser cannot be checked against its own opinion.
"""

import hashlib
from pathlib import Path

import pytest
from django.conf import settings

from archive import seeds

SEED = Path(settings.BASE_DIR) / "seeds" / "000_326f7f888e732a1a.txt"
SHARED_SEED = Path("/work/shared/seeds") / SEED.name
SEED_SHA256 = "563c106f28aa636d10b083c65c9332e3c2f4c8ec7f0348c0cd20a4c239070121"
SAMPLES = Path(__file__).parent / "samples"

SEED_TITLE = "Russia supports both Assad troops and rebels in battle against ISIS – Putin"
SUBHEADINGS = [
    "On Russia’s global ambitions: ‘We do not claim the role of a superpower’",
    "On Russia-NATO tension: ‘If we’re not welcome, that’s fine with us’",
]
READ_MORE = "READ MORE: World would be more balanced if Russia asserted national interests from outset – Putin"
CHROME = [
    "Source Article from",
    "You can leave a response, or trackback from your own site.",
    "Leave a Reply",
    "Powered by WordPress | Designed by: Premium WordPress Themes | Thanks to Themes Gallery, Bromoney and "
    "Wordpress Themes",
]

# The special lines of tests/samples/literal.txt, each a paragraph of its own, in order.
LITERAL_LINES = [
    "# Not a heading, only a hash.",
    "*Not emphasis*, only stars.",
    "_Not emphasis either_, only underscores.",
    "A <b>tag</b> and a <script>alert(1)</script> stay text.",
    "Fish & chips &amp; an entity stay text.",
    "A [x](y) pair is not a link.",
    "1. Not a numbered list.",
    "- Not a bullet either.",
    "> Not a quotation.",
    "    x = y * 2  # four spaces of indent",
    "---",
    "A back\\slash, two \\\\ of them, and \\*escaped\\* stars.",
]
LITERAL_MULTILINE = (
    "A paragraph of several lines:\n## hash line\n* star line\n2. numbered line\n    indented line\n> quote line"
)


def file_article(path=SEED):
    """(title, [(kind, text), …], [chrome …]) of the real seed, read straight from its bytes."""
    raw = path.read_bytes()
    assert b"\r" not in raw, "this reading assumes LF line endings, as the seed has"
    chunks = [chunk.strip() for chunk in raw.decode("utf-8").split("\n\n") if chunk.strip()]
    title, body = chunks[0], chunks[1:]
    chrome = []
    while body and body[-1] in CHROME:
        chrome.insert(0, body.pop())
    blocks = [("h2" if chunk in SUBHEADINGS else "p", chunk) for chunk in body]
    return title, blocks, chrome


def kinds_and_texts(blocks):
    return [(block.kind, block.text) for block in blocks]


# --- the real seed --------------------------------------------------------------------------------------


def test_seed_file_is_the_archived_one():
    assert hashlib.sha256(SEED.read_bytes()).hexdigest() == SEED_SHA256


@pytest.mark.skipif(not SHARED_SEED.exists(), reason="the shared seed directory is not on this machine")
def test_seed_copy_is_byte_identical_to_the_shared_seed():
    assert SEED.read_bytes() == SHARED_SEED.read_bytes()


def test_seed_title():
    assert seeds.parse(SEED.read_bytes()).title == SEED_TITLE


def test_seed_paragraphs_are_exactly_those_of_the_file_in_order():
    title, expected, _ = file_article()
    parsed = seeds.parse(SEED.read_bytes())
    assert title == SEED_TITLE
    # 28 paragraphs and 2 subheadings between the title and the theme's chrome.
    assert len(expected) == 30
    assert [kind for kind, _ in expected].count("p") == 28
    assert kinds_and_texts(parsed.blocks) == expected
    assert parsed.blocks[0].text.startswith("“We support both the al-Assad’s army")
    assert parsed.blocks[-1].text == READ_MORE


def test_seed_subheadings_become_h2_and_nothing_else_does():
    blocks = seeds.parse(SEED.read_bytes()).blocks
    assert [b.text for b in blocks if b.kind == "h2"] == SUBHEADINGS
    texts = [b.text for b in blocks]
    # each sits between paragraphs, where the file has it
    assert texts.index(SUBHEADINGS[0]) == 13
    assert texts.index(SUBHEADINGS[1]) == 20


def test_read_more_stays_a_paragraph():
    blocks = seeds.parse(SEED.read_bytes()).blocks
    assert ("p", READ_MORE) in kinds_and_texts(blocks)


def test_seed_chrome_is_kept_out_of_the_body_and_kept_as_metadata():
    parsed = seeds.parse(SEED.read_bytes())
    assert parsed.chrome == CHROME
    for line in ("Source Article from", "leave a response", "Leave a Reply", "Powered by", "WordPress"):
        assert line.lower() not in parsed.body.lower()
    assert parsed.body.endswith(READ_MORE)


def test_seed_digest_and_encoding():
    parsed = seeds.parse(SEED.read_bytes())
    assert parsed.sha256 == SEED_SHA256
    assert parsed.encoding == "utf-8"


# --- real-world bytes -----------------------------------------------------------------------------------


def test_samples_hold_the_bytes_they_are_named_for():
    """Guards the committed samples against an editor or a git setting 'fixing' them."""
    bom_crlf = (SAMPLES / "bom_crlf_no_final_newline.txt").read_bytes()
    assert bom_crlf.startswith(b"\xef\xbb\xbf") and b"\r\n" in bom_crlf and not bom_crlf.endswith(b"\n")
    assert (SAMPLES / "bom.txt").read_bytes().startswith(b"\xef\xbb\xbf")
    crlf = (SAMPLES / "crlf.txt").read_bytes()
    assert crlf.count(b"\r\n") == crlf.count(b"\n") > 0
    assert (SAMPLES / "empty.txt").read_bytes() == b""
    assert (SAMPLES / "blank.txt").read_bytes().strip() == b""
    assert (SAMPLES / "blank.txt").read_bytes() != b""
    with pytest.raises(UnicodeDecodeError):
        (SAMPLES / "cp1252.txt").read_bytes().decode("utf-8")
    assert b"\r" not in (SAMPLES / "literal.txt").read_bytes()


def test_utf8_bom_is_not_part_of_the_title():
    parsed = seeds.parse((SAMPLES / "bom.txt").read_bytes())
    assert parsed.title == "A title after a byte order mark"
    assert parsed.encoding == "utf-8-sig"
    assert "\ufeff" not in parsed.title + parsed.body


def test_crlf_line_endings_leave_no_carriage_returns():
    parsed = seeds.parse((SAMPLES / "crlf.txt").read_bytes())
    assert parsed.title == "A title with Windows line endings"
    assert kinds_and_texts(parsed.blocks) == [
        ("p", "First paragraph, first line;\nsame paragraph, second line."),
        ("p", "Second paragraph."),
    ]
    assert "\r" not in parsed.body


def test_bom_crlf_and_no_final_newline_together():
    raw = (SAMPLES / "bom_crlf_no_final_newline.txt").read_bytes()
    parsed = seeds.parse(raw)
    assert parsed.title == "Café – a BOM, CRLF and no final newline"
    assert [b.text for b in parsed.blocks] == ["One paragraph.", "The last line has no line ending."]
    assert parsed.sha256 == hashlib.sha256(raw).hexdigest()


def test_old_mac_line_endings():
    parsed = seeds.parse(b"Title\r\rOne.\rStill one.\r\rTwo.")
    assert parsed.title == "Title"
    assert [b.text for b in parsed.blocks] == ["One.\nStill one.", "Two."]


def test_windows_1252_falls_back_and_says_so():
    parsed = seeds.parse((SAMPLES / "cp1252.txt").read_bytes())
    assert parsed.encoding == "cp1252"
    assert parsed.title == "Café “quoted” – a Windows-1252 title"
    assert parsed.body == "Naïve text in Windows-1252, €5 and ‘single quotes’."


CONTROLS_SEED = "Ti\x01tle\u0085\n\nA \x1b[31mred\x1b[0m word\x7f\x08, a\ttab\x0b and a\x0cform feed.\x9f\n".encode()


def test_control_characters_are_stripped_but_tab_lf_cr_ff_kept():
    parsed = seeds.parse(CONTROLS_SEED)
    assert parsed.title == "Title"
    assert parsed.body == "A [31mred[0m word, a\ttab and a\x0cform feed."
    assert parsed.controls_removed == 8
    assert parsed.sha256 == hashlib.sha256(CONTROLS_SEED).hexdigest()  # the digest is of the bytes as given


def test_a_seed_without_control_characters_removes_none():
    assert seeds.parse((SAMPLES / "crlf.txt").read_bytes()).controls_removed == 0


def test_bytes_that_no_encoding_explains_are_refused():
    with pytest.raises(seeds.SeedError, match="neither UTF-8 nor Windows-1252"):
        seeds.parse((SAMPLES / "invalid_bytes.txt").read_bytes())


def test_utf8_mixed_with_other_bytes_is_refused_not_turned_into_mojibake():
    with pytest.raises(seeds.SeedError, match="mixes UTF-8"):
        seeds.parse((SAMPLES / "mixed_encoding.txt").read_bytes())


def test_bom_followed_by_invalid_utf8_is_refused():
    with pytest.raises(seeds.SeedError, match="BOM"):
        seeds.parse(b"\xef\xbb\xbfTitle\n\ncaf\xe9\n")


def test_nul_bytes_are_refused():
    with pytest.raises(seeds.SeedError, match="NUL"):
        seeds.parse("Title\n\nbody\n".encode("utf-16"))


@pytest.mark.parametrize(
    "raw",
    [b"", b"\xef\xbb\xbf", b"\n\n\n", b"   \n\t\n\r\n    \n", b"\xef\xbb\xbf \r\n \r\n", "\u00a0\n".encode()],
    ids=["empty", "bom-only", "newlines", "blank", "bom-blank-crlf", "nbsp"],
)
def test_empty_and_blank_files_are_refused(raw):
    with pytest.raises(seeds.SeedError, match="empty or blank"):
        seeds.parse(raw)


def test_committed_empty_and_blank_samples_are_refused():
    for name in ("empty.txt", "blank.txt"):
        with pytest.raises(seeds.SeedError, match="empty or blank"):
            seeds.parse((SAMPLES / name).read_bytes())


def test_title_is_the_first_non_empty_line():
    parsed = seeds.parse(b"\n  \n   The title, with spaces around  \n\nBody.\n")
    assert parsed.title == "The title, with spaces around"
    assert [b.text for b in parsed.blocks] == ["Body."]


# --- every character literal ----------------------------------------------------------------------------


def test_literal_lines_are_kept_character_for_character():
    parsed = seeds.parse((SAMPLES / "literal.txt").read_bytes())
    assert parsed.title == "Every character as written"
    texts = [b.text for b in parsed.blocks]
    assert texts == [
        "An opening paragraph, so that what follows sits between paragraphs.",
        *LITERAL_LINES,
        LITERAL_MULTILINE,
        "The last paragraph.",
    ]
    assert parsed.body == "\n\n".join(texts)


def test_an_indented_line_stays_a_paragraph_with_its_indent():
    blocks = seeds.parse((SAMPLES / "literal.txt").read_bytes()).blocks
    indented = [b for b in blocks if b.text.startswith("    x = y")]
    assert indented == [seeds.Block("p", "    x = y * 2  # four spaces of indent")]
    multi = next(b for b in blocks if b.text.startswith("A paragraph of several lines"))
    assert "\n    indented line\n" in multi.text


def test_lone_rule_is_a_paragraph_not_a_heading():
    blocks = seeds.parse(b"T\n\nBefore.\n\n---\n\nAfter.\n").blocks
    assert [(b.kind, b.text) for b in blocks] == [("p", "Before."), ("p", "---"), ("p", "After.")]


# --- subheadings and chrome: where the rules stop -------------------------------------------------------


def test_subheading_needs_paragraphs_on_both_sides():
    blocks = seeds.parse(b"T\n\nA short first line\n\nA sentence.\n\nA short last line\n").blocks
    assert [b.kind for b in blocks] == ["p", "p", "p"]


def test_sentence_endings_and_labels_are_not_subheadings():
    raw = b"T\n\nA.\n\nThis one ends a sentence.\n\nRELATED: a label line\n\nA short line\n\nZ.\n"
    kinds = dict((b.text, b.kind) for b in seeds.parse(raw).blocks)
    assert kinds["This one ends a sentence."] == "p"
    assert kinds["RELATED: a label line"] == "p"
    assert kinds["A short line"] == "h2"


def test_long_line_without_full_stop_is_not_a_subheading():
    long_line = "word " * 40
    blocks = seeds.parse(f"T\n\nA.\n\n{long_line}\n\nZ.\n".encode()).blocks
    assert blocks[1].kind == "p"


def test_chrome_in_the_middle_of_the_article_is_article_text():
    raw = b"T\n\nShe typed:\n\nLeave a Reply\n\nand left.\n\nLeave a Reply\n"
    parsed = seeds.parse(raw)
    assert [b.text for b in parsed.blocks] == ["She typed:", "Leave a Reply", "and left."]
    assert parsed.chrome == ["Leave a Reply"]
