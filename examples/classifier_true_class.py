#!/usr/bin/env python
"""Which classifier got which true class: the classic ELAsTiCC SQL workflow.

For every classifier, take each alert's highest-probability class, join the
alert's object to the simulation truth and count (true class, predicted
class) pairs: one confusion matrix per classifier. The truth is visible to
`elasticc_admin` members only.

    python examples/classifier_true_class.py --url https://desc-tom.lbl.gov \\
        --username me --passwordfile ~/.tom_password

Needs `requests` and `pandas`; `tom_client.py` is found next to this
repository's db/client/ or wherever it is installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "db" / "client"))
from tom_client import TomClient

# Step 1 keeps each classifier's best guess per alert in a temporary table
# (it lives only for this request); step 2 maps truth gentypes to classIds
# of the taxonomy the classifier is evaluated in (ELAsTiCC or ELAsTiCC2).
QUERIES = [
    """CREATE TEMPORARY TABLE best AS
       SELECT DISTINCT ON (c.classifierid, m.diasourceid)
              c.classifierid, m.diasourceid, c.classid, c.probability
       FROM elasticc_brokerclassification c
       JOIN elasticc_brokermessage m ON m.brokermessageid = c.brokermessageid
       ORDER BY c.classifierid, m.diasourceid, c.probability DESC""",
    """SELECT b.classifierid, cl.brokername, cl.classifiername,
              g.classid AS trueclassid, b.classid AS classid, count(*) AS n
       FROM best b
       JOIN elasticc_brokerclassifier cl ON cl.classifierid = b.classifierid
       JOIN elasticc_diasource s ON s.diasourceid = b.diasourceid
       JOIN elasticc_diaobjecttruth t ON t.diaobjectid = s.diaobjectid
       JOIN elasticc_gentypeofclassid g ON g.gentype = t.gentype AND g.taxonomy = cl.evaluatedtaxonomy
       GROUP BY 1, 2, 3, 4, 5
       ORDER BY 1, 4, 5""",
]


def confusion_counts(tom: TomClient) -> pd.DataFrame:
    """One row per (classifier, true class, predicted class) with the alert count."""
    return pd.DataFrame(tom.runsqlquery(QUERIES))


def confusion_matrices(counts: pd.DataFrame, names: dict[int, str]) -> dict[str, pd.DataFrame]:
    """Per classifier: rows are true classes, columns predicted classes (by name)."""
    matrices = {}
    for (classifierid, broker, classifier), group in counts.groupby(["classifierid", "brokername", "classifiername"]):
        matrix = group.pivot_table(index="trueclassid", columns="classid", values="n", aggfunc="sum", fill_value=0)
        matrix.index = [names.get(c, str(c)) for c in matrix.index]
        matrix.columns = [names.get(c, str(c)) for c in matrix.columns]
        matrix.index.name = "true \\ predicted"
        matrices[f"{broker} {classifier} (classifier {classifierid})"] = matrix
    return matrices


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="https://desc-tom.lbl.gov")
    parser.add_argument("--username", required=True)
    auth = parser.add_mutually_exclusive_group(required=True)
    auth.add_argument("--password")
    auth.add_argument("--passwordfile")
    args = parser.parse_args(argv)
    tom = TomClient(args.url, args.username, password=args.password, passwordfile=args.passwordfile)
    names = {row["classid"]: row["name"] for row in tom.runsqlquery("SELECT classid, name FROM elasticc_classid")}
    counts = confusion_counts(tom)
    if counts.empty:
        print("no classifications of objects with truth yet")
        return 0
    for title, matrix in confusion_matrices(counts, names).items():
        print(f"\n{title}\n{matrix.to_string()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
