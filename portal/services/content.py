"""Information and advice pages: defaults shipped in portal/data/content, edited by administrators.

The body is plain text with a tiny markup, turned into blocks here and into HTML by a template
(never rendered as raw HTML): a blank line separates paragraphs, "## " starts a heading, "- " a bullet.
"""

from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from portal.extensions import db
from portal.models import ContentPage
from portal.services.clock import utcnow

CONTENT_DIR = Path(__file__).resolve().parent.parent / "data" / "content"
# Pages shown outside the information index.
STANDALONE = {"accessibility", "privacy"}


@dataclass
class Block:
    kind: str  # "heading", "paragraph" or "list"
    text: str = ""
    items: list[str] = field(default_factory=list)


def parse_body(body: str) -> list[Block]:
    blocks: list[Block] = []
    for chunk in body.replace("\r\n", "\n").split("\n\n"):
        lines = [line.strip() for line in chunk.strip().split("\n") if line.strip()]
        if not lines:
            continue
        if lines[0].startswith("## ") and len(lines) == 1:
            blocks.append(Block("heading", lines[0][3:].strip()))
        elif all(line.startswith("- ") for line in lines):
            blocks.append(Block("list", items=[line[2:].strip() for line in lines]))
        else:
            if lines[0].startswith("## "):
                blocks.append(Block("heading", lines[0][3:].strip()))
                lines = lines[1:]
            blocks.append(Block("paragraph", " ".join(lines)))
    return blocks


def _read_default(path: Path) -> dict:
    """A default page file: 'title:', 'summary:' and 'position:' lines, a blank line, then the body."""
    head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    meta = dict(line.split(":", 1) for line in head.splitlines() if ":" in line)
    return {
        "slug": path.stem,
        "title": meta["title"].strip(),
        "summary": meta.get("summary", "").strip(),
        "position": int(meta.get("position", "0")),
        "body": body.strip(),
    }


def ensure_default_pages() -> int:
    """Add any default page that is missing; never overwrite an administrator's edits."""
    existing = set(db.session.scalars(sa.select(ContentPage.slug)))
    added = 0
    for path in sorted(CONTENT_DIR.glob("*.txt")):
        page = _read_default(path)
        if page["slug"] not in existing:
            db.session.add(ContentPage(**page))
            added += 1
    db.session.commit()
    return added


def guide_pages() -> list[ContentPage]:
    return list(
        db.session.scalars(
            sa.select(ContentPage).where(ContentPage.slug.not_in(STANDALONE)).order_by(ContentPage.position)
        )
    )


def page(slug: str) -> ContentPage | None:
    return db.session.scalar(sa.select(ContentPage).where(ContentPage.slug == slug))


def update(page: ContentPage, title: str, summary: str, body: str, editor_id: int) -> None:
    page.title, page.summary, page.body = title.strip(), summary.strip(), body.strip()
    page.updated_at = utcnow()
    page.updated_by_id = editor_id
