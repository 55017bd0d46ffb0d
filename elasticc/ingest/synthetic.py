"""Synthetic but plausible ELAsTiCC data for scale tests and demos.

Objects are spread uniformly over the sky, with host-galaxy values for
extragalactic classes (SNANA sentinels for galactic ones, as in the real
simulations), and one light curve per object whose shape follows its true
class: rise-and-decline transients (Bazin curves with class-dependent
timescales and luminosities), recurrent outbursts (dwarf novae), flares
(M dwarfs), microlensing bumps, periodic variables (RR Lyrae, Cepheids,
delta Scuti, eclipsing binaries) and a flat, red-noise AGN curve. Cadence is
Rubin-like: visits on random nights of the object's window, in random bands,
with per-band depths; the deep-drilling objects (`isddf`) get three times as
many. Brightness follows flux-limited number counts, so most objects are
near the detection limit. Every epoch is a forced source; epochs with
|S/N| >= 5 are detections (sources, one alert each; ~10% of epochs), and an
object that never reaches it triggers on its best epoch, as SNANA keeps only
triggered objects. Per-epoch and object truth follow the SNANA layout; ids
follow the SNANA rule (diaSourceId = diaObjectId * 100000 + epoch index).

Why it is shaped this way: it must write 10^7 forced sources in minutes on
a small machine, so everything is numpy over whole chunks of objects (no
Python loop per row or per object) and rows go out with COPY straight into
the parent tables (`elasticc.ingest.bulk_copy.copy_into`). Each chunk has its own
random generator seeded from (seed, chunk number), so the output depends
only on the seed and the object ids, and is written in one transaction. A
chunk whose objects already exist is skipped, so re-running with the same
arguments adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
from django.db import connection, transaction

from elasticc.avro.columns import HOSTGAL_AVRO_FIELDS
from elasticc.ingest.bulk_copy import LOAD_ORDER, LoadReport, arrow_table, categorical, copy_into
from elasticc.ingest.parallel import UnitOutcome, load_units

__all__ = ["CHUNK_OBJECTS", "DEFAULT_FIRST_OBJECT_ID", "generate_elasticc_data", "synthetic_gentypes"]

ID_FACTOR = 100_000
DEFAULT_FIRST_OBJECT_ID = 100_000_000
CHUNK_OBJECTS = 2_000
ZEROPOINT = 31.4
SURVEY_START, SURVEY_END = 60_600.0, 61_700.0
BANDS = np.array(["u", "g", "r", "i", "z", "Y"])
BAND_WEIGHTS = np.array([0.07, 0.10, 0.22, 0.22, 0.20, 0.19])
DEPTH_5SIGMA = np.array([23.8, 24.5, 24.0, 23.5, 22.9, 22.0])  # single-visit m5 per band
DETECT_SNR = 5.0
FAINTEST = 24.5  # peak (transients) or quiescent (variables) apparent magnitude
COUNTS_SLOPE = 0.45  # d log10 N / dm of the brightness distribution


@dataclass(frozen=True)
class Model:
    """Light-curve family and its parameters for one gentype."""

    kind: str  # transient | outburst | flare | microlens | periodic | eclipsing | stochastic
    absmag: float = -18.0  # transients: peak absolute magnitude; galactic: unused
    rise: float = 15.0  # days (transients, outbursts)
    fall: float = 35.0
    period: tuple[float, float] = (0.0, 0.0)  # days, log-uniform range (periodic kinds)
    amplitude: float = 1.0  # magnitudes of variation above quiescence
    galactic: bool = False
    color: tuple[float, ...] = (0.8, 0.2, 0.0, 0.1, 0.3, 0.5)  # peak mag offset per band ugrizY


_SN = (0.9, 0.2, 0.0, 0.1, 0.3, 0.5)
_BLUE = (-0.4, -0.2, 0.0, 0.2, 0.4, 0.5)
_RED = (2.5, 1.5, 0.6, 0.0, -0.3, -0.4)
MODELS: dict[int, Model] = {
    10: Model("transient", -19.3, 16, 35, color=_SN),
    11: Model("transient", -17.6, 12, 25, color=_SN),
    12: Model("transient", -17.5, 14, 30, color=_SN),
    **dict.fromkeys((20, 21, 25, 26, 27), Model("transient", -17.4, 14, 40, color=_SN)),
    **dict.fromkeys((30, 31, 32, 37), Model("transient", -16.8, 10, 90, color=_SN)),
    **dict.fromkeys((35, 36), Model("transient", -18.5, 20, 120, color=_BLUE)),
    40: Model("transient", -21.0, 35, 110, color=_BLUE),
    42: Model("transient", -19.5, 30, 130, color=_BLUE),
    45: Model("transient", -13.5, 6, 25, color=_RED),
    46: Model("transient", -16.0, 12, 60, color=_SN),
    **dict.fromkeys((50, 51), Model("transient", -16.0, 0.7, 2.5, color=_RED)),
    **dict.fromkeys((57, 58, 59), Model("transient", -20.5, 80, 220, color=_RED)),
    60: Model("stochastic", period=(80, 900), amplitude=0.6, color=(0.1, 0.05, 0.0, 0.0, -0.05, -0.1)),
    80: Model("periodic", period=(0.3, 0.9), amplitude=0.8, galactic=True, color=(0.9, 0.3, 0.0, -0.1, -0.2, -0.2)),
    82: Model(
        "flare",
        rise=0.01,
        fall=0.25,
        period=(8, 40),
        amplitude=2.5,
        galactic=True,
        color=(-2.0, -1.0, 0.0, 0.4, 0.6, 0.7),
    ),
    83: Model("eclipsing", period=(0.5, 12), amplitude=0.7, galactic=True, color=(0.6, 0.2, 0.0, -0.1, -0.2, -0.2)),
    84: Model("outburst", rise=1.0, fall=5.0, period=(15, 60), amplitude=3.0, galactic=True, color=_BLUE),
    **dict.fromkeys((87, 88, 89), Model("microlens", rise=20, amplitude=1.5, galactic=True, color=(0,) * 6)),
    90: Model("periodic", period=(3, 40), amplitude=0.6, galactic=True, color=(1.2, 0.5, 0.0, -0.2, -0.3, -0.3)),
    91: Model("periodic", period=(0.05, 0.25), amplitude=0.3, galactic=True, color=(0.4, 0.1, 0.0, -0.05, -0.1, -0.1)),
}
# Models for gentypes of categories not listed above (by classId prefix).
CATEGORY_MODELS: dict[str, Model] = {
    "11": MODELS[10],
    "12": MODELS[50],
    "13": MODELS[42],
    "21": MODELS[80],
    "22": MODELS[60],
}
KIND_WINDOW = {  # days of photometry around the event (transients), else the whole survey
    "transient": (-60.0, 200.0),
}


def synthetic_gentypes() -> list[int]:
    """Gentypes of every exact class in the taxonomy (elasticc_gentypeofclassid)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT gentype FROM elasticc_gentypeofclassid WHERE gentype IS NOT NULL ORDER BY gentype"
        )
        return [row[0] for row in cursor.fetchall()]


def _model_of(gentype: int, classid_of: dict[int, int]) -> Model:
    if gentype in MODELS:
        return MODELS[gentype]
    return CATEGORY_MODELS.get(str(classid_of.get(gentype, 110))[:2], MODELS[10])


def _classids() -> dict[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT gentype, classid FROM elasticc_gentypeofclassid WHERE gentype IS NOT NULL")
        return dict(cursor.fetchall())


def _segments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For per-object counts: owner of each element, index within its
    object, and each object's first element."""
    starts = np.cumsum(counts) - counts
    owner = np.repeat(np.arange(len(counts)), counts)
    return owner, np.arange(int(counts.sum())) - starts[owner], starts


def _mu(z: np.ndarray) -> np.ndarray:
    """Distance modulus for a flat LCDM-like luminosity distance approximation."""
    return 5 * np.log10(4283.0e6 * z * (1 + 0.79 * z) / 10.0)


def _z_for_mu(mu: np.ndarray) -> np.ndarray:
    dl = 10 ** ((mu - 25) / 5) / 4283.0  # = z (1 + 0.79 z)
    return (-1 + np.sqrt(1 + 4 * 0.79 * dl)) / (2 * 0.79)


def _counts_mags(rng: np.random.Generator, bright: float, n: int) -> np.ndarray:
    """Magnitudes between `bright` and FAINTEST with number counts
    N(<m) ~ 10^(COUNTS_SLOPE m): most objects are near the detection limit,
    as in a flux-limited survey (flatter than Euclidean's 0.6, as cosmology
    flattens counts at these depths). It puts ~10% of epochs above S/N 5,
    close to ELAsTiCC's 10^7 sources for 10^8 forced sources; uniform
    magnitudes gave 23%."""
    span = 10 ** (COUNTS_SLOPE * (FAINTEST - bright)) - 1
    return bright + np.log10(1 + rng.random(n) * span) / COUNTS_SLOPE


def _bazin(dt: np.ndarray, rise: np.ndarray, fall: np.ndarray) -> np.ndarray:
    """Rise-and-decline shape with maximum 1 at dt = 0."""
    # Peak of exp(-x/fall)/(1+exp(-x/rise)) is at x0 = rise*ln(fall/rise - 1) (fall > 2 rise here).
    x0 = rise * np.log(np.maximum(fall / rise - 1, 1.0001))
    peak = np.exp(-x0 / fall) / (1 + np.exp(-x0 / rise))
    x = dt + x0
    with np.errstate(over="ignore"):
        return np.exp(-x / fall) / (1 + np.exp(-np.clip(x / rise, -500, 500))) / peak


class _Chunk:
    """All rows of one chunk of objects, generated with one random generator."""

    def __init__(
        self,
        *,
        rng: np.random.Generator,
        objectids: np.ndarray,
        gentypes: np.ndarray,
        models: dict[int, Model],
        simversion: str,
        ddf_fraction: float,
    ) -> None:
        n = len(objectids)
        self.n = n
        self.rng = rng
        self.objectids = objectids
        self.gentypes = gentypes
        model = [models[g] for g in gentypes]
        kinds = np.array([m.kind for m in model])
        galactic = np.array([m.galactic for m in model])
        absmag = np.array([m.absmag for m in model])
        rise = np.array([m.rise for m in model]) * rng.uniform(0.75, 1.3, n)
        fall = np.array([m.fall for m in model]) * rng.uniform(0.75, 1.3, n)
        plo, phi = np.array([m.period for m in model]).T
        period = np.exp(rng.uniform(np.log(np.maximum(plo, 1e-3)), np.log(np.maximum(phi, 1e-3))))
        amplitude = np.array([m.amplitude for m in model]) * rng.uniform(0.6, 1.4, n)
        color = np.array([m.color for m in model])

        # Sky, extinction, redshift, brightness.
        self.ra = rng.uniform(0.0, 360.0, n)
        self.dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
        self.mwebv = rng.exponential(0.05, n) + 0.005
        self.isddf = rng.random(n) < ddf_fraction
        peak_apparent = _counts_mags(rng, 20.5, n)
        mu = peak_apparent - absmag
        z = np.where(galactic, 0.0, np.clip(_z_for_mu(mu), 0.005, 3.0))
        # Non-transient extragalactic (AGN) and galactic: quiescent magnitude.
        base_mag = np.where(kinds == "transient", peak_apparent, _counts_mags(rng, 21.0, n))
        self.z, self.galactic, self.kinds = z, galactic, kinds
        self.peakmjd = rng.uniform(SURVEY_START + 30, SURVEY_END - 30, n)

        # Cadence: a window per object and a Rubin-like number of visits.
        lo, hi = KIND_WINDOW["transient"]
        transient = kinds == "transient"
        start = np.where(transient, np.maximum(self.peakmjd + lo * fall / 35, SURVEY_START), SURVEY_START)
        end = np.where(transient, np.minimum(self.peakmjd + hi * fall / 35 + 40, SURVEY_END), SURVEY_END)
        length = end - start
        density = np.where(self.isddf, 3.0, 1.0) * rng.uniform(0.33, 0.5, n)  # visits per day
        nepoch = np.clip((length * density * np.where(transient, 1.0, 0.6)).astype(np.int64), 40, ID_FACTOR - 1)
        owner, epoch, _ = _segments(nepoch)
        self.owner, self.epoch, self.nepoch = owner, epoch, nepoch
        # Sorted random times per object: sort (owner + u) keeps objects contiguous.
        u = np.sort(owner + rng.random(len(owner))) - owner
        night = np.floor(start[owner] + u * length[owner])
        mjd = night + rng.uniform(0.02, 0.38, len(owner))  # within the night
        self.mjd = np.round(mjd, 4)
        band = rng.choice(6, size=len(owner), p=BAND_WEIGHTS)
        self.band = band

        # True magnitude per epoch by model kind.
        dt = self.mjd - self.peakmjd[owner]
        delta = np.zeros(len(owner))  # brightening in flux units of the baseline (variables) or peak (transients)
        mag = np.full(len(owner), 99.0)
        k = kinds[owner]
        sel = k == "transient"
        if sel.any():
            shape = _bazin(dt[sel] / (1 + z[owner[sel]]), rise[owner[sel]], fall[owner[sel]])
            with np.errstate(divide="ignore"):
                mag[sel] = np.where(shape > 1e-6, base_mag[owner[sel]] - 2.5 * np.log10(shape), 99.0)
        sel = k == "outburst"
        if sel.any():
            phase = np.mod(dt[sel], period[owner[sel]]) - 3 * rise[owner[sel]]
            delta[sel] = (10 ** (0.4 * amplitude[owner[sel]]) - 1) * _bazin(phase, rise[owner[sel]], fall[owner[sel]])
        sel = k == "flare"
        if sel.any():
            # A flare every `period` days; the flux decays exponentially after each.
            since = np.mod(dt[sel], period[owner[sel]])
            delta[sel] = (10 ** (0.4 * amplitude[owner[sel]]) - 1) * np.exp(-since / fall[owner[sel]])
        sel = k == "microlens"
        if sel.any():
            u0 = 0.1 + 0.5 * rng.random(n)
            uu = np.sqrt(u0[owner[sel]] ** 2 + (dt[sel] / rise[owner[sel]]) ** 2)
            delta[sel] = (uu**2 + 2) / (uu * np.sqrt(uu**2 + 4)) - 1
        sel = k == "periodic"
        if sel.any():
            phase = np.mod(dt[sel] / period[owner[sel]], 1.0)
            # Fast rise, slow decline (sawtooth-like pulsation).
            wave = np.where(phase < 0.2, phase / 0.2, 1 - (phase - 0.2) / 0.8)
            delta[sel] = (10 ** (0.4 * amplitude[owner[sel]]) - 1) * wave
        sel = k == "eclipsing"
        if sel.any():
            phase = np.mod(dt[sel] / period[owner[sel]], 1.0)
            dip = np.exp(-0.5 * ((phase - 0.25) / 0.03) ** 2) + 0.5 * np.exp(-0.5 * ((phase - 0.75) / 0.03) ** 2)
            delta[sel] = -(1 - 10 ** (-0.4 * amplitude[owner[sel]])) * dip
        sel = k == "stochastic"
        if sel.any():
            # Red noise: a few sinusoids with long random periods and phases.
            phases = rng.uniform(0, 2 * np.pi, (n, 4))
            periods = period[:, None] * rng.uniform(0.3, 1.5, (n, 4))
            t = self.mjd[sel][:, None]
            o = owner[sel]
            wave = (np.sin(2 * np.pi * t / periods[o] + phases[o]) * np.array([1, 0.6, 0.4, 0.25])).sum(axis=1)
            delta[sel] = (10 ** (0.4 * amplitude[owner[sel]]) - 1) * wave / 2.25
        variable = k != "transient"
        band_mag = base_mag[owner] + color[owner, band]
        baseline = 10 ** (0.4 * (ZEROPOINT - band_mag))
        true_flux = np.where(variable, baseline * delta, 0.0)
        mag = np.where(variable, band_mag - 2.5 * np.log10(np.maximum(1 + delta, 1e-3)), mag + color[owner, band])
        true_flux = np.where(variable, true_flux, np.where(mag < 90, 10 ** (0.4 * (ZEROPOINT - mag)), 0.0))
        # Extinction dims everything a little (R_V = 3.1, rough per-band A/E(B-V)).
        ext = np.array([4.8, 3.7, 2.7, 2.1, 1.6, 1.3])[band] * self.mwebv[owner]
        true_flux = true_flux * 10 ** (-0.4 * ext)
        self.genmag = np.where(mag < 90, mag + ext, 99.0)

        # Noise: sky-limited at the band's depth (with seeing/sky scatter) plus source Poisson term.
        depth = DEPTH_5SIGMA[band] + rng.normal(0, 0.3, len(owner)) + np.where(self.isddf[owner], 0.5, 0.0)
        sky = 10 ** (0.4 * (ZEROPOINT - depth)) / 5
        err = np.sqrt(sky**2 + np.abs(true_flux) * sky / 50)
        self.flux = true_flux + rng.normal(0, 1, len(owner)) * err
        self.fluxerr = err
        self.snr = self.flux / err
        detect = np.abs(self.snr) >= DETECT_SNR
        # Objects that never reach the threshold trigger on their best epoch.
        best = _segment_argmax(self.snr, owner, nepoch)
        has = np.bincount(owner[detect], minlength=n) > 0
        detect[best[~has]] = True
        self.detect = detect
        self.simversion = simversion

    def tables(self) -> dict:
        n, owner = self.n, self.owner
        ids = self.objectids[owner] * ID_FACTOR + self.epoch
        objectid = self.objectids[owner]
        src = np.flatnonzero(self.detect)
        band = categorical(self.band, BANDS)
        objects = {
            "diaobjectid": self.objectids,
            "simversion": categorical(np.zeros(n, dtype=np.int8), [self.simversion]),
            "ra": self.ra,
            "decl": self.dec,
            "mwebv": self.mwebv,
            "mwebv_err": self.mwebv * 0.05,
            "z_final": np.where(self.galactic, -9.0, self.z + self.rng.normal(0, 0.02, n) * (1 + self.z)),
            "z_final_err": np.where(self.galactic, -9.0, 0.02 * (1 + self.z)),
            **self._hosts(),
            "isddf": self.isddf,
        }
        sources = {
            "diasourceid": ids[src],
            "diaobjectid": objectid[src],
            "midpointtai": self.mjd[src],
            "filtername": band.take(src),
            "ra": self.ra[owner[src]],
            "decl": self.dec[owner[src]],
            "psflux": self.flux[src],
            "psfluxerr": self.fluxerr[src],
            "snr": self.snr[src],
        }
        forced = {
            "diaforcedsourceid": ids,
            "diaobjectid": objectid,
            "midpointtai": self.mjd,
            "filtername": band,
            "psflux": self.flux,
            "psfluxerr": self.fluxerr,
        }
        alerts = {"alertid": ids[src], "diasourceid": ids[src], "diaobjectid": objectid[src]}
        truth = {
            "diasourceid": ids,
            "diaobjectid": objectid,
            "mjd": self.mjd,
            "detect": self.detect,
            "gentype": self.gentypes[owner],
            "genmag": self.genmag,
        }
        tables = {
            "elasticc_diaobject": objects,
            "elasticc_diasource": sources,
            "elasticc_diaalert": alerts,
            "elasticc_diaforcedsource": forced,
            "elasticc_diatruth": truth,
            "elasticc_diaobjecttruth": self._object_truth(src),
        }
        return {name: arrow_table(name, columns) for name, columns in tables.items()}

    def _hosts(self) -> dict[str, np.ndarray]:
        """hostgal_* (a host for extragalactic objects) and hostgal2_* (mostly absent)."""
        rng, n = self.rng, self.n
        z = self.z
        out: dict[str, np.ndarray] = {}
        hosted = ~self.galactic
        second = hosted & (rng.random(n) < 0.25)
        spectro = rng.random(n) < 0.15
        for prefix, has in (("hostgal", hosted), ("hostgal2", second)):
            zphot = np.clip(z + rng.normal(0, 0.05, n) * (1 + z), 0.001, None)
            zerr = 0.03 + 0.07 * rng.random(n)
            quantiles = zphot[:, None] + zerr[:, None] * np.array(
                [-2.5, -1.28, -0.84, -0.52, -0.25, 0.0, 0.25, 0.52, 0.84, 1.28, 2.5]
            )
            mag_r = 17.0 + 5 * np.log10(np.maximum(z, 0.005) / 0.01) / 2.2 + rng.normal(0, 0.7, n)
            galcolor = np.array([1.9, 0.9, 0.0, -0.35, -0.6, -0.75])
            sep = rng.gamma(2.0, 0.5, n)
            angle = rng.uniform(0, 2 * np.pi, n)
            values: dict[str, tuple[np.ndarray, float]] = {
                "ellipticity": (rng.uniform(0.0, 0.8, n), -9999.0),
                "sqradius": (rng.gamma(2.0, 4.0, n), -9999.0),
                "zspec": (np.where(spectro, z, -9.0), -9.0),
                "zspec_err": (np.where(spectro, 0.001, -9.0), -9.0),
                "zphot": (zphot, -9.0),
                "zphot_err": (zerr, -9.0),
                "zphot_p50": (zphot, -9.0),
                "ra": (self.ra + sep / 3600 * np.cos(angle) / np.cos(np.radians(self.dec)), -999.0),
                "dec": (self.dec + sep / 3600 * np.sin(angle), -999.0),
                "snsep": (sep, -9.0),
            }
            for i, q in enumerate(range(0, 101, 10)):
                values[f"zphot_q{q:03d}"] = (np.clip(quantiles[:, i], 0.0, None), -9.0)
            for i, b in enumerate("ugrizY"):
                values[f"mag_{b}"] = (mag_r + galcolor[i], 999.0)
                values[f"magerr_{b}"] = (0.01 + 0.02 * 10 ** (0.4 * (mag_r + galcolor[i] - 22)), 999.0)
            for field in HOSTGAL_AVRO_FIELDS:
                head, _, rest = field.partition("_")
                if head == prefix:
                    value, sentinel = values[rest]
                    out[field.lower()] = np.where(has, value, sentinel)
        return out

    def _object_truth(self, src: np.ndarray) -> dict[str, np.ndarray]:
        rng, n, owner = self.rng, self.n, self.owner
        # First/last detection and the three best S/N per object.
        det_owner = owner[src]
        first_det = np.full(n, np.inf)
        last_det = np.full(n, -np.inf)
        np.minimum.at(first_det, det_owner, self.mjd[src])
        np.maximum.at(last_det, det_owner, self.mjd[src])
        first = np.where(np.isfinite(first_det), first_det, -9.0)
        last = np.where(np.isfinite(last_det), last_det, -9.0)
        snrmax = np.empty((n, 3))
        remaining = self.snr.copy()
        for k in range(3):  # every object has >= 40 epochs
            best = _segment_argmax(remaining, owner, self.nepoch)
            snrmax[:, k] = remaining[best]
            remaining[best] = -np.inf
        peakmag = np.full((n, 6), 99.0)
        np.minimum.at(peakmag, (owner, self.band), self.genmag)
        hosted = ~self.galactic
        zcmb = self.z
        return {
            "diaobjectid": self.objectids,
            "libid": rng.integers(1, 50_000, n).astype(np.int32),
            "sim_searcheff_mask": np.ones(n, dtype=np.int32),
            "gentype": self.gentypes.astype(np.int32),
            "sim_template_index": rng.integers(1, 400, n).astype(np.int32),
            "zcmb": zcmb,
            "zhelio": zcmb + rng.normal(0, 0.0005, n) * hosted,
            "zcmb_smear": np.where(hosted, zcmb + rng.normal(0, 0.02, n), zcmb),
            "ra": self.ra,
            "dec": self.dec,
            "mwebv": self.mwebv,
            "galid": np.where(hosted, rng.integers(10**9, 10**10, n), -9),
            "galzphot": np.where(hosted, zcmb + rng.normal(0, 0.05, n), -9.0),
            "galzphoterr": np.where(hosted, 0.05, -9.0),
            "galsnsep": np.where(hosted, rng.gamma(2.0, 0.5, n), -9.0),
            "galsnddlr": np.where(hosted, rng.gamma(2.0, 0.6, n), -9.0),
            "rv": np.full(n, 3.1),
            "av": np.where(hosted, rng.exponential(0.2, n), 0.0),
            "mu": np.where(hosted, _mu(np.maximum(zcmb, 1e-4)), -9.0),
            "lensdmu": np.where(hosted, rng.normal(0, 0.005, n), 0.0),
            "peakmjd": self.peakmjd,
            "mjd_detect_first": first,
            "mjd_detect_last": last,
            "dtseason_peak": rng.uniform(-50, 150, n),
            **{f"peakmag_{b.lower()}": peakmag[:, i] for i, b in enumerate("ugrizY")},
            "snrmax": snrmax[:, 0],
            "snrmax2": snrmax[:, 1],
            "snrmax3": snrmax[:, 2],
            "nobs": self.nepoch.astype(np.int32),
            "nobs_saturate": np.zeros(n, dtype=np.int32),
        }


def _segment_argmax(values: np.ndarray, owner: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Index (into `values`) of the maximum of each object's contiguous
    segment (the first one on ties); linear time, no sort."""
    best = np.maximum.reduceat(values, np.cumsum(counts) - counts)
    hit = np.flatnonzero(values == best[owner])
    first = np.ones(len(hit), dtype=bool)
    first[1:] = owner[hit][1:] != owner[hit][:-1]
    return hit[first]


def generate_elasticc_data(
    *,
    n_objects: int,
    seed: int,
    first_object_id: int = DEFAULT_FIRST_OBJECT_ID,
    simversion: str = "synthetic",
    ddf_fraction: float = 0.04,
    progress: bool = False,
    workers: int = 1,
    alerts_sent_at: datetime | None = None,
) -> LoadReport:
    """Generate and COPY `n_objects` synthetic objects with ids
    first_object_id, first_object_id + 1, ...; deterministic for a seed.

    Gentypes cycle through every gentype of the taxonomy, so any run of at
    least that many objects covers every exact class. Chunks whose objects
    already exist are skipped (re-running adds nothing). `workers` > 1
    generates that many chunks at once on separate connections (not inside
    an enclosing transaction); the rows do not depend on it.
    `alerts_sent_at` writes the alerts as already sent at that time (a
    finished campaign, for benchmarks; marking 10^7 alerts sent afterwards
    rewrites the table and its index); by default they are unsent.
    """
    if n_objects < 0:
        raise ValueError("n_objects must be >= 0")
    last_id = first_object_id + n_objects - 1
    if first_object_id < 1 or last_id * ID_FACTOR + ID_FACTOR > np.iinfo(np.int64).max:
        raise ValueError("object ids must be positive and id * 100000 must fit in 64 bits")
    report = LoadReport(counts=dict.fromkeys(LOAD_ORDER, 0))
    gentypes = np.array(synthetic_gentypes(), dtype=np.int64)
    if len(gentypes) == 0:
        raise ValueError("the taxonomy table elasticc_gentypeofclassid is empty (run migrate)")
    classid_of = _classids()
    models = {int(g): _model_of(int(g), classid_of) for g in gentypes}
    nchunks = -(-n_objects // CHUNK_OBJECTS)

    def one_chunk(chunk: int) -> UnitOutcome:
        """One chunk of objects in its own transaction."""
        index = np.arange(chunk * CHUNK_OBJECTS, min((chunk + 1) * CHUNK_OBJECTS, n_objects))
        objectids = first_object_id + index
        label = f"objects {objectids[0]}..{objectids[-1]}"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM elasticc_diaobject WHERE diaobjectid BETWEEN %s AND %s",
                [int(objectids[0]), int(objectids[-1])],
            )
            present = cursor.fetchone()[0]
            if present == len(objectids):
                return UnitOutcome(loaded=(f"{label} (already present)",))
            if present:
                return UnitOutcome(failed=(label, f"{present} of these ids already exist; choose another first id"))
            rows = _Chunk(
                rng=np.random.default_rng([seed, chunk]),
                objectids=objectids.astype(np.int64),
                gentypes=gentypes[index % len(gentypes)],
                models=models,
                simversion=simversion,
                ddf_fraction=ddf_fraction,
            )
            tables = rows.tables()
            if alerts_sent_at is not None:
                alerts = tables["elasticc_diaalert"]
                sent = pa.repeat(pa.scalar(alerts_sent_at, type=pa.timestamp("us", tz="UTC")), alerts.num_rows)
                column = alerts.schema.get_field_index("alertsenttimestamp")
                tables["elasticc_diaalert"] = alerts.set_column(column, "alertsenttimestamp", sent)
            return UnitOutcome(counts=copy_into(cursor, tables), loaded=(label,))

    return load_units(
        units=range(nchunks),
        load=one_chunk,
        report=report,
        workers=workers,
        desc="synthetic",
        unit="chunk",
        progress=progress,
    )
