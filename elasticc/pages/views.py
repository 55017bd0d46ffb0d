"""ELAsTiCC pages. Thin views: counts come from `elasticc.read.counts` (trigger
counters), metrics from `elasticc.metrics.readers` (incrementally maintained
aggregates), so no page request scans a big table. Charts are drawn in the
browser by the vendored plotly.js from data passed with `json_script`."""

import json
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from elasticc.access.groups import may_see_truth
from elasticc.followup import selectors as followup_selectors
from elasticc.followup import services as followup_services
from elasticc.followup.validation import BodyError, as_date_or_datetime
from elasticc.metrics import charts, readers
from elasticc.metrics.refresh import mode_days
from elasticc.models import DiaObject
from elasticc.pages.forms import (
    AskSpectrumForm,
    ComparisonForm,
    MetricsForm,
    ObjectBrowserForm,
    ObjectSearchForm,
    PairForm,
    PlanSpectrumForm,
    ReportSpectrumForm,
    WantedFilterForm,
    WithdrawPlanForm,
)
from elasticc.read import counts, selectors
from elasticc.read.sky import cone_filter
from elasticc.taxonomy.taxonomies import ELASTICC2
from elasticc.taxonomy.taxonomies import LABELS as TAXONOMY_LABELS

CONE_RESULT_LIMIT = 200
OBJECTS_PER_PAGE = 100
REPORTS_SHOWN = 500
BANDS = ("u", "g", "r", "i", "z", "Y")
# Host fields and the decimals they are shown with.
HOST_FIELDS = (
    ("hostgal_zspec", 4),
    ("hostgal_zphot", 4),
    ("hostgal_zphot_err", 4),
    ("hostgal_snsep", 3),
    ("hostgal_ra", 6),
    ("hostgal_dec", 6),
)
# SNANA writes these for "no value" (no host, no redshift); shown as a dash, never as a number.
SENTINELS = (-9.0, 999.0, -999.0)


class TruthRequiredMixin(LoginRequiredMixin, UserPassesTestMixin):
    """Pages of truth: for those `may_see_truth` lets in. Anonymous users go to
    the login page; logged-in others get a 403 page in the TOM frame (marked
    `keep_403` so the 403-to-login middleware leaves it alone)."""

    def test_func(self) -> bool:
        return may_see_truth(self.request.user)

    def handle_no_permission(self):
        if not self.request.user.is_authenticated:
            return super().handle_no_permission()
        response = render(self.request, "elasticc/403.html", status=403)
        response.keep_403 = True
        return response


class FrontPageView(LoginRequiredMixin, TemplateView):
    """What the TOM holds, with links to everything else."""

    template_name = "elasticc/index.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["counts"] = counts.table_counts()
        context["truth_visible"] = may_see_truth(self.request.user)
        context["search_form"] = ObjectSearchForm()
        return context


class StreamStatusView(LoginRequiredMixin, TemplateView):
    """Alerts sent and broker messages per simulated night, and the lag since
    the last of each: read from the per-night aggregates, no big table."""

    template_name = "elasticc/stream.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        nights = readers.stream_nights()
        labels = {c["classifierid"]: _classifier_label(c, c["classifierid"]) for c in selectors.classifiers()}
        for row in nights["messages"]:
            row["label"] = labels.get(row["classifierid"], f"classifier {row['classifierid']}")
        context.update(charts=nights, lag=readers.stream_lag(timezone.now()))
        return context


class ObjectBrowserView(LoginRequiredMixin, View):
    """Objects one classifier predicted, filtered by predicted class (at a
    level), probability, detection MJD span and number of detections, and,
    for those who may see truth, true class: so a confusion-matrix cell
    (true and predicted class) links here. Keyset pages of diaObjectId."""

    def get(self, request):
        truth_visible = may_see_truth(request.user)
        classifiers = _by_name(selectors.classifiers())
        choices = [(c["classifierid"], _classifier_label(c, c["classifierid"])) for c in classifiers]
        form = ObjectBrowserForm(request.GET or None, classifiers=choices, truth=truth_visible)
        context = {"form": form, "truth_visible": truth_visible}
        if not request.GET:
            return render(request, "elasticc/objects.html", context)
        if not form.is_valid():
            return render(request, "elasticc/objects.html", context, status=400)
        params = form.cleaned_data
        taxonomy = next(c["evaluatedtaxonomy"] for c in classifiers if c["classifierid"] == params["classifier"])
        if params["level"] not in readers.levels_of(taxonomy):
            form.add_error("level", f"the {taxonomy} taxonomy has no {params['level']} level")
            return render(request, "elasticc/objects.html", context, status=400)

        def members(classid: int | None) -> list[int] | None:
            return None if classid is None else readers.classes_within(classid, params["level"], taxonomy=taxonomy)

        rows = readers.browse_objects(
            classifierid=params["classifier"],
            mode=params["mode"],
            predclasses=members(params["predclass"]),
            trueclasses=members(params.get("trueclass")) if truth_visible else None,
            min_probability=params["pmin"],
            mjd_min=params["mjd_min"],
            mjd_max=params["mjd_max"],
            ndet_min=params["ndet_min"],
            ndet_max=params["ndet_max"],
            after=params["after"],
            limit=OBJECTS_PER_PAGE + 1,
            with_truth=truth_visible,
        )
        next_query = None
        if len(rows) > OBJECTS_PER_PAGE:
            rows = rows[:OBJECTS_PER_PAGE]
            query = request.GET.copy()
            query["after"] = rows[-1]["diaobjectid"]
            next_query = query.urlencode()
        names = selectors.class_names(taxonomy=taxonomy)
        for row in rows:
            row["predname"] = names.get(row["predclassid"], "")
            row["truename"] = names.get(row["trueclassid"], "")
        first_query = request.GET.copy()
        first_query.pop("after", None)
        context.update(
            rows=rows,
            next_query=next_query,
            first_query=first_query.urlencode() if params["after"] is not None else None,
            params=params,
        )
        return render(request, "elasticc/objects.html", context)


class SqlHelpView(LoginRequiredMixin, TemplateView):
    """How to run SQL over HTTP (`/db/runsqlquery/`) and from the Python client."""

    template_name = "elasticc/sql.html"


class SummaryView(LoginRequiredMixin, TemplateView):
    """Table counts and per-classifier messages/classifications."""

    template_name = "elasticc/summary.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        classifiers = _by_name(selectors.classifiers())
        table = counts.row_counts([*counts.SUMMARY_TABLES, counts.ALERTS_SENT_KEY])
        stats = readers.classifier_stats()
        for classifier in classifiers:
            classifier.update(stats.get(classifier["classifierid"], {"nmessages": 0, "lastingest": None}))
        sent = table[counts.ALERTS_SENT_KEY]
        context.update(
            objects=table["elasticc_diaobject"],
            sources=table["elasticc_diasource"],
            forced=table["elasticc_diaforcedsource"],
            alerts_sent=sent,
            alerts_unsent=table["elasticc_diaalert"] - sent,
            broker_messages=table["elasticc_brokermessage"],
            classifications=table["elasticc_brokerclassification"],
            classifiers=classifiers,
            as_of=readers.as_of(),
            truth_visible=may_see_truth(self.request.user),
        )
        return context


class AdminSummaryView(TruthRequiredMixin, TemplateView):
    """Objects per true class (truth gentype through elasticc_gentypeofclassid)."""

    template_name = "elasticc/admin_summary.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        names = selectors.class_names()
        of_gentype = selectors.classid_of_gentype()
        by_class: dict[int | None, dict] = {}
        for gentype, n in readers.truth_counts():
            classid = of_gentype.get(gentype)
            row = by_class.setdefault(
                classid, {"classid": classid, "name": names.get(classid, ""), "objects": 0, "gentypes": []}
            )
            row["objects"] += n
            row["gentypes"].append((gentype, n))
        rows = sorted(by_class.values(), key=lambda r: (r["classid"] is None, r["classid"] or 0))
        truth = counts.row_counts(["elasticc_diaobjecttruth", "elasticc_diatruth"])
        context.update(
            rows=rows,
            object_truth=truth["elasticc_diaobjecttruth"],
            epoch_truth=truth["elasticc_diatruth"],
        )
        return context


class ClassifierListView(LoginRequiredMixin, View):
    """Every classifier side by side, for a chosen level and mode: the page
    astronomers open first. Counts, completeness of alerts answered and
    delays for everyone; accuracy, macro F1 and per-class purity and
    completeness only for those who may see truth (not computed otherwise)."""

    def get(self, request):
        truth_visible = may_see_truth(request.user)
        form = ComparisonForm(request.GET)
        if not form.is_valid():
            context = {"form": form, "truth_visible": truth_visible, "rows": []}
            return render(request, "elasticc/classifier_list.html", context, status=400)
        params = form.cleaned_data
        rows = _by_name(readers.comparison(mode=params["mode"], level=params["level"], truth=truth_visible))
        if truth_visible:
            names = {t: selectors.class_names(taxonomy=t) for t in {r["evaluatedtaxonomy"] for r in rows}}
            for row in rows:
                for entry in row["per_class"]:
                    entry["name"] = names[row["evaluatedtaxonomy"]].get(entry["classid"], "?")
        context = {
            "form": ComparisonForm(initial=params),
            "params": params,
            "rows": rows,
            "truth_visible": truth_visible,
            "as_of": readers.as_of(),
        }
        return render(request, "elasticc/classifier_list.html", context)


class ClassifierPairView(TruthRequiredMixin, View):
    """Two classifiers' confusion matrices side by side and their per-class
    F1 difference (all truth-derived: admins only unless truth is public)."""

    def get(self, request):
        classifiers = _by_name(selectors.classifiers())
        form = PairForm(request.GET or None)
        context = {"form": form, "classifiers": classifiers}
        if not form.is_valid():
            return render(request, "elasticc/classifier_pair.html", context, status=400 if request.GET else 200)
        params = form.cleaned_data
        by_id = {c["classifierid"]: c for c in classifiers}
        if params["a"] not in by_id or params["b"] not in by_id:
            raise Http404("no such classifier")
        # A level one of the two taxonomies lacks (ELAsTiCC has no general level) is a
        # choice to correct on the form (the choices kept), not a missing page.
        level = params["level"]
        for side in ("a", "b"):
            taxonomy = by_id[params[side]]["evaluatedtaxonomy"]
            if level not in readers.levels_of(taxonomy):
                form.add_error("level", f"classifier {side.upper()}'s {taxonomy} taxonomy has no {level} level")
        if form.errors:
            context["params"] = params
            return render(request, "elasticc/classifier_pair.html", context, status=400)
        context.update(params=params, charts=_pair_charts(by_id[params["a"]], by_id[params["b"]], params))
        return render(request, "elasticc/classifier_pair.html", context)


def _pair_charts(a: dict, b: dict, params: dict) -> dict:
    """Both matrices (normalised by true class) and F1 of B minus F1 of A per class."""
    result: dict = {"matrices": []}
    for classifier in (a, b):
        taxonomy = classifier["evaluatedtaxonomy"]
        names = selectors.class_names(taxonomy=taxonomy)
        common = {"classifierid": classifier["classifierid"], "mode": params["mode"], "level": params["level"]}
        matrix = charts.confusion_matrix(**common, norm="true", names=names, taxonomy=taxonomy)
        matrix["label"] = _classifier_label(classifier, classifier["classifierid"])
        result["matrices"].append(matrix)
    result["f1_diff"] = charts.f1_difference(a=a, b=b, mode=params["mode"], level=params["level"])
    return result


class ClassifierMetricsView(LoginRequiredMixin, View):
    """Delays and completeness of one classifier, for everyone logged in; its
    confusion matrix and probability of the true class only for those who may
    see truth (`may_see_truth`): they are computed from the truth, so one
    message about one object under a fresh classifier would reveal that
    object's class. What is not shown is not computed, so neither the page
    nor its embedded JSON carries it."""

    def get(self, request, classifierid: int):
        classifier = next((c for c in selectors.classifiers() if c["classifierid"] == classifierid), None)
        if classifier is None:
            raise Http404("no such classifier")
        taxonomy = classifier["evaluatedtaxonomy"]
        levels = readers.levels_of(taxonomy)
        truth_visible = may_see_truth(request.user)
        form = MetricsForm(request.GET, levels=levels, truth=truth_visible)
        context = {
            "classifier": classifier,
            "form": form,
            "as_of": readers.as_of(),
            "taxonomy_label": TAXONOMY_LABELS[taxonomy],
            "truth_visible": truth_visible,
        }
        if not form.is_valid():
            return render(request, "elasticc/classifier_metrics.html", context, status=400)
        params = form.cleaned_data
        context["form"] = MetricsForm(initial=params, levels=levels, truth=truth_visible)
        first_day, last_day = readers.delay_days(classifierid=classifierid)
        chart_data: dict = {
            "delays": readers.delay_histograms(classifierid=classifierid, start=params["start"], end=params["end"]),
            "delay_labels": readers.DELAY_LABELS,
            "completeness": readers.completeness_on_axis(classifierid=classifierid, params=params),
        }
        if truth_visible:
            names = selectors.class_names(taxonomy=taxonomy)
            chart_data.update(
                confusion=charts.confusion_matrix(
                    classifierid=classifierid,
                    mode=params["mode"],
                    level=params["level"],
                    norm=params["norm"],
                    names=names,
                    taxonomy=taxonomy,
                ),
                trueprob=readers.true_class_probability(classifierid=classifierid),
                class_names={str(k): v for k, v in names.items()},
            )
        context.update(
            params=params,
            mode_days=mode_days(params["mode"]) if truth_visible else None,
            completeness_query=_completeness_query(params),
            first_day=first_day,
            last_day=last_day,
            stats=readers.classifier_stats().get(classifierid, {}),
            charts=chart_data,
        )
        return render(request, "elasticc/classifier_metrics.html", context)


class ObjectSearchView(LoginRequiredMixin, View):
    """Find objects by id (redirect to its page) or by cone."""

    def get(self, request):
        if not request.GET:
            return render(request, "elasticc/object_search.html", {"form": ObjectSearchForm()})
        form = ObjectSearchForm(request.GET)
        if not form.is_valid():
            return render(request, "elasticc/object_search.html", {"form": form}, status=400)
        data = form.cleaned_data
        if data["diaobjectid"] is not None:
            if DiaObject.objects.filter(diaobjectid=data["diaobjectid"]).exists():
                return HttpResponseRedirect(reverse("elasticc:object", args=[data["diaobjectid"]]))
            form.add_error("diaobjectid", f"no object {data['diaobjectid']}")
            return render(request, "elasticc/object_search.html", {"form": form}, status=404)
        matches = cone_filter(
            queryset=DiaObject.objects.all(), ra=data["ra"], dec=data["dec"], radius=data["radius"] / 3600.0
        ).values("diaobjectid", "ra", "decl")[: CONE_RESULT_LIMIT + 1]
        matches = list(matches)
        return render(
            request,
            "elasticc/object_search.html",
            {
                "form": form,
                "matches": matches[:CONE_RESULT_LIMIT],
                "truncated": len(matches) > CONE_RESULT_LIMIT,
                "searched": True,
            },
        )


class ObjectView(LoginRequiredMixin, View):
    """Light curve, host, alerts and classification history of one object."""

    def get(self, request, diaobjectid: int):
        obj = DiaObject.objects.filter(diaobjectid=diaobjectid).first()
        if obj is None:
            raise Http404("no such object")
        truth_visible = may_see_truth(request.user)
        names = selectors.class_names()
        classifiers = {c["classifierid"]: c for c in selectors.classifiers()}
        history: dict[int, dict] = {}
        for row in selectors.object_classifications(diaobjectid=diaobjectid):
            entry = history.setdefault(
                row["classifierid"], {"classifier": classifiers.get(row["classifierid"]), "points": []}
            )
            entry["points"].append(
                {
                    "mjd": row["midpointtai"],
                    "classid": row["classid"],
                    "probability": row["probability"],
                    "alertid": row["alertid"],
                }
            )
        truth = selectors.object_truth(diaobjectid=diaobjectid) if truth_visible else None
        host = [(name, _shown(getattr(obj, name), digits)) for name, digits in HOST_FIELDS]
        host += [(f"hostgal_mag_{band}", _shown(getattr(obj, f"hostgal_mag_{band}"), 3)) for band in "ugrizy"]
        info = {
            "mwebv": _shown(obj.mwebv, 4),
            "z_final": _shown(obj.z_final, 4),
            "z_final_err": _shown(obj.z_final_err, 4),
        }
        elasticc2_classes = selectors.class_names(taxonomy=ELASTICC2)
        context = {
            "obj": obj,
            "host": host,
            "info": info,
            "followup": followup_selectors.object_followup(diaobjectid=diaobjectid),
            "elasticc2_classes": elasticc2_classes,
            "target": followup_services.object_target(objectid=diaobjectid),
            # Ids per form (three of them have a facility field), so each label is its own field's.
            "followup_forms": [
                ("Ask for a spectrum", "ask", AskSpectrumForm(auto_id="id_ask_%s")),
                ("Declare a plan", "plan", PlanSpectrumForm(auto_id="id_plan_%s")),
                ("Withdraw a plan", "withdraw", WithdrawPlanForm(auto_id="id_withdraw_%s")),
                ("Report a spectrum", "report", ReportSpectrumForm(classes=elasticc2_classes, auto_id="id_report_%s")),
            ],
            "alerts": selectors.object_alerts(diaobjectid=diaobjectid),
            "truth_visible": truth_visible,
            "truth": truth,
            "truth_name": names.get(truth["trueclassid"]) if truth else None,
            "n_classifications": sum(len(entry["points"]) for entry in history.values()),
            "charts": {
                "lightcurve": selectors.object_light_curve(diaobjectid=diaobjectid),
                "history": [
                    {
                        "classifierid": cid,
                        "label": _classifier_label(entry["classifier"], cid),
                        "points": entry["points"],
                    }
                    for cid, entry in sorted(history.items())
                ],
                "class_names": {str(k): v for k, v in names.items()},
                "trueclassid": truth["trueclassid"] if truth else None,
            },
        }
        return render(request, "elasticc/object.html", context)


def _completeness_query(params: dict) -> str:
    """The completeness endpoint's query for what the chart shows (axis, period, window)."""
    query: dict = {"axis": params["axis"], "period": params["period"]}
    window = ("start", "end") if params["axis"] == "sent" else ("mjd_min", "mjd_max")
    for name in window:
        if params[name] is not None:
            query[name] = params[name].isoformat() if name in ("start", "end") else params[name]
    return urlencode(query)


def _shown(value: float | None, digits: int) -> float | None:
    """A value rounded for display, None for missing values and SNANA sentinels."""
    if value is None or any(abs(value - sentinel) < 1e-6 for sentinel in SENTINELS):
        return None
    return round(value, digits)


def _classifier_label(classifier: dict | None, classifierid: int) -> str:
    if classifier is None:
        return f"classifier {classifierid}"
    return (
        f"{classifier['brokername']} {classifier['brokerversion']} {classifier['classifiername']} "
        f"{classifier['classifierparams']}"
    )


def _by_name(classifiers: list[dict]) -> list[dict]:
    """Classifiers in display order: broker, version, name, parameters."""
    return sorted(
        classifiers, key=lambda c: (c["brokername"], c["brokerversion"], c["classifiername"], c["classifierparams"])
    )


# --- follow-up coordination (elasticc/followup/) ------------------------------------------------------


class FollowupView(LoginRequiredMixin, View):
    """Wanted spectra (with requester, priority and latest magnitude per
    band), plans and reported spectra, filtered as the API filters them."""

    def get(self, request):
        form = WantedFilterForm(request.GET or None)
        valid = form.is_valid() if form.is_bound else True
        filters = form.cleaned_data if form.is_bound else WantedFilterForm.defaults()
        facility = request.GET.get("facility") or None
        context = {
            "form": form,
            "facility": facility or "",
            # Never a list for other filters than the form shows: none until they are corrected.
            "wanted": json.loads(followup_selectors.wanted_spectra_by_filters(**filters)) if valid else None,
            "plans": followup_selectors.current_plans(facility=facility),
            "reports": followup_selectors.known_spectra(facility=facility)[-REPORTS_SHOWN:][::-1],
            "class_names": selectors.class_names(taxonomy=ELASTICC2),
            "bands": BANDS,
        }
        return render(request, "elasticc/followup.html", context, status=200 if valid else 400)


class ObjectFollowupActionView(LoginRequiredMixin, View):
    """The object page's follow-up forms (POST, CSRF-protected): ask for a
    spectrum, declare or withdraw a plan, report a spectrum. Each goes
    through the same service as the API and comes back to the object page
    with a message."""

    def post(self, request, diaobjectid: int, action: str):
        if not DiaObject.objects.filter(pk=diaobjectid).exists():
            raise Http404("no such object")
        back = HttpResponseRedirect(reverse("elasticc:object", args=[diaobjectid]) + "#followup")
        form = _action_form(action, request.POST)
        if not form.is_valid():
            errors = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
            messages.error(request, f"Not saved ({action}): {errors}")
            return back
        data = form.cleaned_data
        try:
            messages.success(request, _run_action(action, request.user, diaobjectid, data))
        except BodyError as exc:
            messages.error(request, f"Not saved ({action}): {exc}")
        return back


def _action_form(action: str, data) -> forms.Form:
    if action == "ask":
        return AskSpectrumForm(data)
    if action == "plan":
        return PlanSpectrumForm(data)
    if action == "withdraw":
        return WithdrawPlanForm(data)
    if action == "report":
        return ReportSpectrumForm(data, classes=selectors.class_names(taxonomy=ELASTICC2))
    raise Http404("no such action")


def _run_action(action: str, user, diaobjectid: int, data: dict) -> str:
    if action == "ask":
        followup_services.ask_for_spectra(
            user=user, requester=data["requester"], objectids=[diaobjectid], priorities=[data["priority"]]
        )
        return f"Spectrum asked for by {data['requester']} with priority {data['priority']}."
    if action == "plan":
        plan = followup_services.plan_spectrum(
            user=user,
            objectid=diaobjectid,
            facility=data["facility"],
            plantime=as_date_or_datetime(data["plantime"]),
            comment=data["comment"],
        )
        return f"Plan of {plan.facility} for {plan.plantime:%Y-%m-%d %H:%M} UTC declared."
    if action == "withdraw":
        n = followup_services.remove_spectrum_plan(objectid=diaobjectid, facility=data["facility"])
        return f"Plan of {data['facility']} withdrawn." if n else f"{data['facility']} had no plan to withdraw."
    info = followup_services.report_spectrum(
        user=user,
        objectid=diaobjectid,
        facility=data["facility"],
        mjd=data["mjd"],
        z=data["z"],
        classid=data["classid"],
    )
    return f"Spectrum of {info.facility} at MJD {info.mjd} reported."


class ObjectTargetView(LoginRequiredMixin, View):
    """POST: make the object a TOM Toolkit Target (once) and go to its page."""

    def post(self, request, diaobjectid: int):
        try:
            target, created = followup_services.make_target(
                objectid=diaobjectid,
                object_url=request.build_absolute_uri(reverse("elasticc:object", args=[diaobjectid])),
            )
        except followup_services.UnknownObjects:
            raise Http404("no such object") from None
        if created:
            messages.success(request, f"diaObject {diaobjectid} is now a TOM target.")
        return HttpResponseRedirect(reverse("targets:detail", args=[target.pk]))


def target_spectra_tab(context) -> dict:
    """Context of the 'ELAsTiCC' tab of a TOM Toolkit target page: for a
    target made from an object, the link back and its reported spectra."""
    objectid = followup_services.object_of_target(target=context["target"])
    if objectid is None:
        return {"objectid": None}
    return {
        "objectid": objectid,
        "reports": followup_selectors.object_followup(diaobjectid=objectid)["reports"],
        "class_names": selectors.class_names(taxonomy=ELASTICC2),
    }
