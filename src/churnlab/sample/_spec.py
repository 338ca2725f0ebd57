"""Constants of the synthetic SaaS sample: attribute mixes, behaviour rates and churn drivers.

The simulation (`_simulate.py`) and the ground truth (`ground_truth`) both read the
driver table below, so the documented effects are exactly the ones that generate churn.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY = 86_400  # seconds

PLANS = ("starter", "growth", "enterprise")
PLAN_P = (0.55, 0.33, 0.12)
PLAN_MRR_MEDIAN = (350.0, 2200.0, 10_000.0)
PLAN_MRR_SIGMA = (0.4, 0.4, 0.45)
PLAN_MRR_RANGE = ((150.0, 900.0), (1_000.0, 5_000.0), (5_000.0, 25_000.0))
PLAN_PRICE_PER_SEAT = (35.0, 75.0, 120.0)
PLAN_ANNUAL_SHARE = (0.30, 0.60, 0.90)

CHANNELS = ("inbound", "outbound", "partner", "self_serve")
CHANNEL_P_BY_PLAN = (
    (0.40, 0.05, 0.10, 0.45),
    (0.40, 0.30, 0.15, 0.15),
    (0.20, 0.55, 0.25, 0.00),
)
CHANNEL_ONBOARDING_P = (0.75, 0.80, 0.85, 0.62)  # P(account ever completes onboarding)

INDUSTRIES = (
    "Software",
    "Financial services",
    "Healthcare",
    "Retail",
    "Manufacturing",
    "Education",
    "Media",
    "Logistics",
    "Professional services",
)
INDUSTRY_P = (0.22, 0.12, 0.10, 0.11, 0.12, 0.07, 0.07, 0.08, 0.11)
REGIONS = ("North America", "EMEA", "APAC", "LATAM")
REGION_P = (0.45, 0.30, 0.17, 0.08)

HIGH_TOUCH_CSMS = ("Maya Chen", "Jonas Weber", "Priya Natarajan", "Tom O'Neill")
LOW_TOUCH_CSMS = (
    "Sofia Alvarez",
    "Daniel Kim",
    "Amara Okafor",
    "Lukas Novak",
    "Hannah Schmidt",
    "Ravi Patel",
)

NAME_FIRST = (
    "Acme", "Blue", "North", "Peak", "Bright", "Silver", "Cedar", "Nova", "Atlas", "Harbor",
    "Quantum", "Summit", "Orbit", "Pioneer", "Vertex", "Crescent", "Evergreen", "Iron",
    "Lumen", "Meridian", "Müller & Söhne", "O'Brien", "Zoë", "Smith & Sons", "<Delta>",
)  # fmt: skip
NAME_SECOND = (
    "Analytics", "Logistics", "Labs", "Systems", "Health", "Retail", "Foods", "Media",
    "Capital", "Works", "Dynamics", "Partners", "Robotics", "Learning", "Freight", "Studio",
)  # fmt: skip
NAME_LEGAL = ("Inc", "Ltd", "GmbH", "LLC", "SA", "BV", "Co")
FORMULA_NAME_SHARE = 0.003  # names starting with "=" exercise CSV neutralisation

FEATURES = ("reports", "dashboards", "integrations", "automation", "api", "alerts")
FEATURE_WEIGHT = (0.30, 0.25, 0.15, 0.12, 0.10, 0.08)
EVENT_TYPES = (
    "login",
    *(f"feature_{f}" for f in FEATURES),
    "onboarding_step",
    "onboarding_completed",
    "first_value",
    "ticket_opened",
    "ticket_resolved",
    "nps_response",
    "csm_meeting",
    "qbr",
    "webinar",
)
ET = {name: code for code, name in enumerate(EVENT_TYPES)}

MAX_USERS = 150  # active users per account are capped here
USER_TABLE_SIZE = 4096
CHAMPION_BOOST = 1.2  # login log-odds of the champion (most active user) over the others

# usage and behaviour (monthly rates unless noted)
ENGAGEMENT_MEAN = -2.25  # per-user weekday login log-odds of an onboarded account
ENGAGEMENT_SD = 0.5
ENGAGEMENT_NOT_ONBOARDED = -0.25  # mild: usage level is the declining-usage driver's measure
WEEKEND_FACTOR = 0.25
FEATURE_PER_LOGIN_P = 0.4
P_DECLINE_START = 0.05
P_DECLINE_END = 0.15  # spells last about 6.7 months on average
DECLINE_STEP = 0.5  # engagement log-odds lost per month while declining
DECLINE_FLOOR = 5.0  # engagement stops falling this far below the account's own level
DECLINE_SUSTAINED_MONTHS = 2  # a decline raises churn risk from its 2nd month on
P_CHAMPION_LOSS = 0.012
CHAMPION_LOSS_MONTHS = 3  # the churn effect lasts this many month ends
P_PROBLEM = 0.06
COMPLAIN_P_BY_TIER = (0.55, 0.70, 0.85)  # tech, low, high touch
TICKET_FAST_P, TICKET_SLOW_P = 0.5, 0.25  # the rest are never resolved
P_RANDOM_UNHAPPY = 0.02
P_SILENT_RECOVER = 0.08
P_RANDOM_RECOVER = 0.10
RESOLVED_BONUS_MONTHS = 6
NPS_RESPONSE_P_BY_TIER = (0.20, 0.24, 0.28)  # monthly in-app survey, happy accounts
NPS_UNHAPPY_RESPONSE_FACTOR = 2.5  # unhappy accounts answer this much more often
NPS_DETRACTOR_P_UNHAPPY, NPS_DETRACTOR_P_HAPPY = 0.85, 0.08
P_BREADTH_GROWTH = 0.04
P_RESIGN = 0.02
P_GAP_MONTHLY, P_GAP_ANNUAL = 0.01, 0.06  # late renewal inside the grace period
P_EXPAND_HEALTHY, P_EXPAND_AT_RISK = 0.09, 0.015
P_CONTRACT_HEALTHY, P_CONTRACT_AT_RISK = 0.008, 0.03
ANNUAL_UPLIFT = 1.05
ANNUAL_COMMITMENT = 0.6  # annual renewals use this share of the mean monthly hazard
HAZARD_MONTHS = 6  # months of hazard history kept per account
MONTHLY_NOTICE_MONTHS = 1  # a monthly renewal follows the hazard of the month before
ANNUAL_NOTICE_MONTHS = 2  # an annual renewal is decided 2 months ahead ...
ANNUAL_DECISION_MONTHS = 3  # ... from the mean hazard of the 3 months before that
CSM_MEETING_P_BY_TIER = (0.0, 0.35, 0.85)
WEBINAR_P_TECH = 0.12
QBR_P_HIGH = 0.9

SLOW_TTV_DAYS = 30
NARROW_BREADTH = 2
# Onboarding is only mildly correlated with the weaker drivers (separate latent draws):
SLOW_START_P_ONBOARDED, SLOW_START_P_NOT_ONBOARDED = 0.20, 0.35  # first value drawn slow
BREADTH_P_ONBOARDED, BREADTH_P_NOT_ONBOARDED = 0.50, 0.40  # breadth = 1 + Binomial(4, p)

BASE_LOG_ODDS = -5.5  # monthly churn log-odds of a tech-touch account with no driver active


@dataclass(frozen=True)
class Driver:
    """One documented cause of churn in the sample."""

    name: str
    feature: str
    log_odds: float
    description: str


DRIVERS = (
    Driver(
        "onboarding_not_completed",
        "onboarding_completed",
        1.8,
        "The account has not completed onboarding (about a quarter never do; self-serve "
        "accounts least often).",
    ),
    Driver(
        "declining_usage",
        "logins_trend_28d",
        1.7,
        "A latent engagement level drifts down (logins fall roughly 40% a month) while the "
        "account is in a declining spell; spells start at 5% a month and end at 15% a month; "
        "the churn effect applies from the spell's 2nd month (a sustained decline).",
    ),
    Driver(
        "unresolved_tickets",
        "open_ticket_backlog",
        1.6,
        "A support ticket that takes over 14 days (25%) or is never resolved (25%) is open; "
        "the account also stays unhappy until it is resolved (so the total effect is larger).",
    ),
    Driver(
        "detractor",
        "last_nps",
        1.5,
        "The account is latently unhappy (a detractor); a rolling monthly NPS survey (unhappy "
        "accounts answer 2.5x as often) reveals it (0-6 with probability 0.85). Silent "
        "unhappy accounts never open a ticket.",
    ),
    Driver(
        "champion_loss",
        "active_users_trend_28d",
        0.55,
        "The most active user (the champion) stopped logging in during the last 3 months.",
    ),
    Driver(
        "touch_tier",
        "touch_tier",
        -0.6,
        "High touch accounts (ARR >= high_touch_min_arr) churn less: -0.6 log-odds vs tech "
        "touch; low touch -0.3.",
    ),
    Driver(
        "slow_time_to_value",
        "time_to_value_days",
        0.3,
        "The first value milestone came more than 30 days after the start (or not yet); a "
        "slow start is drawn for 20% of accounts (35% of those that never finish onboarding).",
    ),
    Driver(
        "narrow_adoption",
        "adoption_breadth_90d",
        0.3,
        "The account uses at most 2 distinct features (breadth = 1 + Binomial(4, 0.5), "
        "0.4 without onboarding).",
    ),
)
#: Other features (besides ``Driver.feature``) the generator drives from each latent state;
#: ``{w}`` stands for any window length in days (``logins_{w}d``: ``logins_7d``, ...).
MEASURES = {
    "onboarding_not_completed": (
        "days_to_onboard",
        "onboarding_steps_{w}d",
        "onboarding_completed_events_{w}d",
    ),
    "declining_usage": (
        "logins_{w}d",
        "active_users_{w}d",
        "active_users_trend_{w}d",
        "days_since_last_login",
        "seat_utilisation_{w}d",
    ),
    "unresolved_tickets": ("tickets_opened_{w}d", "median_resolution_days_{w}d"),
    "detractor": ("nps_category", "nps_responses_{w}d"),
    "champion_loss": ("active_users_{w}d",),
    "touch_tier": (
        "arr",
        "mrr",
        "csm_owner",
        "csm_meetings_{w}d",
        "qbrs_{w}d",
        "webinars_{w}d",
        "days_since_last_csm_touch",
    ),
    "slow_time_to_value": ("first_value_events_{w}d",),
    "narrow_adoption": ("adoption_breadth_{w}d",),
}
EFFECT = {d.name: d.log_odds for d in DRIVERS}
LOW_TOUCH_LOG_ODDS = -0.3
RESOLVED_TICKET_LOG_ODDS = -0.3  # Goodman's law: a recently resolved complaint lowers risk
