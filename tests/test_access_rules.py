"""Every view declares who may use it: @public or @requires(...) from portal.access.

A view without a declaration would be open to anyone by default, so the URL map is walked and any
endpoint whose view function carries no `access_rule` fails the suite.
"""

from flask import Flask

from portal.access import ADMINISTRATOR, public, requires


def views_without_rule(app: Flask) -> list[str]:
    """One instruction per endpoint of the URL map whose view has no declared access rule."""
    problems = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if not getattr(view, "access_rule", None):
            problems.add(
                f"add @public or @requires(...) from portal.access to {rule.endpoint} in {view.__module__} "
                "(under the route decorator, so the registered view carries it)"
            )
    return sorted(problems)


def test_every_view_declares_who_may_use_it(empty_app):
    problems = views_without_rule(empty_app)
    assert not problems, "\n".join(problems)


def test_the_walk_reports_a_view_without_a_rule(empty_app):
    """The check above can fail: a route added with no rule, or with the decorators the wrong way round."""

    @empty_app.get("/undeclared")
    def undeclared():
        return "anyone can see this"

    @requires(ADMINISTRATOR)  # above the route decorator: the undecorated function is what gets registered
    @empty_app.get("/rule-in-the-wrong-place")
    def rule_in_the_wrong_place():
        return "anyone can see this too"

    @empty_app.get("/declared")
    @public
    def declared():
        return "fine"

    problems = views_without_rule(empty_app)

    module = __name__
    assert problems == [
        f"add @public or @requires(...) from portal.access to rule_in_the_wrong_place in {module} "
        "(under the route decorator, so the registered view carries it)",
        f"add @public or @requires(...) from portal.access to undeclared in {module} "
        "(under the route decorator, so the registered view carries it)",
    ]
