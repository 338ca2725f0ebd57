"""The customer-success practice sections of ``params.yaml``: the playbook and engagement."""

from __future__ import annotations

from pydantic import Field, field_validator

from churnlab.config._base import _Section

__all__ = ["EngagementParams", "Play", "default_playbook"]


class Play(_Section):
    """One reason family of the playbook: the features it covers and the CSM's next step."""

    features: list[str] = Field(
        description=(
            "Features of this family: column names or shell-style patterns "
            "(logins_*, tickets_opened_*). A feature in no family gets no next step."
        ),
    )
    next_step: str | None = Field(
        None,
        description=(
            "What the CSM does when this family raises an account's risk, in your words; "
            "null: the report language's words for the family (catalogue playbook.<family>)."
        ),
    )


def default_playbook() -> dict[str, Play]:
    """The default reason families (the sample's features; patterns for other windows)."""
    return {
        "onboarding": Play(
            features=["onboarding_completed", "days_to_onboard", "time_to_value_days"]
        ),
        "support": Play(
            features=[
                "open_ticket_backlog",
                "tickets_opened_*",
                "tickets_resolved_*",
                "median_resolution_days_*",
            ]
        ),
        "nps": Play(features=["last_nps", "nps_category"]),
        "usage": Play(
            features=[
                "logins_*",
                "active_users_*",
                "seat_utilisation_*",
                "adoption_breadth_*",
                "days_since_last_login",
                "feature_*",
            ]
        ),
        "csm_touch": Play(features=["days_since_last_csm_touch"]),
        "commercial": Play(features=["mrr_change_*", "seats", "billing_period_months", "plan"]),
    }


class EngagementParams(_Section):
    """CSM touches: which events are a touch, and which touch each tier should get."""

    touch_types: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "qbr": ["qbr"],
            "meeting": ["csm_meeting"],
            "webinar": ["webinar"],
        },
        description=(
            "Kinds of CSM touch and the event types that count as each, e.g. "
            "{qbr: [qbr], meeting: [csm_meeting, call], webinar: [webinar]}. A kind whose "
            "events the data does not have is left out with a note."
        ),
    )
    expected: dict[str, str] = Field(
        default_factory=lambda: {
            "high_touch": "qbr",
            "low_touch": "meeting",
            "tech_touch": "webinar",
        },
        description=(
            "The touch each touch tier should get within window_days (the coverage of the "
            "executive view): a kind of touch_types per tier."
        ),
    )
    window_days: int = Field(
        90, ge=7, le=366, description="Days back from as_of in which a touch counts (a quarter)."
    )

    @field_validator("expected")
    @classmethod
    def _known_tiers(cls, value: dict[str, str]) -> dict[str, str]:
        from churnlab.vocabulary import TIERS

        unknown = sorted(set(value) - set(TIERS))
        if unknown:
            raise ValueError(
                f"engagement.expected: unknown touch tiers {unknown}; tiers are {list(TIERS)}"
            )
        return value
