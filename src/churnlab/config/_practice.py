"""The customer-success practice sections of ``params.yaml``: the playbook and engagement."""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import Field, field_validator

from churnlab.config._base import _Section

__all__ = [
    "FIXED_ATTRIBUTES",
    "LEVER_TARGETS",
    "EngagementParams",
    "Lever",
    "Play",
    "check_levers",
    "default_levers",
    "default_playbook",
    "fixed_attribute",
]


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


#: What a lever may set a feature to besides a number, true/false or a category level:
#: the median of the retained accounts of the account's touch tier, or of all retained accounts.
LEVER_TARGETS = ("tier_median", "median")

#: Attributes a CS team cannot change (case-insensitive shell patterns): never a lever.
FIXED_ATTRIBUTES = (
    "account_id", "as_of", "checkpoint", "label", "churn_date", "renewal_date",
    "days_to_renewal", "tenure*", "*_tenure*", "arr", "arr_*", "*_arr", "mrr", "mrr_*",
    "*_mrr", "*charges*", "plan", "plan_*", "region", "country", "industry",
    "acquisition_channel", "contract*", "billing_period*", "paymentmethod", "seats",
    "touch_tier", "csm_owner", "signup*", "gender", "seniorcitizen", "partner", "dependents",
    "age", "customer_age",
)  # fmt: skip


def fixed_attribute(feature: str) -> bool:
    """True when ``feature`` is an attribute the CS team cannot change (:data:`FIXED_ATTRIBUTES`)."""
    name = feature.lower()
    return any(fnmatchcase(name, pattern) for pattern in FIXED_ATTRIBUTES)


class Lever(_Section):
    """A what-if lever: feature edits a CS team can cause, carried out by one play."""

    play: str = Field(
        description="The playbook family (a key of playbook:) whose next step pulls this lever."
    )
    set: dict[str, bool | float | str] = Field(
        description=(
            "Feature -> the value the lever brings it to: a number, true/false, a category "
            "level, tier_median (the median of retained accounts of the account's touch "
            "tier) or median (of all retained accounts). Features that measure the same "
            "thing (other windows, trends, onboarding days, seat utilisation) move with it."
        ),
    )
    direction: Literal["raise", "lower", "set"] = Field(
        "set",
        description=(
            "raise: only accounts below the value move up to it; lower: only accounts above "
            "it (or missing) move down to it; set: every account that differs. Accounts the "
            "lever leaves unchanged (already met) are skipped."
        ),
    )


def default_levers() -> dict[str, Lever]:
    """The default levers (the built-in sample's features; skipped with a note elsewhere)."""
    return {
        "onboarding": Lever(play="onboarding", set={"onboarding_completed": True}),
        "tickets": Lever(play="support", set={"open_ticket_backlog": 0}, direction="lower"),
        "usage": Lever(
            play="usage",
            set={"logins_28d": "tier_median", "active_users_28d": "tier_median"},
            direction="raise",
        ),
        "adoption": Lever(
            play="usage", set={"adoption_breadth_90d": "tier_median"}, direction="raise"
        ),
        "csm_touch": Lever(
            play="csm_touch", set={"days_since_last_csm_touch": 7}, direction="lower"
        ),
    }


def check_levers(levers: Mapping[str, Lever], playbook: Mapping[str, object]) -> None:
    """Refuse a lever whose play is not in the playbook or that edits a fixed attribute.

    Raises
    ------
    ValueError
        Naming the lever, the play or the attribute, and how to fix it (the params loader
        turns it into a ``ParamsError``).
    """
    for name, lever in levers.items():
        if lever.play not in playbook:
            raise ValueError(
                f"levers.{name}: play {lever.play!r} must be a family of playbook: "
                f"({', '.join(playbook) or 'none'}); add it there or name one of those"
            )
        if not lever.set:
            raise ValueError(f"levers.{name}: set must name at least one feature to change")
        fixed = [f for f in lever.set if fixed_attribute(f)]
        if fixed:
            raise ValueError(
                f"levers.{name}: a lever must change what the CS team can cause; {fixed[0]!r} "
                "is an attribute the team cannot change (tenure, ARR/MRR, plan, region, "
                "contract or billing period, seats, ...). Remove it from the lever"
            )


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
