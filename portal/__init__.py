"""The Direct Payments Portal: a Flask application built by create_app()."""

import logging
from pathlib import Path

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.config import ROOT, config_from_environment
from portal.extensions import csrf, db, login_manager, migrate
from portal.templating import PortalUndefined


def create_app(config: dict | type | None = None) -> Flask:
    """Build the app. With no argument the configuration comes from the environment (PORTAL_ENV)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_object(config_from_environment())
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)

    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(app.template_folder),
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    # A typo in a template fails loudly (and so fails the tests) instead of rendering nothing.
    app.jinja_env.undefined = PortalUndefined
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    if app.config.get("TRUST_PROXY_HOPS"):
        hops = app.config["TRUST_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    from portal import security, web
    from portal.commands import register_commands

    # Security first: its before_request (CSP nonce, request id) must run before the CSRF check,
    # so even the page refusing a form without its token carries them.
    security.init_app(app)
    _init_database(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    web.init_app(app)
    register_commands(app)

    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO)
    return app


def _init_database(app: Flask) -> None:
    from sqlalchemy.exc import DBAPIError

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    # This app's own copy: the default is a dict on the Config class, which every app would share, so
    # one app's PostgreSQL options would reach the next app's SQLite connections.
    given = app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**given, "connect_args": dict(given.get("connect_args") or {})}
    if url.startswith("sqlite"):
        # Make sure the folder for the database file exists (instance/ on a fresh clone).
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:" and not url.startswith("sqlite:///:memory:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"].setdefault("timeout", 15)
    elif url.startswith("postgresql"):
        # The data is on SSD or in memory: PostgreSQL's default random_page_cost (4) made it choose
        # parallel sequential scans over the work queues' indexes (8 ms with 1.1, over 100 ms without).
        # No parallel workers for a web request: starting them cost 10 to 15 ms a query on Lee's
        # organisation queue at national scale (each a few ms of work), and under load they take the
        # cores other requests need.
        options["connect_args"].setdefault("options", "-c random_page_cost=1.1 -c max_parallel_workers_per_gather=0")
        # A restarted server (or anything else that dropped the pool's connections) is noticed at checkout
        # by a cheap ping, and the dead connection replaced, instead of failing the request that drew it.
        options.setdefault("pool_pre_ping", True)
    db.init_app(app)

    @app.teardown_appcontext
    def _release_session(_error):
        # Runs before Flask-SQLAlchemy's own removal (teardowns run last registered first). When the server
        # has just dropped the connection (a restart), the ROLLBACK that ends the request fails after the
        # page was made, and the person would get the server's bare 500: the dead connection is let go here
        # (SQLAlchemy has invalidated it, and the pool replaces it).
        try:
            db.session.remove()
        except DBAPIError as error:
            app.logger.warning("Database connection lost at the end of a request: %s", str(error.orig or error).strip()[:300])
            db.session.registry.clear()

    if url.startswith("sqlite"):
        with app.app_context():
            from portal.sqlite import configure_sqlite

            configure_sqlite(db.engine, app)
