"""What the browser tests share besides fixtures: the page watcher, the seed's known text, layout probes and
the Nu HTML Checker runner."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

try:  # installed with the test extras; without them the `browser` fixture skips (or fails under CI=true)
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover
    expect = None

from archive import policy
from archive.models import Comment, Post

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"  # git-ignored
README_SCREENSHOT = Path(settings.BASE_DIR) / "static" / "readme" / "article-1280.png"

# The seed article, as a reader sees it (written out here, not computed by the code under test).
TITLE = "Russia supports both Assad troops and rebels in battle against ISIS – Putin"
SUBHEADINGS = [
    "On Russia’s global ambitions: ‘We do not claim the role of a superpower’",
    "On Russia-NATO tension: ‘If we’re not welcome, that’s fine with us’",
]
FIRST_PARAGRAPH = "“We support both the al-Assad’s army and the armed opposition,” Putin said"

LONG_WORD = "Pneumono" + "x" * 292  # 300 characters and no break opportunity
LONG_URL = "https://example.org/" + "/".join(f"segment{n:03d}-without-any-spaces" for n in range(12)) + "?q=" + "z" * 80


# --- Watching a page ------------------------------------------------------------------------------------


@dataclass
class Watch:
    """What went wrong on a page while a test drove it."""

    console_errors: list[tuple[str, str]] = field(default_factory=list)  # (text, url)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    documents: list[tuple[str, int]] = field(default_factory=list)  # (url, status) of every page loaded
    expected_statuses: set[int] = field(default_factory=lambda: {200})
    asserted: bool = False

    def expect_status(self, *statuses: int) -> None:
        """Announce that a document will answer with this status (the 400 of a form error, the 404 page)."""
        self.expected_statuses.update(statuses)

    def problems(self) -> list[str]:
        # Compared without the fragment: the form posts to …#respond, a document's URL never has one.
        excused = {url.split("#")[0] for url, status in self.documents if status in self.expected_statuses}
        console = [
            (text, url)
            for text, url in self.console_errors
            # Chromium logs a document's 4xx as a failed load; the test asserts that status itself.
            if not (text.startswith("Failed to load resource") and url.split("#")[0] in excused)
        ]
        return (
            [f"console error: {text} ({url})" for text, url in console]
            + [f"page error: {text}" for text in self.page_errors]
            + [f"CSP violation: {text}" for text in self.csp_violations]
            + [
                f"unexpected status {status}: {url}"
                for url, status in self.documents
                if status not in self.expected_statuses
            ]
        )

    def assert_clean(self) -> None:
        self.asserted = True
        problems = self.problems()
        assert problems == [], "\n".join(problems)


CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.__archiveCspReport([event.violatedDirective, event.blockedURI, event.sourceFile, event.lineNumber,
                             event.sample].join(" | "));
});
"""


def watch(context, page) -> Watch:
    seen = Watch()

    def on_console(message) -> None:
        if message.type == "error":
            seen.console_errors.append((message.text, message.location.get("url", "")))

    def on_response(response) -> None:
        request = response.request
        if request.is_navigation_request() and request.frame == page.main_frame and not 300 <= response.status < 400:
            seen.documents.append((response.url, response.status))

    def on_issue(event) -> None:
        if event["issue"]["code"] == "ContentSecurityPolicyIssue":
            seen.csp_violations.append(f"(reported by Chromium) {event['issue']['details']}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.page_errors.append(str(error)))
    page.on("response", on_response)
    # JavaScript on: the DOM's own event, as a script of the page would see it.
    page.expose_function("__archiveCspReport", lambda report: seen.csp_violations.append(report))
    page.add_init_script(CSP_LISTENER)
    # JavaScript on or off: Chromium's report of every inline style, script or resource it blocked.
    cdp = context.new_cdp_session(page)
    cdp.on("Audits.issueAdded", on_issue)
    cdp.send("Audits.enable")
    return seen


# --- Data, through the application's own rules ----------------------------------------------------------


@dataclass
class Thread:
    post: Post
    first: Comment
    answer: Comment
    answer_to_answer: Comment
    second: Comment
    long: Comment
    trackback: Comment


def respond(post: Post, parent: Comment | None = None, **fields) -> Comment:
    comment = policy.accept(policy.Candidate(post=post, parent=parent, ip_address="127.0.0.1", **fields))
    assert comment.status == Comment.Status.APPROVED, comment.status
    return comment


def ping(server_url: str, post: Post, **fields: str) -> Comment:
    """A TrackBack ping sent over HTTP to the post's ping URL, as another blog sends it."""
    body = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(server_url + post.get_trackback_url(), data=body, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
    with urllib.request.urlopen(request, timeout=30) as answer:  # the live server, on loopback
        xml = answer.read().decode()
    assert "<error>0</error>" in xml, xml
    return Comment.objects.get(post=post, kind=Comment.Kind.TRACKBACK, author_url=fields["url"])


def make_thread(post: Post, server_url: str) -> Thread:
    """Replies three deep, a second thread, a reply with a 300-character word and a very long URL (stored by
    archive.policy.accept), and a TrackBack sent to the live server's ping URL."""
    first = respond(post, author="Ada", email="ada@example.org", content="The first reply, at the top level.")
    answer = respond(post, first, author="Brian", email="brian@example.org", url="https://brian.example.org/",
                     content="An answer to Ada, with *emphasis* and `code`.")  # fmt: skip
    answer_to_answer = respond(post, answer, author="Ada", email="ada@example.org", content="And Ada answers back.")
    second = respond(post, author="Chloé Ünïcode", email="chloe@example.org", content="A second thread.\n\n> quoted")
    long = respond(post, author="Long Words", email="long@example.org",
                   content=f"{LONG_WORD}\n\nSee <{LONG_URL}>.")  # fmt: skip
    trackback = ping(server_url, post, title="A post about this", url="https://blog.example.net/2015/10/a-post/",
                     excerpt="An excerpt of the post that links here…", blog_name="Some Blog")  # fmt: skip
    return Thread(post, first, answer, answer_to_answer, second, long, trackback)


@dataclass
class MailPages:
    """A held reply and a subscription, and the paths of the pages their mails' links open."""

    held: Comment
    moderate: str  # the approve link's confirmation page
    confirm: str
    unsubscribe: str
    forget: str
    forget_confirm: str


def mail_pages(post: Post) -> MailPages:
    """Through the application's own code (replies published at once, `open_comments`): a reply held for its
    two links, a subscription asked for by a public one, and the signed links their mails would carry."""
    from archive import notify
    from archive.mail import links

    held = policy.accept(policy.Candidate(post=post, author="Held Reader", email="held@example.org",
                                          content="Held for its links: https://a.example/ and https://b.example/",
                                          ip_address="192.0.2.8"))  # fmt: skip
    assert held.status == Comment.Status.PENDING, held.status
    public = respond(post, author="Ann", email="ann@example.org", content="Tell me about replies.")
    subscription = notify.subscribe(public, "replies")

    def path(url: str) -> str:
        return urllib.parse.urlsplit(url).path

    return MailPages(
        held=held,
        moderate=path(links.moderate_url(held, "approve")),
        confirm=path(links.confirm_url(subscription.pk)),
        unsubscribe=path(links.unsubscribe_url(subscription.key)),
        forget="/comments/forget/",
        forget_confirm=path(links.forget_url("ann@example.org")),
    )


# --- The reply form, as a reader uses it ---------------------------------------------------------------


def field(page, name: str):
    """A form field by its accessible name, as assistive technology announces it."""
    return page.get_by_role("textbox", name=name, exact=True)


def fill_reply(page, text: str, name: str = "Reader", email: str = "reader@example.org") -> None:
    field(page, "Comment").fill(text)
    field(page, "Name").fill(name)
    field(page, "Email").fill(email)


def post_comment(page):
    """Click the button the way a reader does, and wait for the page it leads to."""
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Post Comment").click()
    return navigation.value


# --- Probes ---------------------------------------------------------------------------------------------


def overflow(page) -> dict:
    """The scrolling element's widths, and the first few elements that reach past the viewport's right edge."""
    return page.evaluate(
        """() => {
          const root = document.scrollingElement;
          const wide = [...document.querySelectorAll("body *")]
            .filter(el => el.getBoundingClientRect().right > root.clientWidth + 0.5)
            .slice(0, 5)
            .map(el => el.outerHTML.slice(0, 120));
          return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, wide};
        }"""
    )


def luminance(colour: str) -> float:
    """WCAG relative luminance of a CSS rgb()/rgba() colour as getComputedStyle gives it."""
    channels = [float(n) / 255 for n in re.findall(r"[\d.]+", colour)[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted([luminance(foreground), luminance(background)], reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def run_vnu(command: list[str], files: list[Path]) -> list[dict]:
    """Run the Nu HTML Checker once over every file (it is slow to start); its messages, errors and warnings."""
    done = subprocess.run([*command, *map(str, files)], capture_output=True, text=True, timeout=300, check=False)
    # vnu writes its JSON report to stdout with --stdout, and exits 1 when it found errors.
    assert done.stdout.strip(), f"vnu wrote no report (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(done.stdout)["messages"]
