"""ELAsTiCC pages. Thin views: counts come from `elasticc.selectors` (trigger
counters), metrics from `elasticc.metrics` (incrementally maintained
aggregates), so no page request scans a big table. Charts are drawn in the
browser by the vendored plotly.js from data passed with `json_script`."""

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from elasticc import metrics, selectors
from elasticc.api_selectors import cone_filter
from elasticc.models import DiaObject

CONE_RESULT_LIMIT = 200
HOST_FIELDS = ("hostgal_zspec", "hostgal_zphot", "hostgal_zphot_err", "hostgal_snsep", "hostgal_ra", "hostgal_dec")


class ElasticcAdminRequiredMixin(LoginRequiredMixin, UserPassesTestMixin):
    """Pages with truth: members of elasticc_admin only. Anonymous users go to
    the login page; logged-in others get a 403 page in the TOM frame (marked
    `keep_403` so the 403-to-login middleware leaves it alone)."""

    def test_func(self) -> bool:
        return selectors.is_elasticc_admin(self.request.user)

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
        context["counts"] = selectors.table_counts()
        context["is_admin"] = selectors.is_elasticc_admin(self.request.user)
        context["search_form"] = ObjectSearchForm()
        return context


class SummaryView(LoginRequiredMixin, TemplateView):
    """Table counts and per-classifier messages/classifications."""

    template_name = "elasticc/summary.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        classifiers = selectors.classifiers()
        keys = [*selectors.COUNTED_TABLES, selectors.ALERTS_SENT_KEY] + [
            f"elasticc_brokerclassification.{c['classifierid']}" for c in classifiers
        ]
        counts = selectors.row_counts(keys)
        stats = metrics.classifier_stats()
        for classifier in classifiers:
            classifier["nclassifications"] = counts[f"elasticc_brokerclassification.{classifier['classifierid']}"]
            classifier.update(stats.get(classifier["classifierid"], {"nmessages": 0, "lastingest": None}))
        sent = counts[selectors.ALERTS_SENT_KEY]
        context.update(
            objects=counts["elasticc_diaobject"],
            sources=counts["elasticc_diasource"],
            forced=counts["elasticc_diaforcedsource"],
            alerts_sent=sent,
            alerts_unsent=counts["elasticc_diaalert"] - sent,
            broker_messages=counts["elasticc_brokermessage"],
            classifications=counts["elasticc_brokerclassification"],
            classifiers=classifiers,
            as_of=metrics.as_of(),
            is_admin=selectors.is_elasticc_admin(self.request.user),
        )
        return context


class AdminSummaryView(ElasticcAdminRequiredMixin, TemplateView):
    """Objects per true class (truth gentype through elasticc_gentypeofclassid)."""

    template_name = "elasticc/admin_summary.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        names = selectors.class_names()
        of_gentype = selectors.classid_of_gentype()
        by_class: dict[int | None, dict] = {}
        for gentype, n in metrics.truth_counts():
            classid = of_gentype.get(gentype)
            row = by_class.setdefault(
                classid, {"classid": classid, "name": names.get(classid, ""), "objects": 0, "gentypes": []}
            )
            row["objects"] += n
            row["gentypes"].append((gentype, n))
        rows = sorted(by_class.values(), key=lambda r: (r["classid"] is None, r["classid"] or 0))
        counts = selectors.row_counts(["elasticc_diaobjecttruth", "elasticc_diatruth"])
        context.update(
            rows=rows,
            object_truth=counts["elasticc_diaobjecttruth"],
            epoch_truth=counts["elasticc_diatruth"],
        )
        return context


class ClassifierListView(LoginRequiredMixin, TemplateView):
    template_name = "elasticc/classifier_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        classifiers = selectors.classifiers()
        stats = metrics.classifier_stats()
        for classifier in classifiers:
            classifier.update(stats.get(classifier["classifierid"], {"nmessages": 0, "nalerts": 0, "lastingest": None}))
        context.update(classifiers=classifiers, as_of=metrics.as_of())
        return context


class MetricsForm(forms.Form):
    mode = forms.ChoiceField(
        choices=[("latest", "latest classification per object"), ("best", "best over all alerts")],
        required=False,
        initial="latest",
    )
    level = forms.ChoiceField(choices=[(v, v) for v in metrics.LEVELS], required=False, initial="exact")
    norm = forms.ChoiceField(
        choices=[("true", "by true class"), ("pred", "by predicted class"), ("none", "counts")],
        required=False,
        initial="true",
    )
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    period = forms.ChoiceField(choices=[("day", "per day"), ("week", "per week")], required=False, initial="day")

    def clean(self):
        data = super().clean()
        for name, field in self.fields.items():
            if not data.get(name) and field.initial is not None:
                data[name] = field.initial
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("the window's start is after its end")
        return data


class ClassifierMetricsView(LoginRequiredMixin, View):
    """Confusion matrix, delays, completeness and true-class probability of one classifier."""

    def get(self, request, classifierid: int):
        classifier = next((c for c in selectors.classifiers() if c["classifierid"] == classifierid), None)
        if classifier is None:
            raise Http404("no such classifier")
        form = MetricsForm(request.GET)
        context = {"classifier": classifier, "form": form, "as_of": metrics.as_of()}
        if not form.is_valid():
            return render(request, "elasticc/classifier_metrics.html", context, status=400)
        params = form.cleaned_data
        names = selectors.class_names()
        context["form"] = MetricsForm(initial=params)
        first_day, last_day = metrics.delay_days(classifierid=classifierid)
        context.update(
            params=params,
            first_day=first_day,
            last_day=last_day,
            stats=metrics.classifier_stats().get(classifierid, {}),
            charts={
                "confusion": metrics.confusion_matrix(
                    classifierid=classifierid,
                    mode=params["mode"],
                    level=params["level"],
                    norm=params["norm"],
                    names=names,
                ),
                "delays": metrics.delay_histograms(classifierid=classifierid, start=params["start"], end=params["end"]),
                "delay_labels": metrics.DELAY_LABELS,
                "completeness": metrics.completeness(classifierid=classifierid, period=params["period"]),
                "trueprob": metrics.true_class_probability(classifierid=classifierid),
                "class_names": {str(k): v for k, v in names.items()},
            },
        )
        return render(request, "elasticc/classifier_metrics.html", context)


class ObjectSearchForm(forms.Form):
    diaobjectid = forms.IntegerField(required=False, label="diaObjectId")
    ra = forms.FloatField(required=False, min_value=0.0, max_value=360.0, label="RA (deg)")
    dec = forms.FloatField(required=False, min_value=-90.0, max_value=90.0, label="Dec (deg)")
    radius = forms.FloatField(required=False, min_value=0.0, max_value=3600.0, initial=10.0, label="radius (arcsec)")

    def clean(self):
        data = super().clean()
        cone = [data.get("ra"), data.get("dec")]
        if data.get("diaobjectid") is None and None in cone:
            raise forms.ValidationError("give a diaObjectId, or RA and Dec for a cone search")
        if data.get("diaobjectid") is None and data.get("radius") is None:
            data["radius"] = self.fields["radius"].initial
        return data


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
        is_admin = selectors.is_elasticc_admin(request.user)
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
        truth = selectors.object_truth(diaobjectid=diaobjectid) if is_admin else None
        host = [(name, getattr(obj, name)) for name in HOST_FIELDS]
        host += [(f"hostgal_mag_{band}", getattr(obj, f"hostgal_mag_{band}")) for band in "ugrizy"]
        context = {
            "obj": obj,
            "host": host,
            "alerts": selectors.object_alerts(diaobjectid=diaobjectid),
            "is_admin": is_admin,
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


def _classifier_label(classifier: dict | None, classifierid: int) -> str:
    if classifier is None:
        return f"classifier {classifierid}"
    return (
        f"{classifier['brokername']} {classifier['brokerversion']} {classifier['classifiername']} "
        f"{classifier['classifierparams']}"
    )
