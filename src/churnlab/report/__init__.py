"""The executive HTML report: rendered with Jinja2 from the files of one run directory.

``render_report(run_dir, cfg)`` reads what the notebooks wrote (``kpis.csv``,
``scores.csv``, ``renewal_map.csv``, ``cohort_comparison.csv``, ``model_metrics.json``,
``data_health.json``, ``charts/*.png``), writes ``headline.json`` (also used by the
email) and a self-contained ``report.html``: inline CSS, images embedded as PNG, no
JavaScript, nothing fetched from outside, every piece of user data HTML-escaped.
"""

from churnlab.report.headline import build_headline
from churnlab.report.render import render_report

__all__ = ["build_headline", "render_report"]
