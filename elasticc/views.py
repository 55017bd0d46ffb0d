"""ELAsTiCC pages. Thin views: the numbers come from `elasticc.selectors`."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from elasticc import selectors


class FrontPageView(LoginRequiredMixin, TemplateView):
    """What the TOM holds, with links to everything else."""

    template_name = "elasticc/index.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["counts"] = selectors.table_counts()
        return context
