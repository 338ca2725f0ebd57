"""The executive report: the typed headline and the self-contained HTML page of one run.

``render_report(folder, cfg)`` reads what the stages wrote (``kpis.csv``, ``scores.csv``,
``renewal_map.csv``, ``cohort_comparison.csv``, ``model_metrics.json``,
``data_health.json``, the charts), writes ``headline.json`` (a :class:`Headline`, also
read by the email and by the next run) and a self-contained ``report.html``: inline CSS,
images embedded as PNG, no JavaScript, nothing fetched from outside, every piece of user
data HTML-escaped. Templates share one Jinja environment with the email
(:mod:`churnlab.report.templating`).
"""

from churnlab.report.headline import HEADLINE_SCHEMA_VERSION, Headline, KpiTile, Renewal
from churnlab.report.render import render_report

__all__ = ["HEADLINE_SCHEMA_VERSION", "Headline", "KpiTile", "Renewal", "render_report"]
