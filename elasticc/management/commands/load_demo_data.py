"""`manage.py load_demo_data`: give an empty database something to show.

Loads the real ELAsTiCC2 sample shipped in `demo/snana` (every model
directory; see demo/README.md), or synthetic objects when the folder given
holds none; does nothing when objects are already there, so the run script
can call it every time.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from elasticc.ingest.snana import load_snana_dirs
from elasticc.ingest.synthetic import generate_elasticc_data
from elasticc.management.loader_output import end_loader_command
from elasticc.read.counts import row_count

DEFAULT_SAMPLE_DIR = Path(settings.BASE_DIR) / "demo" / "snana"


class Command(BaseCommand):
    help = (
        "Load demo data into an empty database: the ELAsTiCC2 SNANA sample shipped in demo/snana "
        "(or --sample-dir), else synthetic objects."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sample-dir", type=Path, default=DEFAULT_SAMPLE_DIR, help="SNANA sample directory")
        parser.add_argument(
            "--synthetic-objects", type=int, default=3000, help="objects when generating (default %(default)s)"
        )
        parser.add_argument("--seed", type=int, default=42, help="seed of the synthetic set (default %(default)s)")

    def handle(self, *args, **options):
        existing = row_count("elasticc_diaobject")
        if existing:
            self.stdout.write(f"demo data: not loaded, the database already holds {existing:,} objects")
            return
        sample: Path = options["sample_dir"]
        model_dirs = sorted(p for p in sample.iterdir() if p.is_dir()) if sample.is_dir() else []
        if model_dirs:
            self.stdout.write(f"demo data: loading the ELAsTiCC2 SNANA sample from {sample}")
            report = load_snana_dirs(dirs=model_dirs, progress=True)
        else:
            n = options["synthetic_objects"]
            self.stdout.write(f"demo data: {sample} not found, generating {n:,} synthetic objects")
            report = generate_elasticc_data(n_objects=n, seed=options["seed"], progress=True)
        end_loader_command(self, report)
