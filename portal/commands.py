"""Flask CLI commands: demo data, content defaults, payment runs, alerts, card statement imports, retention."""

from pathlib import Path

import click
from flask import Flask, current_app

from portal.services import card_import, content, demo, payments
from portal.storage import DEFAULT_FOLDER


def register_commands(app: Flask) -> None:
    @app.cli.command("demo-data")
    @click.option("--scale", type=int, default=0, help="Also add this many generated recipients (for benchmarks).")
    @click.option("--seed", type=int, default=2026, help="Seed for generated data (same seed, same data).")
    @click.option("--profiles", type=int, default=None,
                  help="Register profiles to generate with --scale (default 3.5 per recipient: 70,000 for 20,000).")
    @click.option("--councils", type=click.IntRange(0, 400), default=0,
                  help="Generated councils to add before --scale (the national dataset has 150), each with a few postcode districts.")
    @click.option("--transactions-per-cycle", type=click.IntRange(1, 200), default=40,
                  help="Card spends per 4 weeks for each generated recipient (40; the national dataset uses 10).")
    @click.option("--providers", type=click.IntRange(2, 500), default=None,
                  help="About how many DPSS providers in all for --scale (default: as many as cases of 2,000 to 5,000 need).")
    def demo_data(scale: int, seed: int, profiles: int | None, councils: int, transactions_per_cycle: int, providers: int | None):
        """Create the demo organisations and personas of shared/personas.md (never in production)."""
        if current_app.config["ENV_NAME"] == "production":
            raise click.ClickException("Demo data is never loaded in production.")
        if demo.is_loaded():
            click.echo("The demo personas are already loaded.")
        else:
            ids = demo.load_personas(current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_COST"])
            demo.load_money(ids)
            click.echo("Loaded the demo organisations, personas and their money (password: demo-password-1).")
        if councils:
            added = demo.generate_councils(councils)
            click.echo(f"Generated councils: {added} added, {councils} in all, each with its postcode districts and settings.")
        if scale:
            made = demo.generate(scale, seed=seed, money=True, transactions_per_cycle=transactions_per_cycle, providers=providers)
            click.echo(f"Generated {made} recipients with a year of payments and card spending each.")
            from portal.services.demo_register import generate_profiles

            wanted = round(scale * 3.5) if profiles is None else profiles
            listed = generate_profiles(wanted, seed=seed)
            click.echo(f"Generated {listed} PA register profiles across the districts.")

    @app.cli.command("load-content")
    def load_content():
        """Add any missing default information pages (never overwrites edits)."""
        added = content.ensure_default_pages()
        click.echo(f"Added {added} page(s).")

    @app.cli.group("payments")
    def payments_group():
        """The council's 4-weekly payment runs."""

    @payments_group.command("run")
    @click.option("--as-of", "as_of", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Post every payment due on or before this date (YYYY-MM-DD).")
    @click.option("--council-id", type=int, default=None, help="Only this council's budgets (to split the work).")
    def payments_run(as_of, council_id):
        """Post every 4-weekly payment due on or before a date. Safe to run again: nothing is paid twice."""
        report = payments.run(as_of.date(), council_id=council_id)
        click.echo(
            f"Payment run to {report.as_of:%d %B %Y}: {report.budgets} budgets, {report.payments_posted} payments and "
            f"{report.adjustments_posted} adjustments posted, {report.already_paid} already paid, "
            f"{report.contributions_expected} contributions expected, {report.reviews_opened} excess-balance reviews opened "
            f"and {report.reviews_updated} brought up to date."
        )
        for line in report.skipped:
            click.echo(f"Skipped {line}")

    @app.cli.command("send-reminders")
    @click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Send what is due on this day (YYYY-MM-DD; default: today in London).")
    def send_reminders(today):
        """Timesheet deadlines, late timesheets, insurance and employer duties. Safe to run again: nothing is sent twice."""
        from portal.services import reminders
        from portal.services.clock import london_today

        report = reminders.run(today.date() if today else london_today(), current_app.config)
        for line in report.lines():
            click.echo(line)

    @app.cli.command("check-alerts")
    @click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Check as of this day (YYYY-MM-DD; default: today in London).")
    def check_alerts(day):
        """Rule-based alerts (a family member's timesheet without agreement, cash beyond the plan, a balance at zero
        early in a cycle, spending stopped): queue items for the caseworker, never actions. Safe to run again."""
        from portal.services import alert_rules
        from portal.services.clock import london_today

        report = alert_rules.run(day.date() if day else london_today())
        for line in report.lines():
            click.echo(line)

    @app.cli.command("apply-retention")
    @click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Apply the periods as of this day (YYYY-MM-DD; default: today in London).")
    @click.option("--dry-run", is_flag=True, help="Report what would be anonymised and change nothing.")
    def apply_retention(today, dry_run: bool):
        """Anonymise the people whose direct payment ended longer ago than their council keeps records (pay records
        at least 6 years after their tax year). Ledger amounts and the audit trail stay. Safe to run again."""
        from portal.services import retention
        from portal.services.clock import london_today

        report = retention.run(today.date() if today else london_today(), dry_run=dry_run)
        for line in report.lines():
            click.echo(line)

    @app.cli.command("render-payslips")
    @click.argument("run_id", type=int)
    @click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
    def render_payslips(run_id: int, outdir: Path):
        """Write every payslip PDF of an approved pay run into OUTDIR, one at a time (bounded memory), to print or post."""
        from portal.services import payslips

        try:
            written = payslips.render_run(run_id, outdir)
        except payslips.RenderRefused as refusal:
            raise click.ClickException(str(refusal)) from refusal
        click.echo(f"Wrote {written} payslip PDF(s) to {outdir}.")

    @app.cli.command("import-postcodes")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_postcodes(file: Path):
        """Load postcode district centroids from the ONS Postcode Directory (CSV or its zip) for "within N miles"
        search on the PA register. Importing again replaces them."""
        from portal.services import postcodes

        try:
            report = postcodes.import_file(file)
        except postcodes.PostcodeFileError as error:
            raise click.ClickException(str(error)) from error
        for line in report.lines():
            click.echo(line)

    @app.cli.command("import-card-transactions")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--layout", type=click.Choice(sorted(card_import.LAYOUTS)), default="standard", help="A built-in file layout.")
    @click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A JSON column mapping for another provider's layout.")
    def import_card_transactions(file: Path, layout: str, mapping: Path | None):
        """Import a prepaid card statement export. Importing the same file again changes nothing."""
        chosen = card_import.layout_from_mapping(mapping) if mapping else card_import.LAYOUTS[layout]
        report = card_import.import_file(file, chosen)
        for line in report.lines():
            click.echo(line)
        if report.file_error:
            raise SystemExit(1)

    @app.cli.command("backup")
    @click.argument("dest", type=click.Path(path_type=Path))
    @click.option("--tar", is_flag=True, help="Write one .tar file (the default when DEST ends in .tar) instead of a folder.")
    def backup(dest: Path, tar: bool):
        """Back up the database and every evidence file it names to DEST: a new folder or .tar file, or a dated one
        inside DEST when DEST is an existing folder. Safe while the portal runs. Copy the result off-site."""
        from portal.services import backups

        try:
            report = backups.backup(dest, current_app.config["SQLALCHEMY_DATABASE_URI"],
                                    current_app.config.get("EVIDENCE_FOLDER") or DEFAULT_FOLDER, current_app.static_folder, tar=tar)
        except backups.BackupError as error:
            raise click.ClickException(str(error)) from error
        for line in report.lines():
            click.echo(line)

    @app.cli.command("restore")
    @click.argument("backup", type=click.Path(exists=True, path_type=Path))
    @click.option("--force", is_flag=True, help="Replace a database and evidence folder that are not empty.")
    def restore(backup: Path, force: bool):
        """Restore a backup into the configured database and evidence folder (both empty unless --force), then
        check them against the backup's manifest. Stop the portal first."""
        from portal.extensions import db
        from portal.services import backups

        db.engine.dispose()
        try:
            report = backups.restore(backup, current_app.config["SQLALCHEMY_DATABASE_URI"],
                                     current_app.config.get("EVIDENCE_FOLDER") or DEFAULT_FOLDER, force=force)
        except backups.RestoreError as error:
            raise click.ClickException(str(error)) from error
        finally:
            db.engine.dispose()
        for line in report.lines():
            click.echo(line)

    @app.cli.command("remove-orphan-files")
    @click.option("--older-than", type=int, default=3600, show_default=True,
                  help="Only files last written more than this many seconds ago (an upload may still be committing).")
    @click.option("--dry-run", is_flag=True, help="List them and remove nothing.")
    def remove_orphan_files(older_than: int, dry_run: bool):
        """Remove stored files no row names: left by a process killed between storing a file and committing its
        rows (the order that never loses a named file), or by retention stopped before its deletions. Run daily."""
        from portal.services import backups
        from portal.storage import Storage

        storage, named = Storage.from_config(), backups.named_files()
        found = storage.orphans(named, older_than=older_than)
        for path in found:
            click.echo(f"{'would remove' if dry_run else 'removing'} {path.name}")
        if not dry_run:
            storage.remove_orphans(named, older_than=older_than)
        click.echo(f"{len(found)} orphan file{'s' if len(found) != 1 else ''}{' (dry run)' if dry_run else ' removed'}.")
