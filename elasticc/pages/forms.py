"""Forms of the ELAsTiCC pages (GET parameters, validated server-side)."""

from django import forms

from elasticc.metrics.readers import LEVELS
from elasticc.metrics.refresh import MODES, mode_days


def mode_label(mode: str) -> str:
    """How a mode of `elasticc.metrics.refresh.MODES` reads in a form."""
    n = mode_days(mode)
    if n is not None:
        return f"at {n} day{'s' if n > 1 else ''} after first detection"
    return {"latest": "latest classification per object", "best": "best over all alerts"}[mode]


MODE_CHOICES = [(mode, mode_label(mode)) for mode in MODES]
# Completeness by the simulated night of the alert's source (default) or by wall-clock send day.
AXIS_CHOICES = [("night", "simulated night (MJD)"), ("sent", "send day (UTC)")]


class MetricsForm(forms.Form):
    mode = forms.ChoiceField(choices=MODE_CHOICES, required=False, initial="latest", label="mode")
    level = forms.ChoiceField(choices=[(v, v) for v in LEVELS], required=False, initial="exact", label="level")
    norm = forms.ChoiceField(
        choices=[("true", "by true class"), ("pred", "by predicted class"), ("none", "counts")],
        required=False,
        initial="true",
        label="norm",
    )
    # The date window (UTC days): of the delays (day stored) and of completeness by send day.
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="from (UTC day)")
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="to (UTC day)")
    # Completeness: by simulated night (in an MJD window) or by wall-clock send day (in the date window).
    axis = forms.ChoiceField(choices=AXIS_CHOICES, required=False, initial="night", label="axis")
    period = forms.ChoiceField(
        choices=[("day", "per day"), ("week", "per week")], required=False, initial="day", label="period"
    )
    mjd_min = forms.FloatField(required=False, label="from night (MJD)")
    mjd_max = forms.FloatField(required=False, label="to night (MJD)")

    # Choices of the confusion matrix, which only those who may see truth get.
    TRUTH_FIELDS = ("mode", "level", "norm")
    # Choices of the completeness chart, shown next to it.
    COMPLETENESS_FIELDS = ("axis", "period", "mjd_min", "mjd_max")
    # The date window, shown next to the delays and, on the send-day axis, next to completeness.
    WINDOW_FIELDS = ("start", "end")

    def __init__(self, *args, levels: tuple[str, ...] = LEVELS, truth: bool = True, **kwargs) -> None:
        """`levels`: those of the classifier's taxonomy (ELAsTiCC has no general level);
        `truth`: whether the truth-derived charts are shown (else their choices are left out)."""
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [(v, v) for v in levels]
        if not truth:
            for name in self.TRUTH_FIELDS:
                del self.fields[name]

    def clean(self):
        data = super().clean()
        for name, field in self.fields.items():
            if not data.get(name) and field.initial is not None:
                data[name] = field.initial
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("the window's start is after its end")
        if data.get("mjd_min") is not None and data.get("mjd_max") is not None and data["mjd_min"] > data["mjd_max"]:
            raise forms.ValidationError("the MJD window's start is after its end")
        return data


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


# --- follow-up (elasticc/followup/): the object page's actions and the follow-up page's filters ---

BAND_CHOICES = [(band, band) for band in ("u", "g", "r", "i", "z", "Y")]
DEFAULT_DETECTED_IN_LAST_DAYS = 14.0


class AskSpectrumForm(forms.Form):
    requester = forms.CharField(max_length=200, initial="DESC TOM", help_text="The program that wants the spectrum.")
    priority = forms.IntegerField(min_value=0, max_value=5, initial=3, help_text="0..5, 5 the most urgent.")


class PlanSpectrumForm(forms.Form):
    facility = forms.CharField(max_length=200)
    plantime = forms.DateTimeField(
        label="plan time (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="UTC"
    )
    comment = forms.CharField(required=False, max_length=2000)


class WithdrawPlanForm(forms.Form):
    facility = forms.CharField(max_length=200)


class ReportSpectrumForm(forms.Form):
    facility = forms.CharField(max_length=200)
    mjd = forms.FloatField(label="MJD")
    z = forms.FloatField(required=False, label="redshift", help_text="Empty when unknown.")
    classid = forms.TypedChoiceField(coerce=int, label="ELAsTiCC2 class")

    def __init__(self, *args, classes: dict[int, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["classid"].choices = [(cid, f"{cid} {name}") for cid, name in sorted(classes.items())]
        self.fields["classid"].initial = 300


class WantedFilterForm(forms.Form):
    """The spectrawanted filters of the API, with its defaults (GET parameters)."""

    requested_since = forms.DateTimeField(required=False, help_text="UTC; default 14 days ago")
    not_claimed_in_last_days = forms.FloatField(required=False, initial=7.0, help_text="0: ignore plans")
    detected_since_mjd = forms.FloatField(required=False)
    # No initial value: an unfilled page would otherwise send 14 with every
    # "detected since MJD" and be refused for giving both.
    detected_in_last_days = forms.FloatField(
        required=False,
        widget=forms.NumberInput(attrs={"placeholder": "14"}),
        help_text="default 14, unless detected since MJD is given",
    )
    no_spectra_in_last_days = forms.FloatField(required=False, initial=7.0, help_text="0: ignore reports")
    lim_mag = forms.FloatField(required=False)
    lim_mag_band = forms.ChoiceField(required=False, choices=[("", "—"), *BAND_CHOICES])
    mjd_now = forms.FloatField(required=False)

    @classmethod
    def defaults(cls) -> dict:
        """The filters of an unfiltered page (the API's defaults)."""
        form = cls({})
        form.is_valid()
        return form.cleaned_data

    def clean(self):
        data = super().clean()
        if data.get("detected_since_mjd") is not None and data.get("detected_in_last_days") is not None:
            raise forms.ValidationError("give detected since MJD or detected in last days, not both")
        if (data.get("lim_mag") is None) != (not data.get("lim_mag_band")):
            raise forms.ValidationError("lim_mag and lim_mag_band go together")
        for name, field in self.fields.items():
            if data.get(name) in (None, "") and field.initial is not None:
                data[name] = field.initial
        if data.get("detected_in_last_days") is None:
            data["detected_in_last_days"] = DEFAULT_DETECTED_IN_LAST_DAYS
        data["lim_mag_band"] = data.get("lim_mag_band") or None
        return data


class ComparisonForm(forms.Form):
    """Level and mode of the comparison table and of the A-vs-B view."""

    mode = forms.ChoiceField(choices=MODE_CHOICES, required=False, initial="latest")
    level = forms.ChoiceField(choices=[(v, v) for v in LEVELS], required=False, initial="exact")

    def clean(self):
        data = super().clean()
        for name, field in self.fields.items():
            if not data.get(name):
                data[name] = field.initial
        return data


class PairForm(ComparisonForm):
    """Two classifiers for the A-vs-B view."""

    a = forms.IntegerField(label="classifier A")
    b = forms.IntegerField(label="classifier B")


class ObjectBrowserForm(forms.Form):
    """The object browser's filters; the true class only for those who may see truth."""

    classifier = forms.TypedChoiceField(coerce=int, label="classifier")
    mode = forms.ChoiceField(choices=MODE_CHOICES, required=False)
    level = forms.ChoiceField(choices=[(v, v) for v in LEVELS], required=False)
    predclass = forms.IntegerField(required=False, label="predicted class")
    trueclass = forms.IntegerField(required=False, label="true class")
    pmin = forms.FloatField(required=False, min_value=0.0, max_value=1.0, label="probability ≥")
    mjd_min = forms.FloatField(required=False, label="detected from MJD")
    mjd_max = forms.FloatField(required=False, label="to MJD")
    ndet_min = forms.IntegerField(required=False, min_value=0, label="detections ≥")
    ndet_max = forms.IntegerField(required=False, min_value=0, label="detections ≤")
    after = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, classifiers: list[tuple[int, str]], truth: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["classifier"].choices = classifiers
        if not truth:
            del self.fields["trueclass"]

    def clean(self):
        data = super().clean()
        data["mode"] = data.get("mode") or "latest"
        data["level"] = data.get("level") or "exact"
        return data
