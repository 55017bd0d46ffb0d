"""How every loader command ends: each failure named on stderr, one summary
line on stdout, and a non-zero exit when anything failed (the rest loaded)."""

from django.core.management.base import BaseCommand, CommandError

from elasticc.ingest.bulk_copy import LoadReport


def end_loader_command(command: BaseCommand, report: LoadReport, *, unit: str = "files") -> None:
    for name, reason in report.files_failed:
        command.stderr.write(f"FAILED {name}: {reason}")
    command.stdout.write(report.summary(unit=unit))
    if report.files_failed:
        raise CommandError(f"{len(report.files_failed)} of the {unit} failed to load")
