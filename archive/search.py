"""`?s=`, WordPress's search parameter, over titles and text. PostgreSQL: its full-text search
(websearch syntax, the "simple" configuration: no language is assumed, titles rank above text). Other
databases (SQLite): every word must appear in the title or the text (icontains; SQLite folds case for ASCII
letters only), as WordPress's own LIKE search does. No FTS5 table: a trigger-fed index would be lost
silently the next time a migration rebuilds the post table on SQLite."""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F, Q, QuerySet

MAX_QUERY = 200
MAX_WORDS = 10
NEWEST_FIRST = (F("published_at").desc(nulls_last=True), F("imported_at").desc(), F("id").desc())


def search_terms(raw: str) -> str:
    """What the reader typed, cut to a size that costs little to look for."""
    return " ".join(raw.split()[:MAX_WORDS])[:MAX_QUERY]


def matching(posts: QuerySet, terms: str) -> QuerySet:
    """The posts that match, best first on PostgreSQL and newest first elsewhere."""
    if connection.vendor == "postgresql":
        vector = SearchVector("title", weight="A", config="simple") + SearchVector("body", weight="B", config="simple")
        query = SearchQuery(terms, search_type="websearch", config="simple")
        found = posts.annotate(document=vector).filter(document=query)  # tsvector @@ tsquery
        return found.annotate(rank=SearchRank(vector, query)).order_by("-rank", *NEWEST_FIRST)
    for word in terms.split():
        posts = posts.filter(Q(title__icontains=word) | Q(body__icontains=word))
    return posts.order_by(*NEWEST_FIRST)
