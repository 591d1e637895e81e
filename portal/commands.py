"""Flask CLI commands: demo data, content defaults."""

import click
from flask import Flask, current_app

from portal.services import content, demo


def register_commands(app: Flask) -> None:
    @app.cli.command("demo-data")
    @click.option("--scale", type=int, default=0, help="Also add this many generated recipients (for benchmarks).")
    @click.option("--seed", type=int, default=2026, help="Seed for generated data (same seed, same data).")
    def demo_data(scale: int, seed: int):
        """Create the demo organisations and personas of shared/personas.md (never in production)."""
        if current_app.config["ENV_NAME"] == "production":
            raise click.ClickException("Demo data is never loaded in production.")
        if demo.is_loaded():
            click.echo("The demo personas are already loaded.")
        else:
            demo.load_personas(current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_COST"])
            click.echo("Loaded the demo organisations and personas (password: demo-password-1).")
        if scale:
            made = demo.generate(scale, seed=seed)
            click.echo(f"Generated {made} recipients.")

    @app.cli.command("load-content")
    def load_content():
        """Add any missing default information pages (never overwrites edits)."""
        added = content.ensure_default_pages()
        click.echo(f"Added {added} page(s).")
