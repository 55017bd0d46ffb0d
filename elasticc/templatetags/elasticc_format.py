"""Number formats of the ELAsTiCC pages."""

from django import template

register = template.Library()


@register.filter
def sig3(value: float | None) -> str:
    """Three significant digits (delays span 10^-2 to 10^7 s); None as '—'."""
    if value is None or value == "":
        return "—"
    return f"{float(value):.3g}"


@register.filter
def fixed3(value: float | None) -> str:
    """A score in [0, 1] with three decimals; None (undefined) as '—'."""
    return "—" if value is None else f"{value:.3f}"


@register.filter
def pct(value: float | None) -> str:
    """A fraction as a percentage with one decimal; None as '—'."""
    return "—" if value is None else f"{100 * value:.1f} %"
