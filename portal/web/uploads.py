"""What every upload page says when the evidence folder cannot take a file (issue 8, "Faults").

Storage.save raises OSError when the folder is full (ENOSPC), read-only (EROFS) or not ours to write
(EACCES), having removed its own temporary file. Each upload view catches it around the save and calls
storage_failed: the transaction is rolled back (no row naming a file that is not there), the fault is
logged for the people who run the portal, and the form is shown again, status 200 like any other answer
to put right, with this message beside the file field and in the error summary, the other answers kept.
"""

import errno

from flask import current_app

from portal.extensions import db

# The evidence folder could not take the file (disk full, read-only, permissions): nothing was stored.
STORAGE_DOWN_MESSAGE = "The file could not be saved just now, so nothing was added. Try again later."


def storage_failed(field, error: OSError) -> None:
    """Undo the request's database changes, log why, and put STORAGE_DOWN_MESSAGE on the file field."""
    db.session.rollback()
    reason = errno.errorcode.get(error.errno or 0, "unknown")
    current_app.logger.error("Upload storage could not save a file (%s): %s", reason, error)
    if STORAGE_DOWN_MESSAGE not in field.errors:
        field.errors = [*field.errors, STORAGE_DOWN_MESSAGE]
