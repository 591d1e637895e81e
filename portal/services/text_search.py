"""Free-text search over the register's "about me" text: one interface, each database's own engine.

SQLite: an FTS5 table kept in step with pa_profiles by triggers (migration 0005), Porter stemming so
"caring" finds "care". PostgreSQL: full-text search on an expression index over the same column.
People's words become plain search terms (every word must match); nothing typed is ever query syntax.
"""

import re

import sqlalchemy as sa

from portal.extensions import db
from portal.models.register import PAProfile

MAX_WORDS = 8
_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # letters and digits: never an operator, quote or underscore
# PostgreSQL's 'english' configuration drops these (the Snowball list); they are dropped here too, for
# both databases, so "the cook" finds the same profiles on each, and a query of only these is no filter.
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can did do does doing don down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own s same she should so some such t than that the their theirs
them themselves then there these they this those through to too under until up very was we were what when where
which while who whom why will with you your yours yourself yourselves
""".split())


def words(text: str | None) -> list[str]:
    """The words searched for: lower case, no punctuation or operators, no stop words, at most MAX_WORDS."""
    found = []
    for word in _WORD.findall((text or "").lower()):
        if word not in STOP_WORDS and word not in found:
            found.append(word)
    return found[:MAX_WORDS]


def about_matches(text: str | None) -> sa.ColumnElement[bool] | None:
    """A condition on PAProfile true when "about me" contains every word, or None for no words."""
    terms = words(text)
    if not terms:
        return None
    if db.engine.dialect.name == "sqlite":
        query = " ".join(f'"{term}"' for term in terms)  # quoted: a word, never an FTS5 operator
        ids = sa.text("SELECT rowid FROM pa_profile_text WHERE pa_profile_text MATCH :fts_query").bindparams(fts_query=query)
        return PAProfile.id.in_(ids.columns(sa.column("rowid", sa.Integer)))
    # The same expression as the index (to_tsvector('english', about)), so PostgreSQL can use it.
    vector = sa.func.to_tsvector(sa.literal_column("'english'::regconfig"), PAProfile.about)
    return vector.op("@@")(sa.func.plainto_tsquery(sa.literal_column("'english'::regconfig"), " ".join(terms)))
