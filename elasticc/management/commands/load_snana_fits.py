"""`manage.py load_snana_fits DIR [DIR ...]`: SNANA model directories into the tables."""

from pathlib import Path

from django.core.management.base import BaseCommand

from elasticc.ingest.snana import load_snana_dirs
from elasticc.management.loader_output import end_loader_command


class Command(BaseCommand):
    help = (
        "Load SNANA HEAD/PHOT FITS pairs and the DUMP truth file of each model directory "
        "(objects, sources, forced sources, alerts, truth). Re-running adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("dirs", nargs="+", type=Path, help="SNANA model directories")
        parser.add_argument("--simversion", default="2023-04-01", help="diaObject simVersion (default %(default)s)")
        parser.add_argument(
            "--zeropoint", type=float, default=31.4, help="zero point of the stored fluxes (default %(default)s)"
        )
        parser.add_argument(
            "--snana-zeropoint",
            type=float,
            default=27.5,
            help="zero point of the files' FLUXCAL (default %(default)s)",
        )
        parser.add_argument(
            "--detect-bit", type=int, default=4096, help="PHOTFLAG bit marking a detection (default %(default)s)"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="model directories loaded at once, one connection each (default %(default)s)",
        )
        parser.add_argument("--dry-run", action="store_true", help="read and check the files, write nothing")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        report = load_snana_dirs(
            dirs=options["dirs"],
            simversion=options["simversion"],
            zeropoint=options["zeropoint"],
            snana_zeropoint=options["snana_zeropoint"],
            detect_bit=options["detect_bit"],
            dry_run=options["dry_run"],
            progress=not options["no_progress"],
            workers=max(1, options["workers"]),
        )
        end_loader_command(self, report)
