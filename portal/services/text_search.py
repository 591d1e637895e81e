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
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str | None) -> list[str]:
    return [w.lower() for w in _WORD.findall(text or "")][:MAX_WORDS]


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
