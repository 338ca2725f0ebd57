"""A small, hand-made run directory for report and delivery tests."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

EVIL_NAME = "<script>alert(1)</script>"


def make_run_dir(base: Path, name: str = "2026-10-31_20261101T060000Z") -> Path:
    """Write the files the notebooks hand to the report, with one hostile account name."""
    run = base / "runs" / name
    (run / "charts").mkdir(parents=True)
    months = pd.date_range("2025-11-01", periods=12, freq="MS")
    kpis = pd.DataFrame(
        {
            "month": months.strftime("%Y-%m-%d"),
            "segment": "all",
            "logo_churn_rate": [0.02 + 0.001 * i for i in range(12)],
            "gross_revenue_retention": [0.98 - 0.001 * i for i in range(12)],
            "net_revenue_retention": [1.01 - 0.0005 * i for i in range(12)],
            "arr": [1_000_000 + 10_000 * i for i in range(12)],
        }
    )
    kpis.to_csv(run / "kpis.csv", index=False)
    scores = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4"],
            "name": [EVIL_NAME, "Beta & Co", "Gamma", "Delta"],
            "touch_tier": ["high_touch", "low_touch", "tech_touch", "tech_touch"],
            "arr": [100_000.0, 20_000.0, 6_000.0, 3_000.0],
            "churn_probability": [0.5, 0.25, 0.1, 0.05],
            "health_score": [30.0, 60.0, 85.0, 95.0],
            "health_band": ["red", "yellow", "green", "green"],
            "renewal_date": ["2026-11-15", "2026-12-20", "2027-01-10", "2027-06-01"],
            "days_to_renewal": [15, 50, 71, 213],
            "expected_arr_at_risk": [50_000.0, 5_000.0, 600.0, 150.0],
            "reasons": ["Open support tickets: 4", "Logins in the last 28 days: 3", "", ""],
        }
    )
    scores.to_csv(run / "scores.csv", index=False)
    scores[scores["days_to_renewal"] <= 90].to_csv(run / "renewal_map.csv", index=False)
    scores.head(1).assign(warning="entered red").to_csv(run / "early_warning.csv", index=False)
    pd.DataFrame(
        {
            "feature": ["onboarding_completed", "region"],
            "finding": [f"Churned accounts finished onboarding less often ({EVIL_NAME})", "n/s"],
            "significant": [True, False],
            "small_group": [False, False],
        }
    ).to_csv(run / "cohort_comparison.csv", index=False)
    (run / "model_metrics.json").write_text(
        json.dumps(
            {
                "champion": "lightgbm",
                "summary": "LightGBM ranks a churner above a renewer 81% of the time.",
                "comparison": [
                    {
                        "model": "logistic",
                        "roc_auc": 0.75,
                        "pr_auc": 0.3,
                        "brier": 0.1,
                        "ece": 0.02,
                        "lift_10": 2.5,
                        "capture_20": 0.4,
                    },
                    {
                        "model": "lightgbm",
                        "roc_auc": 0.81,
                        "pr_auc": 0.35,
                        "brier": 0.09,
                        "ece": 0.015,
                        "lift_10": 3.1,
                        "capture_20": 0.5,
                    },
                ],
            }
        )
    )
    (run / "data_health.json").write_text(
        json.dumps({"data_end": "2026-10-31", "rejected_rows": {"events: unknown account": 3}})
    )
    (run / "manifest.json").write_text(
        json.dumps({"status": "succeeded", "run_id": name, "as_of": "2026-10-31", "delivery": []})
    )
    return run
