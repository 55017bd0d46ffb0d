#!/usr/bin/env python
"""A spectroscopic follow-up round with the follow-up API (README, "Follow-up coordination").

A recommendation system (RESSPECT, say) fetches the recently detected
transients, asks for spectra of the brightest; a facility picks what is
wanted, declares its plan, takes the spectrum and reports redshift and
class, which then shows in everyone's light curves.

    python examples/followup_cycle.py --url https://desc-tom.lbl.gov \\
        --username me --passwordfile ~/.tom_password --mjd-now 60578

`--mjd-now` pins "now" in simulated time (the simulation is not in today's
sky). Needs `requests` and `pandas`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "db" / "client"))
from tom_client import TomClient


def followup_round(tom: TomClient, *, mjd_now: float, facility: str = "ExampleScope", n_ask: int = 3) -> dict:
    """One round; returns what each step saw, for printing (and tests)."""
    hot = tom.hot_transients(detected_in_last_days=30, mjd_now=mjd_now, return_format=2)
    if hot.empty:
        return {"hot": 0}
    # brightest last point first: -2.5 log10(flux) ranks as magnitudes do
    hot["last_flux"] = hot["flux"].map(lambda fluxes: max(fluxes[-1], 1e-9))
    chosen = [int(oid) for oid in hot.sort_values("last_flux", ascending=False)["objectid"][:n_ask]]
    tom.ask_for_spectrum("example-recommender", chosen, [5, 4, 3][: len(chosen)])
    wanted = tom.spectra_wanted(detected_in_last_days=30, mjd_now=mjd_now)
    target = wanted[0]["oid"]
    tom.plan_spectrum(target, facility, "2024-09-02 03:00:00", comment="example round")
    still_wanted = {w["oid"] for w in tom.spectra_wanted(detected_in_last_days=30, mjd_now=mjd_now)}
    tom.report_spectrum(target, facility, mjd=mjd_now, classid=2222, z=0.05)
    (light_curve,) = tom.ltcv(target, mjd_now=mjd_now)
    return {
        "hot": len(hot),
        "asked": chosen,
        "wanted": len(wanted),
        "observed": target,
        "still_wanted_after_plan": target in still_wanted,
        "redshift": light_curve["redshift"],
        "sncode": light_curve["sncode"],
        "known_spectra": tom.known_spectra(facility=facility),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="https://desc-tom.lbl.gov")
    parser.add_argument("--username", required=True)
    auth = parser.add_mutually_exclusive_group(required=True)
    auth.add_argument("--password")
    auth.add_argument("--passwordfile")
    parser.add_argument("--mjd-now", type=float, required=True)
    args = parser.parse_args(argv)
    tom = TomClient(args.url, args.username, password=args.password, passwordfile=args.passwordfile)
    for step, seen in followup_round(tom, mjd_now=args.mjd_now).items():
        print(f"{step}: {seen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
