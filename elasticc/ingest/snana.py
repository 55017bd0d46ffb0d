"""Load SNANA simulation output (HEAD/PHOT FITS pairs and the DUMP truth file).

Rules (the ELAsTiCC SNANA conventions, README "Loading data"): one HEAD row per object, PHOT rows PTROBS_MIN..MAX
(1-based) per object, every PHOT epoch a forced source, epochs with
PHOTFLAG & detect_bit a source and an alert, ids = diaObjectId * 100000 +
epoch index within the object, fluxes rescaled from zero point 27.5.

Why it is shaped this way:
- Files are read whole into numpy arrays (a direct view of the FITS binary
  table; astropy for tables with scaled or variable-length columns) and
  every row is built by vectorised numpy, so a PHOT file of 10^5 epochs
  costs milliseconds of Python; rows go to PostgreSQL with COPY
  (`elasticc.ingest.bulk_copy`), several pairs at once with `workers`.
- One transaction per HEAD/PHOT pair (with the object truth of its objects
  from the DUMP file): a corrupt or truncated file fails before anything is
  written, is reported by name, and the other pairs still load.
- A pair whose objects are all new is COPYed straight in; otherwise it goes
  through staging + ON CONFLICT DO NOTHING, so a re-run adds nothing.
- DUMP rows are loaded with the pair holding their object (a DUMP row whose
  CID is in no HEAD file is not loaded); without a DUMP, the per-epoch
  truth gentype comes from the HEAD's SIM_TYPE_INDEX. A DUMP that does not
  read refuses its whole directory: no pair is stored without its truth.
"""

from __future__ import annotations

import gzip
import re
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from django.db import DatabaseError, connection, transaction

from elasticc.avro.columns import DIAOBJECTTRUTH_COLUMNS, HOSTGAL_AVRO_FIELDS
from elasticc.ingest.bulk_copy import LoadReport, arrow_table, categorical, insert_idempotent
from elasticc.ingest.parallel import UnitOutcome, load_units

__all__ = ["LoadReport", "SnanaFormatError", "load_snana_dirs", "read_snana_pair"]

ID_FACTOR = 100_000  # diaSourceId = diaObjectId * ID_FACTOR + epoch index
SEPARATOR_MJD = -777.0
SNANA_ZEROPOINT = 27.5


class SnanaFormatError(ValueError):
    """A file that is not valid SNANA output: `path` is the file (when known)
    and the message starts with its name and says why."""

    def __init__(self, problem: str, *, path: Path | None = None) -> None:
        self.path = path
        super().__init__(f"{path.name}: {problem}" if path is not None else problem)


@dataclass(frozen=True)
class SnanaPair:
    head: Path
    phot: Path


def _hostgal_source_column(avro_name: str) -> str:
    """The HEAD column of a `hostgal*_*` Avro field."""
    prefix, _, rest = avro_name.partition("_")
    prefix = prefix.upper()
    renames = {
        "zspec": "SPECZ",
        "zspec_err": "SPECZ_ERR",
        "zphot": "PHOTOZ",
        "zphot_err": "PHOTOZ_ERR",
    }
    if rest in renames:
        return f"{prefix}_{renames[rest]}"
    if rest.startswith(("mag_", "magerr_")):
        kind, _, band = rest.partition("_")
        return f"{prefix}_{kind.upper()}_{band}"
    return f"{prefix}_{rest.upper()}"


# diaobject column -> HEAD column
OBJECT_SOURCE_COLUMNS: dict[str, str] = {
    "ra": "RA",
    "decl": "DEC",
    "mwebv": "MWEBV",
    "mwebv_err": "MWEBV_ERR",
    "z_final": "REDSHIFT_FINAL",
    "z_final_err": "REDSHIFT_FINAL_ERR",
    **{name.lower(): _hostgal_source_column(name) for name in HOSTGAL_AVRO_FIELDS},
}
# Columns an object must have (the rest of the host columns may be absent in
# older simulations and load as NULL).
REQUIRED_HEAD = ("SNID", "PTROBS_MIN", "PTROBS_MAX", "RA", "DEC")
REQUIRED_PHOT = ("MJD", "BAND", "PHOTFLAG", "FLUXCAL", "FLUXCALERR")
# DUMP column -> diaobjecttruth column, where the names differ.
DUMP_RENAMES = {"CID": "diaobjectid", "NON1A_INDEX": "sim_template_index"}


FITS_BLOCK = 2880
# Binary-table TFORM codes the fast reader maps straight to numpy (big-endian).
_TFORM_DTYPES = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}
_TFORM_RE = re.compile(r"^\s*(\d*)([A-Z])")


def _parse_header(raw: bytes, offset: int) -> tuple[dict[str, str], int]:
    """Keyword -> raw value text of the header at `offset`, and where its data starts."""
    cards: dict[str, str] = {}
    while True:
        block = raw[offset : offset + FITS_BLOCK]
        if len(block) < FITS_BLOCK:
            raise SnanaFormatError("truncated FITS header")
        offset += FITS_BLOCK
        for i in range(0, FITS_BLOCK, 80):
            card = block[i : i + 80].decode("ascii", errors="replace")
            keyword = card[:8].strip()
            if keyword == "END":
                return cards, offset
            if card[8:10] == "= ":
                value = card[10:]
                if value.lstrip().startswith("'"):
                    value = value.lstrip()[1:].split("'", 1)[0]
                else:
                    value = value.split("/", 1)[0]
                cards[keyword] = value.strip()


def _fast_bintable(raw: bytes) -> np.ndarray | None:
    """HDU 1 of an in-memory FITS file as a numpy structured array, viewing the
    bytes directly (astropy spends ~0.1 s per file building column objects,
    which dominates small files). None when the table needs features this
    path does not handle (scaled columns, variable-length arrays, ...)."""
    primary, offset = _parse_header(raw, 0)
    naxis = int(primary.get("NAXIS", "0"))
    size = abs(int(primary.get("BITPIX", "8"))) // 8 if naxis else 0
    for axis in range(1, naxis + 1):
        size *= int(primary[f"NAXIS{axis}"])
    offset += -(-size // FITS_BLOCK) * FITS_BLOCK
    table, offset = _parse_header(raw, offset)
    if table.get("XTENSION") != "BINTABLE" or int(table.get("PCOUNT", "0")) != 0:
        return None
    if any(k.startswith(("TSCAL", "TZERO", "TDIM")) for k in table):
        return None
    rowbytes, nrows = int(table["NAXIS1"]), int(table["NAXIS2"])
    names, formats = [], []
    for i in range(1, int(table["TFIELDS"]) + 1):
        match = _TFORM_RE.match(table[f"TFORM{i}"])
        if match is None:
            return None
        repeat, code = int(match[1] or 1), match[2]
        if code == "A":
            dtype = f"S{repeat}"
        elif code in _TFORM_DTYPES:
            dtype = _TFORM_DTYPES[code] if repeat == 1 else (_TFORM_DTYPES[code], (repeat,))
        else:
            return None
        names.append(table.get(f"TTYPE{i}", f"COL{i}"))
        formats.append(dtype)
    dtype = np.dtype({"names": names, "formats": formats})
    if dtype.itemsize != rowbytes:
        return None
    if len(raw) < offset + rowbytes * nrows:
        raise SnanaFormatError(
            f"truncated FITS table (file has {len(raw)} bytes, table needs {offset + rowbytes * nrows})"
        )
    return np.frombuffer(raw, dtype=dtype, count=nrows, offset=offset)


def _astropy_bintable(path: Path) -> np.ndarray:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fits.open(path, memmap=False) as hdus:
            if len(hdus) < 2 or not isinstance(hdus[1], fits.BinTableHDU):
                raise SnanaFormatError("no binary table in HDU 1")
            expected = int(hdus[1].header.get("NAXIS2", -1))
            data = np.array(hdus[1].data)
    for warning in caught:
        if "truncated" in str(warning.message).lower():
            raise SnanaFormatError(f"truncated FITS ({warning.message})")
    if data.dtype.names is None or len(data) != expected:
        raise SnanaFormatError(f"truncated FITS table ({len(data)} of {expected} rows)")
    return data


def _read_fits_table(path: Path) -> np.ndarray:
    """The first binary table of a FITS file (.gz or not) as a numpy
    structured array, rejecting truncated or corrupt files whole."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        data = _fast_bintable(raw)
        return _astropy_bintable(path) if data is None else data
    except SnanaFormatError as exc:
        raise SnanaFormatError(str(exc), path=path) from exc
    except (OSError, EOFError, ValueError, IndexError, TypeError, KeyError, zlib.error) as exc:
        raise SnanaFormatError(f"corrupt or truncated FITS ({type(exc).__name__}: {exc})", path=path) from exc


def _require(data: np.ndarray, names: Sequence[str], path: Path) -> None:
    missing = [n for n in names if n not in data.dtype.names]
    if missing:
        raise SnanaFormatError(f"missing column(s) {', '.join(missing)}", path=path)


def read_dump(path: Path) -> dict[str, np.ndarray]:
    """The DUMP truth table as columns named like elasticc_diaobjecttruth
    (lower-cased; CID -> diaobjectid, NON1A_INDEX -> sim_template_index)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SnanaFormatError(f"unreadable DUMP file ({exc})", path=path) from exc
    names: list[str] | None = None
    rows: list[list[str]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "VARNAMES:":
            names = fields[1:]
        elif fields[0] == "SN:":
            if names is None:
                raise SnanaFormatError(f"line {lineno}: SN: row before VARNAMES:", path=path)
            if len(fields) - 1 != len(names):
                raise SnanaFormatError(f"line {lineno}: {len(fields) - 1} values for {len(names)} VARNAMES", path=path)
            rows.append(fields[1:])
    if names is None:
        raise SnanaFormatError("no VARNAMES line", path=path)
    if "CID" not in names or "GENTYPE" not in names:
        raise SnanaFormatError("DUMP without CID or GENTYPE column", path=path)
    table = np.array(rows, dtype=str).reshape(len(rows), len(names))
    known = set(DIAOBJECTTRUTH_COLUMNS)
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        column = DUMP_RENAMES.get(name, name.lower())
        if column not in known:
            continue
        try:
            if column in {"diaobjectid", "galid"}:
                out[column] = table[:, i].astype(np.int64)
            else:
                values = table[:, i].astype(np.float64)
                integer = column in {
                    "libid",
                    "sim_searcheff_mask",
                    "gentype",
                    "sim_template_index",
                    "nobs",
                    "nobs_saturate",
                }
                out[column] = values.astype(np.int32) if integer else values
        except ValueError as exc:
            raise SnanaFormatError(f"bad value in column {name} ({exc})", path=path) from exc
    return out


def read_snana_pair(
    pair: SnanaPair,
    *,
    dump: dict[str, np.ndarray] | None,
    simversion: str,
    zeropoint: float,
    snana_zeropoint: float = SNANA_ZEROPOINT,
    detect_bit: int,
) -> dict[str, dict[str, np.ndarray]]:
    """Columns of every table for one HEAD/PHOT pair (and the DUMP rows of
    its objects), validated; raises SnanaFormatError naming the bad file."""
    head = _read_fits_table(pair.head)
    phot = _read_fits_table(pair.phot)
    _require(head, REQUIRED_HEAD, pair.head)
    _require(phot, REQUIRED_PHOT, pair.phot)
    try:
        objid = np.char.strip(head["SNID"].astype(str)).astype(np.int64)
    except ValueError as exc:
        raise SnanaFormatError(f"non-integer SNID ({exc})", path=pair.head) from exc
    if len(np.unique(objid)) != len(objid):
        raise SnanaFormatError("duplicate SNID", path=pair.head)
    first = head["PTROBS_MIN"].astype(np.int64) - 1
    last = head["PTROBS_MAX"].astype(np.int64) - 1
    nepoch = last - first + 1
    if len(head) and (first.min() < 0 or last.max() >= len(phot) or nepoch.min() < 1):
        raise SnanaFormatError(f"PTROBS_MIN/MAX of {pair.head.name} outside its {len(phot)} rows", path=pair.phot)
    if nepoch.max(initial=0) >= ID_FACTOR:
        raise SnanaFormatError(f"an object has {nepoch.max()} epochs (id rule allows {ID_FACTOR - 1})", path=pair.head)

    # One entry per epoch: which object (position in HEAD) and which PHOT row.
    owner = np.repeat(np.arange(len(head)), nepoch)
    offsets = np.cumsum(nepoch) - nepoch
    epoch = np.arange(int(nepoch.sum())) - np.repeat(offsets, nepoch)
    row = first[owner] + epoch
    mjd = np.asarray(phot["MJD"], dtype=np.float64)[row]
    if np.any(mjd == SEPARATOR_MJD):
        raise SnanaFormatError(f"PTROBS ranges of {pair.head.name} include a -777 separator row", path=pair.phot)

    obj_of_epoch = objid[owner]
    ids = obj_of_epoch * ID_FACTOR + epoch
    band_names, band_codes = np.unique(np.char.strip(phot["BAND"].astype(str)), return_inverse=True)
    band = categorical(band_codes[row], band_names.tolist())
    # float32 arithmetic, as the ELAsTiCC alerts were made: the stored reals
    # then equal the published alerts bit for bit.
    scale = np.float32(10 ** ((zeropoint - snana_zeropoint) / 2.5))
    flux = np.asarray(phot["FLUXCAL"], dtype=np.float32)[row] * scale
    fluxerr = np.asarray(phot["FLUXCALERR"], dtype=np.float32)[row] * scale
    detected = (np.asarray(phot["PHOTFLAG"]).astype(np.int64)[row] & detect_bit) != 0
    ra = np.asarray(head["RA"], dtype=np.float64)
    dec = np.asarray(head["DEC"], dtype=np.float64)

    objects: dict[str, object] = {
        "diaobjectid": objid,
        "simversion": categorical(np.zeros(len(head), dtype=np.int8), [simversion]),
    }
    for column, source in OBJECT_SOURCE_COLUMNS.items():
        if source in head.dtype.names:
            objects[column] = np.asarray(head[source], dtype=np.float64)
    objects["isddf"] = np.zeros(len(head), dtype=bool)

    with np.errstate(divide="ignore", invalid="ignore"):
        snr = flux / fluxerr
    src = np.flatnonzero(detected)
    sources = {
        "diasourceid": ids[src],
        "diaobjectid": obj_of_epoch[src],
        "midpointtai": mjd[src],
        "filtername": band.take(src),
        "ra": ra[owner[src]],
        "decl": dec[owner[src]],
        "psflux": flux[src],
        "psfluxerr": fluxerr[src],
        "snr": snr[src],
    }
    alerts = {"alertid": ids[src], "diasourceid": ids[src], "diaobjectid": obj_of_epoch[src]}
    forced = {
        "diaforcedsourceid": ids,
        "diaobjectid": obj_of_epoch,
        "midpointtai": mjd,
        "filtername": band,
        "psflux": flux,
        "psfluxerr": fluxerr,
    }

    # The object's gentype: from the DUMP, else the HEAD's SIM_TYPE_INDEX.
    gentype = np.full(len(head), -1, dtype=np.int64)
    found = np.zeros(len(objid), dtype=bool)
    objtruth: dict[str, np.ndarray] | None = None
    if dump is not None and len(dump["diaobjectid"]):
        order = np.argsort(dump["diaobjectid"])
        sorted_ids = dump["diaobjectid"][order]
        pos = np.minimum(np.searchsorted(sorted_ids, objid), len(sorted_ids) - 1)
        found = sorted_ids[pos] == objid
        rows_in_dump = order[pos[found]]
        gentype[found] = dump["gentype"][rows_in_dump]
        objtruth = {column: values[rows_in_dump] for column, values in dump.items()}
    if "SIM_TYPE_INDEX" in head.dtype.names:
        gentype[~found] = np.asarray(head["SIM_TYPE_INDEX"], dtype=np.int64)[~found]
    truth_gentype = np.ma.masked_equal(gentype[owner], -1)
    truth = {
        "diasourceid": ids,
        "diaobjectid": obj_of_epoch,
        "mjd": mjd,
        "detect": detected,
        "gentype": truth_gentype,
        "genmag": np.asarray(phot["SIM_MAGOBS"], dtype=np.float64)[row] if "SIM_MAGOBS" in phot.dtype.names else None,
    }
    out = {
        "elasticc_diaobject": objects,
        "elasticc_diasource": sources,
        "elasticc_diaalert": alerts,
        "elasticc_diaforcedsource": forced,
        "elasticc_diatruth": truth,
    }
    if objtruth is not None:
        out["elasticc_diaobjecttruth"] = objtruth
    return out


_HEAD_RE = re.compile(r"^(?P<stem>.+)_HEAD\.FITS(?P<gz>\.gz)?$", re.IGNORECASE)


def find_pairs(directory: Path) -> tuple[list[SnanaPair], list[tuple[str, str]]]:
    """HEAD/PHOT pairs of a model directory, and HEAD files missing their PHOT."""
    pairs: list[SnanaPair] = []
    missing: list[tuple[str, str]] = []
    for head in sorted(directory.iterdir()):
        match = _HEAD_RE.match(head.name)
        if not match:
            continue
        candidates = [directory / f"{match['stem']}_PHOT.FITS{suffix}" for suffix in (match["gz"] or "", ".gz", "")]
        phot = next((p for p in candidates if p.exists()), None)
        if phot is None:
            missing.append((str(head), "no matching _PHOT.FITS file"))
        else:
            pairs.append(SnanaPair(head=head, phot=phot))
    return pairs, missing


def _dump_file(directory: Path) -> Path | None:
    preferred = directory / f"{directory.name}.DUMP"
    if preferred.exists():
        return preferred
    dumps = sorted(directory.glob("*.DUMP"))
    return dumps[0] if dumps else None


def _store(tables: dict[str, dict[str, np.ndarray]]) -> dict[str, int]:
    """One pair's rows, inside the directory's transaction."""
    arrow = {name: arrow_table(name, columns) for name, columns in tables.items()}
    with connection.cursor() as cursor:
        return insert_idempotent(cursor, arrow, tables["elasticc_diaobject"]["diaobjectid"])


def _load_directory(
    directory: Path, pairs: list[SnanaPair], dump: dict[str, np.ndarray] | None, *, dry_run: bool, **options: Any
) -> UnitOutcome:
    """Every pair of one model directory in one transaction (or only read, for
    a dry run): a bad file refuses the whole directory, so a model is never
    half loaded (a re-run after fixing the file then loads all of it)."""
    counts: dict[str, int] = {}
    try:
        with transaction.atomic():
            for pair in pairs:
                tables = read_snana_pair(pair, dump=dump, **options)
                stored = (
                    {name: len(next(iter(cols.values()))) for name, cols in tables.items()}
                    if dry_run
                    else _store(tables)
                )
                for table, n in stored.items():
                    counts[table] = counts.get(table, 0) + n
    except SnanaFormatError as exc:
        return UnitOutcome(failed=(str(exc.path or directory), f"{exc}; nothing of {directory.name} was loaded"))
    except DatabaseError as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return UnitOutcome(failed=(str(directory), f"rejected by the database ({message}); nothing was loaded"))
    return UnitOutcome(counts=counts, loaded=tuple(str(p) for pair in pairs for p in (pair.head, pair.phot)))


def load_snana_dirs(
    *,
    dirs: Sequence[Path],
    simversion: str = "2023-04-01",
    zeropoint: float = 31.4,
    snana_zeropoint: float = SNANA_ZEROPOINT,
    detect_bit: int = 4096,
    dry_run: bool = False,
    progress: bool = False,
    workers: int = 1,
) -> LoadReport:
    """Load every HEAD/PHOT pair (and DUMP truth) of the model directories.

    Fluxes are rescaled from `snana_zeropoint` (FLUXCAL's, 27.5) to
    `zeropoint`. A model directory loads all or nothing, in one transaction;
    `workers` > 1 loads that many directories at once, each on its own
    database connection (so only outside an enclosing transaction, e.g.
    commands).

    Returns rows really inserted per table (rows read, for a dry run); bad
    files are listed in `files_failed` with the reason, and nothing of the
    directory they belong to is stored.
    """
    report = LoadReport(dry_run=dry_run)
    work: list[tuple[Path, list[SnanaPair], dict[str, np.ndarray] | None]] = []
    for directory in map(Path, dirs):
        if not directory.is_dir():
            report.files_failed.append((str(directory), "not a directory"))
            continue
        pairs, missing = find_pairs(directory)
        if missing:
            report.files_failed.extend(
                (name, f"{reason}; nothing of {directory.name} was loaded") for name, reason in missing
            )
            continue
        if not pairs:
            report.files_failed.append((str(directory), "no *_HEAD.FITS[.gz] files"))
            continue
        dump_path = _dump_file(directory)
        dump = None
        if dump_path is not None:
            try:
                dump = read_dump(dump_path)
            except SnanaFormatError as exc:
                # Its pairs would load without their object truth, and a
                # re-run with a good DUMP would then add none (the objects
                # exist): the directory is refused whole instead.
                report.files_failed.append((str(dump_path), f"{exc}; nothing of {directory.name} was loaded"))
                continue
            report.files_loaded.append(str(dump_path))
        work.append((directory, pairs, dump))

    options = {
        "simversion": simversion,
        "zeropoint": zeropoint,
        "snana_zeropoint": snana_zeropoint,
        "detect_bit": detect_bit,
        "dry_run": dry_run,
    }
    return load_units(
        units=work,
        load=lambda item: _load_directory(*item, **options),
        report=report,
        workers=workers,
        desc="SNANA",
        unit="model",
        progress=progress,
    )
