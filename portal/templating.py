"""A strict Undefined for the portal's own templates only.

A typo in one of our templates fails loudly (and so fails the tests), while the GOV.UK Frontend
macros, which rely on missing parameters being falsy, keep working (the idea of Notify's
NotifyJinjaUndefined).
"""

import sys

from jinja2 import StrictUndefined, Undefined

LENIENT_PACKAGES = ("govuk_frontend_jinja", "govuk_frontend_wtf")


def _called_from_lenient_template() -> bool:
    frame = sys._getframe(2)
    for _ in range(6):
        if frame is None:
            return False
        filename = frame.f_code.co_filename
        if any(package in filename for package in LENIENT_PACKAGES):
            return True
        if filename.endswith(".html"):
            return False
        frame = frame.f_back
    return False


class PortalUndefined(StrictUndefined):
    __slots__ = ()

    def __bool__(self):
        if _called_from_lenient_template():
            return False
        return super().__bool__()

    def __str__(self):
        if _called_from_lenient_template():
            return ""
        return super().__str__()

    def __iter__(self):
        if _called_from_lenient_template():
            return iter(())
        return super().__iter__()

    def __len__(self):
        if _called_from_lenient_template():
            return 0
        return super().__len__()

    def __eq__(self, other):
        if _called_from_lenient_template():
            return Undefined.__eq__(self, other)
        return super().__eq__(other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = Undefined.__hash__
