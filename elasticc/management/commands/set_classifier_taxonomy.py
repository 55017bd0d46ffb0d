"""Choose the taxonomy a classifier is evaluated in (an admin's decision).

`default` clears the choice, so the default rule applies again (schema
version and classIds of its first messages). The metrics of a classifier are
computed in its taxonomy, so the aggregates are rebuilt (`--no-refresh`
leaves that to the next `refresh_elasticc_metrics --full`).
"""

from django.core.management.base import BaseCommand, CommandError

from elasticc.brokers.classifier_taxonomy import choose_taxonomy, rebuild_metrics
from elasticc.models import BrokerClassifier
from elasticc.taxonomy.taxonomies import LABELS


class Command(BaseCommand):
    help = "Set the taxonomy (elasticc, elasticc2 or default) a classifier's metrics are computed in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("classifierid", type=int)
        parser.add_argument("taxonomy", choices=[*LABELS, "default"])
        parser.add_argument("--no-refresh", action="store_true", help="do not rebuild the metrics aggregates now")

    def handle(self, *args, classifierid: int, taxonomy: str, no_refresh: bool, **options) -> None:
        chosen = None if taxonomy == "default" else taxonomy
        try:
            evaluated = choose_taxonomy(classifierid=classifierid, taxonomy=chosen)
        except BrokerClassifier.DoesNotExist:
            raise CommandError(f"no classifier {classifierid}") from None
        self.stdout.write(f"classifier {classifierid} is evaluated in {LABELS[evaluated]}")
        if not no_refresh:
            result = rebuild_metrics()
            self.stdout.write(
                "another refresh is running; run refresh_elasticc_metrics --full"
                if result.skipped
                else f"metrics rebuilt from {result.messages} messages"
            )
