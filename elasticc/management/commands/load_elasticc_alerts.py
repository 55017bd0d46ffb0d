"""`manage.py load_elasticc_alerts PATH [PATH ...]`: Avro alert files into the tables."""

from pathlib import Path

from django.core.management.base import BaseCommand

from elasticc.avro.versions import DEFAULT_SCHEMA_VERSION, SCHEMA_VERSIONS
from elasticc.ingest.alert_files import load_alert_files
from elasticc.management.loader_output import end_loader_command


class Command(BaseCommand):
    help = (
        "Load ELAsTiCC alerts (schemaless Avro, Avro container files, .gz of either, .tar/.tar.gz "
        "archives of them, or directories of such files) into objects, sources, forced sources and "
        "alerts. Each path loads in one transaction; re-running adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path, help="alert files, archives or directories")
        parser.add_argument(
            "--schema",
            choices=SCHEMA_VERSIONS,
            default=DEFAULT_SCHEMA_VERSION,
            help="schema version of schemaless alerts (default %(default)s)",
        )
        parser.add_argument("--dry-run", action="store_true", help="decode and count, write nothing")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        report = load_alert_files(
            paths=options["paths"],
            schema_version=options["schema"],
            dry_run=options["dry_run"],
            progress=not options["no_progress"],
        )
        end_loader_command(self, report)
