"""An admin's choice of the taxonomy a classifier is evaluated in."""

from django.db import transaction

from elasticc.metrics.refresh import RefreshResult, refresh_metrics
from elasticc.models import BrokerClassifier


def choose_taxonomy(*, classifierid: int, taxonomy: str | None) -> str:
    """Set (or, with None, clear) the chosen taxonomy of a classifier; returns
    the taxonomy it is now evaluated in. Raises BrokerClassifier.DoesNotExist."""
    with transaction.atomic():
        if not BrokerClassifier.objects.filter(classifierid=classifierid).update(taxonomy=taxonomy):
            raise BrokerClassifier.DoesNotExist(f"no classifier {classifierid}")
        return BrokerClassifier.objects.get(classifierid=classifierid).evaluatedtaxonomy


def rebuild_metrics() -> RefreshResult:
    """The metrics of every classifier in its (possibly new) taxonomy: a full refresh."""
    return refresh_metrics(full=True)
