"""`manage.py generate_elasticc_data --objects N [--seed S]`: synthetic data for scale tests and demos."""

from django.core.management.base import BaseCommand, CommandError

from elasticc.ingest.synthetic import DEFAULT_FIRST_OBJECT_ID, generate_elasticc_data
from elasticc.management.loader_output import end_loader_command


class Command(BaseCommand):
    help = (
        "Generate synthetic ELAsTiCC-like objects, sources, forced sources, alerts and truth "
        "(deterministic per seed; re-running with the same arguments adds nothing)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--objects", type=int, required=True, help="number of objects")
        parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
        parser.add_argument(
            "--first-id",
            type=int,
            default=DEFAULT_FIRST_OBJECT_ID,
            help="first diaObjectId; objects get consecutive ids (default %(default)s)",
        )
        parser.add_argument("--simversion", default="synthetic", help="diaObject simVersion (default %(default)s)")
        parser.add_argument(
            "--ddf-fraction", type=float, default=0.04, help="fraction of deep-drilling objects (default %(default)s)"
        )
        parser.add_argument(
            "--workers", type=int, default=2, help="chunks generated at once, one connection each (default %(default)s)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        try:
            report = generate_elasticc_data(
                n_objects=options["objects"],
                seed=options["seed"],
                first_object_id=options["first_id"],
                simversion=options["simversion"],
                ddf_fraction=options["ddf_fraction"],
                progress=not options["no_progress"],
                workers=max(1, options["workers"]),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        end_loader_command(self, report, unit="chunks")
