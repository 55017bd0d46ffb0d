"""Shaping metrics into what the page's Plotly charts draw."""

from __future__ import annotations

from elasticc.metrics.readers import confusion, scores
from elasticc.read.selectors import class_names
from elasticc.taxonomy.taxonomies import ELASTICC


def confusion_matrix(
    *, classifierid: int, mode: str, level: str, norm: str, names: dict[int, str], taxonomy: str = ELASTICC
) -> dict:
    """The confusion matrix as the page plots it: rows are true classes, columns
    predicted ones; `z` is normalised by true class (rows sum to 1), by predicted
    class (columns sum to 1) or raw counts (`norm` "none")."""
    cells = confusion(classifierid=classifierid, mode=mode, level=level, taxonomy=taxonomy)
    true_ids = sorted({t for t, _, _ in cells})
    pred_ids = sorted({p for _, p, _ in cells} | set(true_ids))
    counts = [[0] * len(pred_ids) for _ in true_ids]
    for t, p, n in cells:
        counts[true_ids.index(t)][pred_ids.index(p)] = n
    if norm == "true":
        totals = [sum(row) for row in counts]
        z = [[n / totals[i] if totals[i] else 0.0 for n in row] for i, row in enumerate(counts)]
    elif norm == "pred":
        totals = [sum(row[j] for row in counts) for j in range(len(pred_ids))]
        z = [[n / totals[j] if totals[j] else 0.0 for j, n in enumerate(row)] for row in counts]
    else:
        z = [[float(n) for n in row] for row in counts]

    def label(classid: int) -> str:
        return f"{classid} {names.get(classid, '?')}"

    return {
        "true": [label(c) for c in true_ids],
        "pred": [label(c) for c in pred_ids],
        "counts": counts,
        "z": z,
        "objects": sum(n for _, _, n in cells),
    }


def f1_difference(*, a: dict, b: dict, mode: str, level: str) -> list[dict]:
    """Per class true or predicted by either of two classifiers (rows of
    `selectors.classifiers`), each in its own taxonomy at `level`: F1 of A,
    of B (0 for a class a classifier never saw) and B minus A, by class
    label ("classId name")."""
    f1: dict[tuple[int, str], dict[str, float]] = {}
    for side, classifier in (("a", a), ("b", b)):
        taxonomy = classifier["evaluatedtaxonomy"]
        names = class_names(taxonomy=taxonomy)
        cells = confusion(classifierid=classifier["classifierid"], mode=mode, level=level, taxonomy=taxonomy)
        for entry in scores(cells)["per_class"]:
            classid = entry["classid"]
            f1.setdefault((classid, f"{classid} {names.get(classid, '?')}"), {})[side] = entry["f1"]
    return [
        {
            "classid": classid,
            "class": key,
            "a": by.get("a", 0.0),
            "b": by.get("b", 0.0),
            "diff": by.get("b", 0.0) - by.get("a", 0.0),
        }
        for (classid, key), by in sorted(f1.items(), key=lambda item: item[0][1])
    ]
