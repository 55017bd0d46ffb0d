"""The follow-up API under /elasticc2/ (README, "Follow-up coordination"): thin views that parse
the body (`validation`), call a selector or service and shape the answer.

Every answer is JSON with `status`: "ok", or "error" with `error` naming the
key or ids at fault (400 bad body, 403 not allowed, 404 unknown objects),
never the original's 500.
"""

from typing import Any, ClassVar

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from elasticc.access.groups import is_elasticc_admin
from elasticc.api.views import RENDERERS
from elasticc.followup import selectors, services, shaping
from elasticc.followup.validation import BodyError, Key, json_schema, not_both, parse_body

_MJD_NOW = Key("mjd_now", "float", "Only what was known at this MJD (midPointTai <= mjd_now).")
_HOSTINFO = Key(
    "include_hostinfo", "flag", "1: add the host galaxy's magnitudes, ellipticity, size, separation.", default=0
)
_FORMAT = Key(
    "return_format", "format", "0: photometry dict per object; 1: photometry keys per object; 2: dict of columns.",
    default=0,
)  # fmt: skip


def _error(message: str, *, status_code: int, **extra: Any) -> Response:
    return Response({"status": "error", "error": message, **extra}, status=status_code)


class FollowupView(APIView):
    """POST (and GET, with the same JSON body, where a subclass allows it in
    `http_method_names`) with a body declared by `keys`."""

    renderer_classes = RENDERERS
    http_method_names = ["post", "options"]
    keys: ClassVar[tuple[Key, ...]] = ()

    def answer(
        self, request: Request, values: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any] | HttpResponseBase:
        """The answer's keys beside `status`, or a whole (streamed) response."""
        raise NotImplementedError

    def post(self, request: Request) -> Response:
        # A bodiless GET (or a JSON null) asks with every default.
        body = {} if request.data is None or request.data == "" else request.data
        try:
            values = parse_body(body, self.keys)
            answer = self.answer(request, values, body)
            if isinstance(answer, HttpResponseBase):
                return answer
            return Response({"status": "ok", **answer})
        except BodyError as exc:
            return _error(str(exc), status_code=status.HTTP_400_BAD_REQUEST, key=exc.key)
        except services.UnknownObjects as exc:
            return _error(str(exc), status_code=status.HTTP_404_NOT_FOUND, objectids=exc.ids)
        except PermissionError as exc:
            return _error(str(exc), status_code=status.HTTP_403_FORBIDDEN)

    def get(self, request: Request) -> Response:
        return self.post(request)


def _documented(summary: str, keys: tuple[Key, ...], answer: str) -> Any:
    """Class decorator: the OpenAPI entry of a view's POST (and GET)."""
    schema = extend_schema(
        summary=summary,
        request={"application/json": json_schema(keys)},
        responses={
            200: OpenApiResponse(description=answer),
            400: OpenApiResponse(description='{"status": "error", "error", "key"}: the key at fault.'),
            404: OpenApiResponse(description='{"status": "error", "error", "objectids"}: unknown objects.'),
        },
        tags=["elasticc2 follow-up"],
    )
    return extend_schema_view(get=schema, post=schema)


def _check_known(objectids: list[int], mjd_now: float | None) -> None:
    services.check_objects_exist(objectids=objectids)
    unknown = set(objectids) - selectors.known_objects(objectids=objectids, mjd_now=mjd_now)
    if unknown:
        raise services.UnknownObjects(sorted(unknown), why="no alert of it sent (up to mjd_now)")


def _light_curves_response(chunks: selectors.LightCurveChunks, values: dict[str, Any]) -> StreamingHttpResponse:
    """A light-curve answer streams: it can be tens of MB (hot transients)."""
    return StreamingHttpResponse(
        shaping.light_curves_json(
            chunks, return_format=values["return_format"], include_hostinfo=values["include_hostinfo"]
        ),
        content_type="application/json",
    )


_LTCV_KEYS = (
    Key("objectid", "int", "One diaObjectId (or give objectids)."),
    Key("objectids", "intlist", "diaObjectIds (or give objectid)."),
    _MJD_NOW,
    _HOSTINFO,
    _FORMAT,
)
_LTCV_ANSWER = (
    '{"status": "ok", "diaobject": ...}: the known forced photometry, time-ordered, with objectid, ra, dec, zp, '
    "redshift and sncode (latest reported spectrum, else -99); shape set by return_format."
)


@_documented("Known light curves of objects", _LTCV_KEYS, _LTCV_ANSWER)
class LightCurvesView(FollowupView):
    """`elasticc2/ltcv` (also `ltcvs`): known light curves of given objects."""

    keys = _LTCV_KEYS
    http_method_names = ["get", "post", "options"]

    def answer(self, request: Request, values: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        not_both(body, "objectid", "objectids")
        if values["objectid"] is None and values["objectids"] is None:
            raise BodyError("missing required key 'objectid' or 'objectids'", key="objectids")
        ids = [values["objectid"]] if values["objectid"] is not None else values["objectids"]
        _check_known(ids, values["mjd_now"])
        chunks = selectors.light_curves(
            objectids=ids, mjd_now=values["mjd_now"], include_hostinfo=values["include_hostinfo"]
        )
        return _light_curves_response(chunks, values)


_HOT_KEYS = (
    Key("detected_since_mjd", "float", "Objects with a known detection at or after this MJD."),
    Key(
        "detected_in_last_days",
        "float",
        "Objects with a known detection in the last days before mjd_now.",
        default=30.0,
    ),
    _MJD_NOW,
    _HOSTINFO,
    _FORMAT,
    Key("cheat_gentypes", "intlist", "Keep only these true gentypes (elasticc_admin members only)."),
)


@_documented("Known light curves of recently detected objects", _HOT_KEYS, _LTCV_ANSWER)
class HotTransientsView(FollowupView):
    """`elasticc2/gethottransients`: known light curves of recently detected objects."""

    keys = _HOT_KEYS
    http_method_names = ["get", "post", "options"]

    def answer(self, request: Request, values: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        not_both(body, "detected_since_mjd", "detected_in_last_days")
        if values["cheat_gentypes"] is not None and not is_elasticc_admin(request.user):
            raise PermissionError("cheat_gentypes is truth: only elasticc_admin members may use it")
        since = values["detected_since_mjd"]
        if since is None:
            since = (values["mjd_now"] or selectors.current_mjd()) - values["detected_in_last_days"]
        chunks = selectors.hot_transients(
            detected_since_mjd=since,
            mjd_now=values["mjd_now"],
            include_hostinfo=values["include_hostinfo"],
            cheat_gentypes=values["cheat_gentypes"],
        )
        return _light_curves_response(chunks, values)


_ASK_KEYS = (
    Key("requester", "str", "Who wants the spectra (a program, e.g. RESSPECT).", required=True),
    Key("objectids", "intlist", "diaObjectIds.", required=True),
    Key("priorities", "intlist", "One per object, clamped to 0..5 (5 the most urgent).", required=True),
)


@_documented("Ask for spectra", _ASK_KEYS, '{"status": "ok", "message": "wanted spectra created", "num": n}')
class AskForSpectrumView(FollowupView):
    """`elasticc2/askforspectrum`: store or replace wanted spectra."""

    keys = _ASK_KEYS

    def answer(self, request: Request, values: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        num = services.ask_for_spectra(
            user=request.user,
            requester=values["requester"],
            objectids=values["objectids"],
            priorities=values["priorities"],
        )
        return {"message": "wanted spectra created", "num": num}


_WANTED_KEYS = (
    Key("requested_since", "datetime", "Asked for at or after (UTC); default 14 days ago."),
    Key(
        "not_claimed_in_last_days",
        "float",
        "Leave out objects with a plan this recent; <= 0 ignores plans.",
        default=7.0,
    ),
    Key("detected_since_mjd", "float", "Objects with a known detection at or after this MJD."),
    Key(
        "detected_in_last_days",
        "float",
        "Objects with a known detection in the last days before mjd_now.",
        default=14.0,
    ),
    Key(
        "no_spectra_in_last_days",
        "float",
        "Leave out objects with a spectrum this recent; <= 0 ignores reports.",
        default=7.0,
    ),
    Key("lim_mag", "float", "Only objects whose latest S/N>3 point in lim_mag_band is at least this bright."),
    Key("lim_mag_band", "str", "The band of lim_mag (u, g, r, i, z or Y)."),
    _MJD_NOW,
)


@_documented(
    "Wanted spectra nobody planned or reported",
    _WANTED_KEYS,
    '{"status": "ok", "wantedspectra": [{"oid", "ra", "dec", "req", "prio", "latest": {band: {"mjd", "mag"}}}]}',
)
class SpectraWantedView(FollowupView):
    """`elasticc2/spectrawanted`: wanted spectra nobody planned or took recently."""

    keys = _WANTED_KEYS
    http_method_names = ["get", "post", "options"]

    def answer(self, request: Request, values: dict[str, Any], body: dict[str, Any]) -> HttpResponse:
        not_both(body, "detected_since_mjd", "detected_in_last_days")
        if (values["lim_mag"] is None) != (values["lim_mag_band"] is None):
            raise BodyError("'lim_mag' and 'lim_mag_band' go together", key="lim_mag_band")
        if values["lim_mag_band"] is not None and values["lim_mag_band"] not in selectors.BANDS:
            raise BodyError(f"'lim_mag_band' must be one of {', '.join(selectors.BANDS)}", key="lim_mag_band")
        wanted = selectors.wanted_spectra_by_filters(**values)
        return HttpResponse(f'{{"status":"ok","wantedspectra":{wanted}}}', content_type="application/json")


_PLAN_KEYS = (
    Key("objectid", "int", "A diaObjectId.", required=True),
    Key("facility", "str", "Who will take the spectrum.", required=True),
    Key("plantime", "datetime", "When (UTC), 'YYYY-MM-DD[ HH:MM:SS]'.", required=True),
    Key("comment", "text", "Free text.", default=""),
)


@_documented(
    "Declare a planned spectrum",
    _PLAN_KEYS,
    '{"status": "ok", "objectid", "facility", "plantime", "comment", "created_at"}',
)
class PlanSpectrumView(FollowupView):
    """`elasticc2/planspectrum`: declare (or re-declare) a facility's plan."""

    keys = _PLAN_KEYS

    def answer(self, request: Request, values: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        plan = services.plan_spectrum(user=request.user, **values)
        return {
            "objectid": plan.diaobject_id,
            "facility": plan.facility,
            "plantime": plan.plantime.isoformat(),
            "comment": plan.comment,
            "created_at": plan.created_at.isoformat(),
        }


_REMOVE_KEYS = (
    Key("objectid", "int", "A diaObjectId.", required=True),
    Key("facility", "str", "The facility whose plan goes.", required=True),
)


@_documented("Withdraw a planned spectrum", _REMOVE_KEYS, '{"status": "ok", "objectid", "facility", "n_deleted"}')
class RemoveSpectrumPlanView(FollowupView):
    """`elasticc2/removespectrumplan`: withdraw a plan."""

    keys = _REMOVE_KEYS

    def answer(self, request: Request, values: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        n_deleted = services.remove_spectrum_plan(objectid=values["objectid"], facility=values["facility"])
        return {"objectid": values["objectid"], "facility": values["facility"], "n_deleted": n_deleted}


_REPORT_KEYS = (
    Key("objectid", "int", "A diaObjectId.", required=True),
    Key("facility", "str", "Who took the spectrum.", required=True),
    Key("mjd", "float", "When it was taken.", required=True),
    Key("z", "z", 'Redshift, or "" when unknown.', required=True),
    Key("classid", "int", "ELAsTiCC2 classId (300 = NotClassified).", required=True),
)


@_documented(
    "Report what a spectrum showed",
    _REPORT_KEYS,
    '{"status": "ok", "objectid", "facility", "mjd", "z", "classid", "reported_at"}',
)
class ReportSpectrumInfoView(FollowupView):
    """`elasticc2/reportspectruminfo`: store what a spectrum showed (removes the facility's plan)."""

    keys = _REPORT_KEYS

    def answer(self, request: Request, values: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        info = services.report_spectrum(user=request.user, **values)
        return {
            "objectid": info.diaobject_id,
            "facility": info.facility,
            "mjd": info.mjd,
            "z": info.z,
            "classid": info.classid,
            "reported_at": info.reportedat.isoformat(),
        }


_KNOWN_KEYS = (
    Key("objectid", "ids", "A diaObjectId or a list of them."),
    Key("facility", "str", "Reported by this facility."),
    Key("mjd_min", "float", "Spectrum MJD at or after."),
    Key("mjd_max", "float", "Spectrum MJD at or before."),
    Key("classid", "int", "ELAsTiCC2 classId."),
    Key("z_min", "float", "Redshift at least."),
    Key("z_max", "float", "Redshift at most."),
    Key("since", "datetime", "Reported at or after (UTC), 'YYYY-MM-DD[THH:MM:SS]'."),
)


@_documented(
    "Reported spectra", _KNOWN_KEYS, '{"status": "ok", "spectra": [{"objectid", "facility", "mjd", "z", "classid"}]}'
)
class KnownSpectrumInfoView(FollowupView):
    """`elasticc2/getknownspectruminfo`: reported spectra, filtered, by mjd."""

    keys = _KNOWN_KEYS
    http_method_names = ["get", "post", "options"]

    def answer(self, request: Request, values: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        return {"spectra": selectors.known_spectra(objectids=values.pop("objectid"), **values)}


_TARGET_KEYS = (Key("objectid", "int", "A diaObjectId.", required=True),)


@_documented(
    "Make an object a TOM Toolkit Target (once)",
    _TARGET_KEYS,
    '{"status": "ok", "objectid", "target_id", "name", "created", "url"}: created false when it already was one.',
)
class MakeTargetView(FollowupView):
    """`elasticc2/maketarget`: the object page's target button, for scripts."""

    keys = _TARGET_KEYS

    def answer(self, request: Request, values: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        objectid = values["objectid"]
        if objectid < 0:  # no object has one, and the object page's URL takes none
            raise services.UnknownObjects([objectid])
        target, created = services.make_target(
            objectid=objectid, object_url=request.build_absolute_uri(reverse("elasticc:object", args=[objectid]))
        )
        url = request.build_absolute_uri(reverse("targets:detail", args=[target.pk]))
        return {"objectid": objectid, "target_id": target.pk, "name": target.name, "created": created, "url": url}
