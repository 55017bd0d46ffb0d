"""A small client for the DESC TOM: copy this file next to your script, or
`pip install <tom checkout>/db/client`. Needs only `requests` (and `pandas`
for `long_query`).

    from tom_client import TomClient
    tom = TomClient("https://desc-tom.lbl.gov", username="me", passwordfile="~/.tompw")
    rows = tom.runsqlquery("SELECT classid, name FROM elasticc_classid WHERE level = %(lv)s", {"lv": 3})
    frame = tom.long_query("SELECT * FROM elasticc_brokerclassification WHERE classifierid = %(c)s", {"c": 7})

It keeps the interface of the original `tom_client.py`
(`TomClient(url, username, password=None, passwordfile=None)`, `get/post/put`,
`request(method, page, **kwargs)` returning `requests` responses after the
Django login/CSRF dance), and adds API-token auth, `iterate` over paginated
lists, `runsqlquery`, `long_query` and typed helpers for the follow-up API
(`ltcv`, `hot_transients`, `ask_for_spectrum`, `spectra_wanted`,
`plan_spectrum`, `remove_spectrum_plan`, `report_spectrum`, `known_spectra`,
`make_target`).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

__all__ = ["TomClient", "TomError"]


class TomError(RuntimeError):
    """The server refused or failed a request; the message is the server's."""


class TomClient:
    """A logged-in session on a DESC TOM.

    Give `username` with `password` or `passwordfile` (first line of the file)
    to log in like a browser, or `token` (see your TOM profile / an admin) to
    send `Authorization: Token <token>` instead.
    """

    def __init__(
        self,
        url: str = "https://desc-tom.lbl.gov",
        username: str | None = None,
        password: str | None = None,
        passwordfile: str | None = None,
        connect: bool = True,
        token: str | None = None,
        timeout: float = 600.0,
    ) -> None:
        self._url = url.rstrip("/")
        self._username = username
        self._password = password
        self._token = token
        self._timeout = timeout
        self._rqs: requests.Session | None = None
        if token is None and password is None:
            if passwordfile is None:
                raise RuntimeError("Must give either password or passwordfile (or token).")
            with open(Path(passwordfile).expanduser()) as ifp:
                self._password = ifp.readline().strip()
        if connect:
            self.connect()

    def connect(self) -> None:
        """Log in (or set up token auth) on a fresh `requests` session."""
        self._rqs = requests.session()
        if self._token is not None:
            self._rqs.headers.update({"Authorization": f"Token {self._token}"})
            return
        res = self._rqs.get(f"{self._url}/accounts/login/", timeout=self._timeout)
        if res.status_code != 200:
            raise RuntimeError(f"Got status {res.status_code} from first attempt to connect to {self._url}")
        res = self._rqs.post(
            f"{self._url}/accounts/login/",
            data={
                "username": self._username,
                "password": self._password,
                "csrfmiddlewaretoken": self._rqs.cookies["csrftoken"],
            },
            timeout=self._timeout,
        )
        if res.status_code != 200:
            raise RuntimeError(f"Failed to log in; http status: {res.status_code}")
        if "Please enter a correct" in res.text:
            raise RuntimeError(f"Failed to log in to {self._url} as {self._username}: wrong username or password")
        self._rqs.headers.update({"X-CSRFToken": self._rqs.cookies["csrftoken"]})

    # --- the original interface -------------------------------------------

    def request(self, method: str = "GET", page: str | None = None, **kwargs: Any) -> requests.Response:
        """`method` on `<url>/<page>`; kwargs go to `requests` (json=, params=, data=...)."""
        if self._rqs is None:
            self.connect()
        kwargs.setdefault("timeout", self._timeout)
        target = (
            page if page and page.startswith(("http://", "https://")) else f"{self._url}/{(page or '').lstrip('/')}"
        )
        return self._rqs.request(method=method, url=target, **kwargs)

    def get(self, page: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", page, **kwargs)

    def post(self, page: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", page, **kwargs)

    def put(self, page: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", page, **kwargs)

    # --- conveniences -------------------------------------------------------

    @staticmethod
    def _raise_for(res: requests.Response, *, sql_error_key: str | None = None) -> None:
        """Raise TomError for an HTTP error, or for the SQL endpoints' HTTP 200
        `{"status": "error", "error"}` (a JSON body without `sql_error_key`)."""
        if res.status_code < 400:
            if not res.headers.get("Content-Type", "").startswith("application/json"):
                return
            body = res.json()
            if isinstance(body, dict) and body.get("status") == "error" and sql_error_key not in body:
                raise TomError(f"{res.url}: {body.get('error')}")
            return
        try:
            message = res.json().get("error") or res.text
        except ValueError:
            message = res.text[:500]
        raise TomError(f"HTTP {res.status_code} from {res.url}: {message}")

    def iterate(self, page: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list endpoint (e.g. "elasticc/diaobject/"), following `next`."""
        res = self.get(page, params=params)
        while True:
            self._raise_for(res)
            data = res.json()
            yield from data["results"]
            if not data.get("next"):
                return
            res = self.get(data["next"])

    def runsqlquery(self, query: str | list[str], subdict: dict | list[dict] | None = None) -> list[dict[str, Any]]:
        """Rows (list of dicts) of the last query; raises TomError with the server's message."""
        body: dict[str, Any] = {"query": query}
        if subdict is not None:
            body["subdict"] = subdict
        res = self.post("db/runsqlquery/", json=body)
        try:
            data = res.json()
        except ValueError as exc:
            raise TomError(f"HTTP {res.status_code} from {res.url}: {res.text[:500]}") from exc
        if res.status_code != 200 or data.get("status") != "ok":
            raise TomError(f"SQL query failed: {data.get('error', res.text[:500])}")
        return data["rows"]

    def submit_long_query(
        self, query: str | list[str], subdict: dict | list[dict] | None = None, format: str = "parquet"
    ) -> str:
        """Queue a long query; returns its id."""
        body: dict[str, Any] = {"query": query, "format": format}
        if subdict is not None:
            body["subdict"] = subdict
        res = self.post("db/submitsqlquery/", json=body)
        self._raise_for(res, sql_error_key="queryid")
        return res.json()["queryid"]

    def check_long_query(self, queryid: str) -> dict[str, Any]:
        """{"queryid", "status": queued|started|finished|error, "submitted", "started", "finished", "error"}."""
        res = self.post(f"db/checksqlquery/{queryid}/")
        self._raise_for(res, sql_error_key="queryid")
        return res.json()

    def long_query_results(self, queryid: str) -> bytes:
        """The result file (CSV text, Parquet bytes or a pickled DataFrame) of a finished query."""
        res = self.post(f"db/getsqlqueryresults/{queryid}/")
        self._raise_for(res)
        return res.content

    def long_query(
        self,
        query: str | list[str],
        subdict: dict | list[dict] | None = None,
        format: str = "parquet",
        poll_interval: float = 10.0,
        max_wait: float | None = 3600.0,
    ):
        """Submit, wait for a runner to finish it, and return a pandas DataFrame.

        Raises TomError after `max_wait` seconds (None: wait for ever), e.g.
        when no `long_query_runner` is running on the server."""
        import pandas as pd

        queryid = self.submit_long_query(query, subdict, format)
        started = time.monotonic()
        while True:
            status = self.check_long_query(queryid)
            if status["status"] == "finished":
                break
            if status["status"] == "error":
                raise TomError(f"long query {queryid} failed: {status.get('error')}")
            if max_wait is not None and time.monotonic() - started > max_wait:
                raise TomError(
                    f"long query {queryid} still {status['status']} after {max_wait} s "
                    "(is a long_query_runner running on the server?)"
                )
            time.sleep(poll_interval)
        content = self.long_query_results(queryid)
        if format == "parquet":
            return pd.read_parquet(io.BytesIO(content))
        if format == "pandas":
            return pd.read_pickle(io.BytesIO(content))
        return pd.read_csv(io.BytesIO(content))

    # --- the follow-up API (/elasticc2/; README, "Follow-up coordination") ----------------

    def _followup(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` (None values left out) to elasticc2/<endpoint> as the original client did; raises TomError."""
        res = self.post(f"elasticc2/{endpoint}", json={key: value for key, value in body.items() if value is not None})
        self._raise_for(res)
        return res.json()

    @staticmethod
    def _light_curves(answer: dict[str, Any], return_format: int) -> Any:
        if return_format == 2:
            import pandas

            return pandas.DataFrame(answer["diaobject"])
        return answer["diaobject"]

    def ltcv(
        self,
        objectids: int | list[int],
        *,
        mjd_now: float | None = None,
        include_hostinfo: bool = False,
        return_format: int = 0,
    ) -> list[dict[str, Any]] | Any:
        """Known light curves of one object or several: a list of dicts (formats 0, 1)
        or a pandas DataFrame with list-valued mjd/band/flux/fluxerr (format 2)."""
        key = "objectids" if isinstance(objectids, list) else "objectid"
        answer = self._followup(
            "ltcv",
            {
                key: objectids,
                "mjd_now": mjd_now,
                "include_hostinfo": int(include_hostinfo),
                "return_format": return_format,
            },
        )
        return self._light_curves(answer, return_format)

    def hot_transients(
        self,
        *,
        detected_since_mjd: float | None = None,
        detected_in_last_days: float | None = None,
        mjd_now: float | None = None,
        include_hostinfo: bool = False,
        return_format: int = 0,
    ) -> list[dict[str, Any]] | Any:
        """Known light curves of objects detected since an MJD or in the last days
        (default 30) before mjd_now; format 2 gives a pandas DataFrame."""
        answer = self._followup(
            "gethottransients",
            {
                "detected_since_mjd": detected_since_mjd,
                "detected_in_last_days": detected_in_last_days,
                "mjd_now": mjd_now,
                "include_hostinfo": int(include_hostinfo),
                "return_format": return_format,
            },
        )
        return self._light_curves(answer, return_format)

    def ask_for_spectrum(self, requester: str, objectids: list[int], priorities: list[int]) -> int:
        """Ask for spectra (priority 0..5, 5 the most urgent); asking again replaces. Returns how many."""
        return self._followup(
            "askforspectrum", {"requester": requester, "objectids": objectids, "priorities": priorities}
        )["num"]

    def spectra_wanted(
        self,
        *,
        requested_since: str | None = None,
        not_claimed_in_last_days: float | None = None,
        detected_since_mjd: float | None = None,
        detected_in_last_days: float | None = None,
        no_spectra_in_last_days: float | None = None,
        lim_mag: float | None = None,
        lim_mag_band: str | None = None,
        mjd_now: float | None = None,
    ) -> list[dict[str, Any]]:
        """Wanted spectra nobody planned or took recently: [{"oid", "ra", "dec", "req", "prio", "latest"}]."""
        return self._followup(
            "spectrawanted",
            {
                "requested_since": requested_since,
                "not_claimed_in_last_days": not_claimed_in_last_days,
                "detected_since_mjd": detected_since_mjd,
                "detected_in_last_days": detected_in_last_days,
                "no_spectra_in_last_days": no_spectra_in_last_days,
                "lim_mag": lim_mag,
                "lim_mag_band": lim_mag_band,
                "mjd_now": mjd_now,
            },
        )["wantedspectra"]

    def plan_spectrum(self, objectid: int, facility: str, plantime: str, comment: str | None = None) -> dict[str, Any]:
        """Declare a plan (plantime 'YYYY-MM-DD[ HH:MM:SS]', UTC); returns the stored plan with created_at."""
        return self._followup(
            "planspectrum", {"objectid": objectid, "facility": facility, "plantime": plantime, "comment": comment}
        )

    def remove_spectrum_plan(self, objectid: int, facility: str) -> int:
        """Withdraw a plan; returns how many were deleted."""
        return self._followup("removespectrumplan", {"objectid": objectid, "facility": facility})["n_deleted"]

    def report_spectrum(
        self, objectid: int, facility: str, mjd: float, classid: int, z: float | None = None
    ) -> dict[str, Any]:
        """Report what a spectrum showed (z None when unknown; classid ELAsTiCC2, 300 = NotClassified)."""
        return self._followup(
            "reportspectruminfo",
            {"objectid": objectid, "facility": facility, "mjd": mjd, "z": "" if z is None else z, "classid": classid},
        )

    def known_spectra(
        self,
        *,
        objectid: int | list[int] | None = None,
        facility: str | None = None,
        mjd_min: float | None = None,
        mjd_max: float | None = None,
        classid: int | None = None,
        z_min: float | None = None,
        z_max: float | None = None,
        since: str | None = None,
    ) -> list[dict[str, Any]]:
        """Reported spectra matching every filter given, by mjd: [{"objectid", "facility", "mjd", "z", "classid"}]."""
        return self._followup(
            "getknownspectruminfo",
            {
                "objectid": objectid,
                "facility": facility,
                "mjd_min": mjd_min,
                "mjd_max": mjd_max,
                "classid": classid,
                "z_min": z_min,
                "z_max": z_max,
                "since": since,
            },
        )["spectra"]

    def make_target(self, objectid: int) -> dict[str, Any]:
        """Make an object a TOM Toolkit Target (once): {"target_id", "name", "created", "url"}."""
        return self._followup("maketarget", {"objectid": objectid})
