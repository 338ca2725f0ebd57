"""#21: the runner gets the report ready while the last notebook runs (its imports and its
compiled templates); the report then renders from the same template environment."""

from __future__ import annotations

from churnlab.config import load_params
from churnlab.report.templating import environment
from churnlab.run.steps.report import warm_up
from churnlab.vocabulary import vocabulary


def test_warm_up_compiles_every_template_of_the_report_language(tmp_path):
    cfg = load_params(
        overrides=["report.language=ja", f"run.reports_dir={tmp_path}"],
    )
    words = vocabulary(cfg.report.language, cfg.report.currency)
    env = environment(words.language, words.currency)
    names = env.list_templates(extensions=["j2"])
    assert "report.html.j2" in names
    env.cache.clear()  # as in a new runner process (another test may have rendered already)
    warm_up(cfg)
    # the environment the report renders with holds every template compiled
    cached = {template.name for template in env.cache.values()}
    assert set(names) <= cached
