"""Pydantic models that cross module boundaries: the scenario file and the price catalog.

The scenario file is a public format: its key names are kept stable. All prices, inline
or from the catalog, are in US dollars; outputs are converted to the scenario's display
currency at ``usd_exchange_rate``. Field names carry their units.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    create_model,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from planner.ranges import (
    Distribution,
    add_range_forms,
    correlation_problems,
    extract_ranges,
    inject_ranges,
    numeric_fields,
    round_half_up,
    split_path,
)

__all__ = [
    "CRITERIA",
    "RANGED_MODELS",
    "Billing",
    "Catalog",
    "ClientProfile",
    "CloudOption",
    "CloudPlan",
    "Correlation",
    "Criterion",
    "CriterionInfo",
    "Defaults",
    "DisasterRecovery",
    "Escalation",
    "Feature",
    "FeatureAddon",
    "FeatureInfo",
    "Migration",
    "OnPremOption",
    "Organization",
    "Qualitative",
    "QualitativeCatalog",
    "Redundancy",
    "Relay",
    "Requirement",
    "Scenario",
    "ScoreReason",
    "Segment",
    "ServerProfile",
    "SharedMailboxRule",
    "SharedMailboxes",
    "Sourced",
    "SourcedText",
    "Stack",
    "StorageAddon",
    "TaxShares",
]

Redundancy = Literal["none", "n+1", "2n"]
DisasterRecovery = Literal["none", "cold", "warm"]
UserProfileName = Literal["light", "average", "heavy"]
Raid = Literal["raid1", "raid5", "raid6", "raid10"]
LabourCost = Literal["cash", "existing_staff"]
PriceBasis = Literal["real", "nominal"]
Billing = Literal["annual", "annual_billed_monthly", "monthly"]
Criterion = Literal[
    "installation_cost",
    "control",
    "configuration",
    "scalability",
    "maintainability",
    "customisation",
    "confidentiality",
    "service_levels",
]
CRITERIA: tuple[Criterion, ...] = (
    "installation_cost",
    "control",
    "configuration",
    "scalability",
    "maintainability",
    "customisation",
    "confidentiality",
    "service_levels",
)

OptionId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$",
        description="Short identifier: letters, digits, '.', '_', '+', '-'; at most 64 characters.",
    ),
]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
YearlyChange = Annotated[float, Field(ge=-0.5, le=1.0, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# region #### scenario file ####


class Escalation(_Model):
    """Yearly price changes as fractions (0.03 = +3 % a year); year y is scaled by (1+e)^(y-1).

    One rate per kind of recurring price; with ``price_basis: real`` (the default) they are
    changes above inflation.
    """

    cloud_subscription: YearlyChange = Field(
        0.0, description="Cloud subscription price change per year."
    )
    labour: YearlyChange = Field(
        0.0, description="Labour cost change per year (admin, helpdesk, training, migration)."
    )
    power: YearlyChange = Field(0.0, description="Electricity price change per year.")
    hardware: YearlyChange = Field(0.0, description="Server purchase price change per year.")
    hardware_support: YearlyChange = Field(
        0.0, description="Hardware support and warranty price change per year."
    )
    software_licences: YearlyChange = Field(
        0.0, description="Mail software licence price change per year."
    )
    os_licences: YearlyChange = Field(
        0.0, description="Operating system licence and CAL price change per year."
    )
    storage: YearlyChange = Field(0.0, description="Cloud storage add-on price change per year.")
    space: YearlyChange = Field(0.0, description="Rack space or colocation price change per year.")
    backup: YearlyChange = Field(
        0.0, description="Backup software and storage price change per year."
    )
    filtering: YearlyChange = Field(
        0.0, description="Spam and virus filtering price change per year."
    )
    disaster_recovery: YearlyChange = Field(
        0.0, description="Disaster-recovery site price change per year."
    )
    network: YearlyChange = Field(
        0.0, description="Network (static IPs, uplink, certificates) price change per year."
    )
    monitoring: YearlyChange = Field(0.0, description="Monitoring price change per year.")
    relay: YearlyChange = Field(0.0, description="Outbound relay price change per year.")
    feature_addons: YearlyChange = Field(0.0, description="Feature add-on price change per year.")


SEGMENT_TIERS = ("frontline",)
Tier = Literal["frontline"]


class Segment(_Model):
    """A group of the organisation's people with their own mail profile and cloud plan.

    ``users`` counts people already in ``organization.users``: a segment carves them out
    of the total. A profile field left out is the organisation's. ``plans`` maps a cloud
    option id to the plan id its seats are bought on; ``tier`` picks, for every cloud option
    not in ``plans``, the plan the catalog names for that tier of the option's plan
    (``tiers`` in cloud_plans.yaml: frontline -> Microsoft 365 F3, Exchange Online Kiosk,
    Google Workspace Frontline Starter). Neither: the option's own plan.
    """

    name: str = Field(min_length=1, max_length=80, description="Name shown in reports.")
    users: int = Field(ge=0, le=10_000_000, description="People in the segment in year 1.")
    messages_sent_per_user_day: NonNeg | None = Field(
        None, description="Messages each person of the segment sends a day."
    )
    messages_received_per_user_day: NonNeg | None = Field(
        None, description="Messages each person of the segment receives a day."
    )
    mailbox_gb_per_user: NonNeg | None = Field(
        None, description="Average mailbox size of the segment in GB at the start."
    )
    mailbox_growth_gb_per_user_year: NonNeg | None = Field(
        None, description="Average mailbox growth of the segment in GB per person per year."
    )
    tier: Tier | None = Field(
        None,
        description="A catalog tier (frontline): each cloud option's plan names the plan of "
        "that tier its vendor sells (tiers in the catalog).",
    )
    plans: dict[str, str] = Field(
        default_factory=dict,
        description="Per cloud option id, the catalog plan id the segment's seats are on "
        "(wins over tier).",
    )


class SharedMailboxes(_Model):
    """Shared (and resource) mailboxes: mail and storage, but no person behind them.

    On-prem they take storage and incoming mail; in the cloud they follow the vendor's
    licence rule (``shared_mailboxes`` in cloud_plans.yaml).
    """

    count: int = Field(ge=0, le=10_000_000, description="Shared mailboxes in every year.")
    mailbox_gb: NonNeg = Field(description="Size of each shared mailbox in GB at the start.")
    growth_gb_per_year: NonNeg = Field(
        0.0, description="Growth of each shared mailbox in GB per year."
    )
    messages_received_per_day: NonNeg | None = Field(
        None,
        description="Messages each shared mailbox receives a day (default: the organisation's "
        "messages_received_per_user_day); replies are sent by people, counted with them.",
    )


class Organization(_Model):
    """Who the organisation is and how much mail it moves.

    Defaults follow the Exchange 2003 "Average" user profile (30 sent / 75 received a day,
    learn.microsoft.com/en-us/previous-versions/tn-archive/bb125019) and the 75 KB average
    message of Microsoft's Exchange 2010 design example.
    """

    users: int = Field(
        ge=1,
        le=10_000_000,
        description="Mailbox users (people) at the start of year 1, segments included; "
        "shared mailboxes are counted apart.",
    )
    user_growth_per_year: float = Field(
        0.0,
        gt=-1,
        le=5,
        allow_inf_nan=False,
        description="Yearly user growth as a fraction; users in year y = "
        "floor(users * (1+g)^(y-1) + 0.5).",
    )
    messages_sent_per_user_day: NonNeg = Field(30, description="Messages each user sends a day.")
    messages_received_per_user_day: NonNeg = Field(
        90, description="Messages each user receives a day (spam that reaches the server included)."
    )
    outbound_share: Fraction = Field(
        0.6, description="Fraction of sent messages that leave the organisation."
    )
    avg_message_kb: Positive = Field(75, description="Average message size in KB.")
    mailbox_gb_per_user: NonNeg = Field(8, description="Average mailbox size in GB at the start.")
    mailbox_growth_gb_per_user_year: NonNeg = Field(
        3, description="Average mailbox growth in GB per user per year."
    )
    peak_factor: float = Field(
        3.5,
        ge=1,
        le=100,
        allow_inf_nan=False,
        description="Busiest-hour message rate divided by the 24-hour average rate.",
    )
    user_profile: UserProfileName | None = Field(
        None,
        description="Client activity per user, as the Exchange calculator's message profiles: "
        "light, average or heavy; sets client_fetches_per_user_hour and "
        "client_sessions_per_user from the catalog (omit both for no client-load sizing).",
    )
    client_fetches_per_user_hour: NonNeg | None = Field(
        None,
        description="Message fetches (IMAP FETCH / POP3 RETR) per user in the busiest hour.",
    )
    client_sessions_per_user: NonNeg | None = Field(
        None, description="Concurrent client sessions per user at the peak (IMAP, mobile)."
    )
    backup_retention_days: int | None = Field(
        None,
        ge=1,
        le=3650,
        description="Days of backup versions to keep; sets how many retention copies "
        "on-prem backup stores (default: the option's backup_copies).",
    )
    recipients_per_message: float = Field(
        1.0,
        ge=1,
        le=1000,
        allow_inf_nan=False,
        description="Average recipients per outbound message; a relay such as Amazon SES "
        "bills each recipient.",
    )
    sending_domains: int = Field(
        1,
        ge=1,
        le=10_000,
        description="Domains the organisation sends mail from, each with its own SPF, DKIM "
        "and DMARC records to keep (the sender_auth line is hours per domain).",
    )
    segments: list[Segment] = Field(
        default_factory=list,
        description="Groups of people with their own profile and plan (frontline staff); "
        "their users are part of users, and the rest keep the organisation's profile and "
        "each option's own plan.",
    )
    shared_mailboxes: SharedMailboxes | None = Field(
        None, description="Shared mailboxes: a count and a size (no person behind them)."
    )

    @field_validator("segments")
    @classmethod
    def _segments_fit(cls, segments: list[Segment], info: ValidationInfo) -> list[Segment]:
        users = info.data.get("users")
        carved = sum(s.users for s in segments)
        if isinstance(users, int) and carved > users:
            raise ValueError(
                f"segment users add up to {carved:,}, more than organization.users "
                f"({users:,}); users counts every person, segments included"
            )
        names = [s.name for s in segments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError("repeated segment names: " + ", ".join(dupes))
        return segments


class OnPremOption(_Model):
    """A self-hosted option. Any field given here wins over the stack, the server profile
    and the catalog's global defaults, in that order."""

    id: OptionId
    label: str | None = Field(None, max_length=120, description="Name shown in reports.")
    stack: str | None = Field(None, description="Software stack id from the catalog.")
    server: str | None = Field(None, description="Hardware profile id from the catalog.")
    relay: str | None = Field(
        None,
        description="Outbound relay service id from the catalog (sets outbound_relay_per_1000).",
    )
    server_price: NonNeg | None = Field(None, description="USD per server, bought outright.")
    server_watts: NonNeg | None = Field(None, description="Average draw per server in W.")
    capacity_msgs_per_s: Positive | None = Field(
        None, description="Messages per second one server sustains at full load."
    )
    capacity_source: str | None = Field(
        None, max_length=500, description="Where capacity_msgs_per_s comes from."
    )
    capacity_origin: Literal["catalog", "manual", "benchmark"] | None = Field(
        None,
        description="Where the inline capacity comes from: manual (typed in) or benchmark "
        "(measured with mailplan bench); older files are read from capacity_source.",
    )
    capacity_indicative: bool | None = Field(
        None,
        description="True when the measured capacity comes from a run too short to rely on.",
    )
    storage_tb_per_server: Positive | None = Field(
        None,
        description="Usable mail storage per server in TB (wins over the profile's disks).",
    )
    client_capacity_fetches_per_s: Positive | None = Field(
        None,
        description="Message fetches per second one server serves within its latency target "
        "(from the catalog, or measured: mailplan bench capacity --protocol pop3|imap).",
    )
    client_capacity_source: str | None = Field(
        None,
        max_length=500,
        description="Where client_capacity_fetches_per_s comes from (mailplan bench apply "
        "writes the POP3 or IMAP result it used).",
    )
    client_capacity_indicative: bool | None = Field(
        None,
        description="True when the measured client capacity comes from a short run.",
    )
    client_capacity_sessions: Positive | None = Field(
        None, description="Concurrent client sessions one server holds."
    )
    storage_index_overhead: Fraction | None = Field(
        None, description="Content index/search, as a fraction of the mailbox data."
    )
    storage_retention_overhead: Fraction | None = Field(
        None, description="Deleted-item retention, as a fraction of the mailbox data."
    )
    storage_filesystem_overhead: Fraction | None = Field(
        None, description="Filesystem share of the usable disk (RAID is already taken out)."
    )
    redundancy: Redundancy | None = Field(
        None, description="Spare servers: none (+0), n+1 (+1), 2n (twice the servers)."
    )
    refresh_years: int | None = Field(
        None, ge=1, le=15, description="Years before a server is replaced."
    )
    target_utilization: float | None = Field(
        None, gt=0, le=1, allow_inf_nan=False, description="Planned load as a fraction of capacity."
    )
    electricity_per_kwh: NonNeg | None = Field(None, description="USD per kWh.")
    pue: float | None = Field(
        None, ge=1, le=5, allow_inf_nan=False, description="Power usage effectiveness of the room."
    )
    rack_per_server_month: NonNeg | None = Field(
        None, description="USD per server-month for space (older key; rack_per_u_month wins)."
    )
    admin_hours_per_month: NonNeg | None = Field(None, description="Fixed admin hours a month.")
    admin_hours_per_server_month: NonNeg | None = Field(
        None, description="Admin hours per server-month."
    )
    admin_hours_per_100_users_month: NonNeg | None = Field(
        None, description="Admin hours per 100 users a month."
    )
    admin_hourly_cost: NonNeg | None = Field(None, description="USD per admin hour, fully loaded.")
    licence_per_server_year: NonNeg | None = Field(None, description="USD per server-year.")
    licence_per_user_year: NonNeg | None = Field(None, description="USD per user-year.")
    filtering_per_user_month: NonNeg | None = Field(
        None, description="USD per user-month for spam/virus filtering."
    )
    backup_per_tb_month: NonNeg | None = Field(None, description="USD per TB-month of backup.")
    outbound_relay_per_1000: NonNeg | None = Field(
        None, description="USD per 1,000 outbound recipients through a relay."
    )
    outbound_relay_per_gb: NonNeg | None = Field(
        None, description="USD per GB of outbound mail through a relay (0 when not given)."
    )
    setup_cost: NonNeg | None = Field(None, description="USD once, in year 1.")
    discount_pct: Fraction | None = Field(
        None,
        description="Negotiated discount on the list price of software licences, as a "
        "fraction (0.15 = 15 % off).",
    )
    hardware_discount_pct: Fraction | None = Field(
        None, description="Negotiated discount on the server list price, as a fraction."
    )
    copies: int | None = Field(
        None,
        ge=1,
        le=3,
        description="Copies of every mailbox: 1 a single copy, 2 a highly available pair, 3 "
        "adds site resilience (as an Exchange database availability group); multiplies "
        "storage and servers.",
    )
    cores: int | None = Field(
        None, ge=1, le=1024, description="CPU cores per server (OS licences are per core)."
    )
    rack_units: int | None = Field(None, ge=1, le=48, description="Rack units per server.")
    warranty_years: int | None = Field(
        None, ge=0, le=15, description="Years of hardware support included in the price."
    )
    support_pct_per_year: Fraction | None = Field(
        None,
        description="Hardware support after the included warranty, per year, as a fraction "
        "of the server price.",
    )
    os_licence_per_core_year: NonNeg | None = Field(
        None, description="USD per core-year for the server operating system (0 for Linux)."
    )
    os_cal_per_user_year: NonNeg | None = Field(
        None, description="USD per user-year of OS client access licences (Windows CALs)."
    )
    backup_software_per_server_year: NonNeg | None = Field(
        None, description="USD per server-year for backup software."
    )
    backup_copies: int | None = Field(
        None,
        ge=1,
        le=400,
        description="Retention copies the backup keeps of the mail (full-size equivalents).",
    )
    dr: DisasterRecovery | None = Field(
        None,
        description="Disaster recovery: none, cold (a standby site restored from backup) or "
        "warm (a standby server kept in sync); a live extra copy is 'copies'.",
    )
    dr_cold_per_tb_month: NonNeg | None = Field(
        None, description="USD per TB-month for the off-site copy a cold standby restores."
    )
    network_per_month: NonNeg | None = Field(
        None, description="USD a month for static IPs, uplink share and certificates."
    )
    rack_per_u_month: NonNeg | None = Field(
        None, description="USD per rack unit a month for space (colocation)."
    )
    monitoring_per_server_month: NonNeg | None = Field(
        None, description="USD per server-month for monitoring."
    )
    helpdesk_hours_per_user_year: NonNeg | None = Field(
        None, description="Helpdesk hours per user a year (accounts, passwords, clients)."
    )
    helpdesk_hourly_cost: NonNeg | None = Field(
        None, description="USD per helpdesk hour, fully loaded (default: the admin rate)."
    )
    server_availability: Fraction | None = Field(
        None, description="Availability of one server, as a fraction (0.995 = 99.5 %)."
    )
    sender_auth_hours_per_domain_month: NonNeg | None = Field(
        None,
        description="Sender-authentication and reputation hours per sending domain a month "
        "(DKIM key rotation, DMARC report review, blocklist monitoring).",
    )
    sender_auth_setup_hours_per_domain: NonNeg | None = Field(
        None,
        description="First-time SPF, DKIM and DMARC set-up hours per sending domain, in year 1 "
        "(not for the system that runs today).",
    )

    @model_validator(mode="after")
    def _standalone_needs_hardware(self) -> Self:
        if self.stack is None and self.server is None:
            missing = [
                name
                for name in ("server_price", "capacity_msgs_per_s", "storage_tb_per_server")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    "an option with neither 'stack' nor 'server' must give " + ", ".join(missing)
                )
        return self


CUSTOM_PLAN = "custom"


class CloudOption(_Model):
    """A cloud mail option: a catalog plan, or ``plan: custom`` with an inline price.
    Inline fields win over the plan's catalog values."""

    id: OptionId
    label: str | None = Field(None, max_length=120, description="Name shown in reports.")
    plan: str = Field(description="Plan id from the catalog, or 'custom' for an inline plan.")
    billing: Billing | None = Field(
        None,
        description="annual (default), annual_billed_monthly or monthly; the catalog's "
        "surcharge for the plan's vendor applies.",
    )
    price_per_user_month: NonNeg | None = Field(None, description="USD per user-month.")
    included_gb_per_user: NonNeg | None = Field(
        None, description="Storage included per user in GB."
    )
    extra_storage_per_gb_month: NonNeg | None = Field(None, description="USD per extra GB-month.")
    per_1000_messages: NonNeg | None = Field(None, description="USD per 1,000 outbound messages.")
    migration_per_user: NonNeg | None = Field(None, description="USD per user, once, in year 1.")
    admin_hours_per_month: NonNeg | None = Field(None, description="Admin hours a month.")
    admin_hours_per_100_users_month: NonNeg | None = Field(
        None, description="Admin hours per 100 users a month (tenant work grows with users)."
    )
    helpdesk_hours_per_user_year: NonNeg | None = Field(
        None, description="Helpdesk hours per user a year (accounts, passwords, clients)."
    )
    admin_hourly_cost: NonNeg | None = Field(None, description="USD per admin hour, fully loaded.")
    helpdesk_hourly_cost: NonNeg | None = Field(
        None, description="USD per helpdesk hour, fully loaded (default: the admin rate)."
    )
    discount_pct: Fraction | None = Field(
        None,
        description="Negotiated discount on the plan's list price (subscription, storage and "
        "add-ons), as a fraction (0.15 = 15 % off): an enterprise agreement, nonprofit or "
        "education pricing.",
    )
    price_lock_years: int | None = Field(
        None,
        ge=0,
        le=15,
        description="Years the subscription price is locked: no escalation in them.",
    )
    exit_cost: NonNeg | None = Field(
        None, description="USD once, at the end of the horizon, to export the data and leave."
    )
    availability: Fraction | None = Field(
        None, description="Availability, as a fraction (default: the vendor's SLA)."
    )
    sender_auth_hours_per_domain_month: NonNeg | None = Field(
        None,
        description="Sender-authentication and reputation hours per sending domain a month "
        "(DKIM key rotation, DMARC report review, blocklist monitoring).",
    )
    sender_auth_setup_hours_per_domain: NonNeg | None = Field(
        None,
        description="First-time SPF, DKIM and DMARC set-up hours per sending domain, in year 1 "
        "(not for the system that runs today).",
    )

    @model_validator(mode="after")
    def _custom_needs_price(self) -> Self:
        if self.plan == CUSTOM_PLAN and self.price_per_user_month is None:
            raise ValueError("plan 'custom' needs price_per_user_month")
        return self


class TaxShares(_Model):
    """Unrecoverable tax as a fraction of purchases, per group of cost categories."""

    capex: Fraction = Field(0.0, description="On hardware, set-up and migration.")
    opex: Fraction = Field(0.0, description="On subscriptions, licences and services.")


class Migration(_Model):
    """What moving from the system that runs today (``current``) to another option costs;
    each field not given comes from the catalog's defaults."""

    per_mailbox: NonNeg | None = Field(
        None, description="USD per mailbox moved (labour: copy, cut-over, client set-up)."
    )
    tool_per_mailbox: NonNeg | None = Field(
        None, description="USD per mailbox for migration tool licences."
    )
    dual_running_months: NonNeg | None = Field(
        None,
        le=36,
        description="Months in which both systems are paid for (today's bill runs on).",
    )
    training_hours_per_user: NonNeg | None = Field(
        None, description="IT hours per user to prepare and give training on the new system."
    )


class Qualitative(_Model):
    """The decision matrix: weights per criterion, scores 1..5 per option, hard requirements."""

    weights: dict[Criterion, NonNeg] = Field(
        default_factory=lambda: dict.fromkeys(CRITERIA, 1.0),
        description="Weight per criterion (missing criteria weigh 1).",
    )
    scores: dict[str, dict[Criterion, Annotated[int, Field(ge=1, le=5)]]] = Field(
        default_factory=dict,
        description="Per option id, scores 1..5; missing scores come from the catalog defaults.",
    )
    requirements: list[str] = Field(
        default_factory=list, description="Requirement ids from the catalog that rule options out."
    )


Correlation = tuple[str, str, Annotated[float, Field(ge=-1, le=1, allow_inf_nan=False)]]


def _as_line_error(e: Any) -> InitErrorDetails:
    """A pydantic error, as reported, ready to be raised again beside other problems."""
    message = str(e["msg"]).replace("{", "{{").replace("}", "}}")
    return InitErrorDetails(
        type=PydanticCustomError(e["type"], message), loc=tuple(e["loc"]), input=e["input"]
    )


_RANGES_SEEN: dict[int, dict[str, Distribution]] = {}
"""``Scenario.ranges`` of each live scenario, by ``id`` (dropped when it is collected)."""


class Scenario(_Model):
    """A planning scenario: the organisation, its mail, and the options to compare.

    Numeric fields of ``organization``, ``escalation`` and the options may be written as
    ranges (see ``planner.ranges``): the field then holds the range's typical value and
    :attr:`ranges` holds the range, keyed by field path. Dumps put the ranges back in
    place, so a dumped scenario reads like the file it came from.
    """

    name: str = Field(min_length=1, max_length=200)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 display currency.")
    usd_exchange_rate: float = Field(
        1.0, gt=0, allow_inf_nan=False, description="Units of `currency` per USD."
    )
    horizon_years: int = Field(5, ge=1, le=15, description="Years to plan for.")
    discount_rate: float = Field(
        0.05, ge=0, le=1, allow_inf_nan=False, description="Real discount rate per year, for NPV."
    )
    start_date: dt.date | None = Field(
        None,
        description="First day of year 1, by which end-of-life dates are judged (default: the "
        "catalog's review date, its as_of).",
    )
    current: str | None = Field(
        None,
        description="The option id of what runs today (omit for a new installation): it is "
        "not held to 'not sold to new customers' and, past its end of life, is never "
        "recommended.",
    )
    escalation: Escalation = Field(default_factory=Escalation)
    price_basis: PriceBasis = Field(
        "real",
        description="real: prices in today's money, escalation above inflation, a real "
        "discount rate; nominal: inflation is added to every escalation rate and combined with "
        "the discount rate (Fisher).",
    )
    inflation: float = Field(
        0.0,
        ge=-0.2,
        le=1.0,
        allow_inf_nan=False,
        description="Yearly inflation, used with price_basis: nominal.",
    )
    current_servers_bought: int | None = Field(
        None,
        ge=1990,
        le=2100,
        description="Year the servers of the on-prem option that runs today were bought; "
        "they are replaced when their refresh is due.",
    )
    labour_cost: LabourCost = Field(
        "cash",
        description="cash: admin and helpdesk labour is paid for; existing_staff: it is done "
        "by staff already paid, so it is left out of totals and reported as opportunity cost.",
    )
    downtime_cost_per_user_hour: NonNeg | None = Field(
        None, description="USD lost per user for each hour mail is down (sets 'downtime')."
    )
    downtime_cost_per_hour: NonNeg | None = Field(
        None, description="USD lost by the organisation for each hour mail is down."
    )
    migration: Migration = Field(default_factory=Migration)
    tax_pct: TaxShares | None = Field(
        None,
        description="Sales tax or VAT the organisation cannot recover, as a fraction of what "
        "it buys, per group: capex and opex (catalog prices exclude tax).",
    )
    organization: Organization
    onprem: list[OnPremOption] = Field(default_factory=list)
    cloud: list[CloudOption] = Field(default_factory=list)
    qualitative: Qualitative | None = None
    correlations: list[Correlation] = Field(
        default_factory=list,
        description="Correlations between ranged inputs, as [field_path_a, field_path_b, rho] "
        "(a Gaussian copula; rho in -1..1). Paths: organization.<field>, escalation.<field>, "
        "onprem.<id>.<field>, cloud.<id>.<field>.",
    )
    _range_by_path: dict[str, Distribution] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _read_ranges(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Replace each range by its typical value, validate, then keep the ranges."""
        if not isinstance(data, Mapping):
            return handler(data)
        found = extract_ranges(data, RANGED_MODELS)
        try:
            scenario = handler(found.data)
        except ValidationError as exc:
            if not found.problems:
                raise
            others = [
                _as_line_error(e)
                for e in exc.errors(include_url=False)
                if not any(tuple(e["loc"])[: len(b)] == b for b in found.bad_locs)
            ]
            raise ValidationError.from_exception_data(
                cls.__name__, [*found.problems, *others]
            ) from None
        problems = found.problems + correlation_problems(
            scenario.correlations, found.ranges, scenario.has_field
        )
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        scenario._range_by_path = found.ranges
        return scenario

    @model_serializer(mode="wrap")
    def _ranges_in_place(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(self)
        if isinstance(data, dict) and info.include is None and info.exclude is None:
            inject_ranges(data, self.ranges)
        return data

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The JSON Schema of the scenario file, with the range forms on numeric fields."""
        schema = super().model_json_schema(*args, **kwargs)
        mode = kwargs.get("mode", args[3] if len(args) > 3 else "validation")
        return add_range_forms(schema, RANGED_MODELS) if mode == "validation" else schema

    @property
    def ranges(self) -> dict[str, Distribution]:
        """The ranges on inputs, by field path (``organization.users``, ``onprem.<id>.pue``).

        A range whose field no longer holds its typical value (the field was changed with
        ``model_copy``) is left out: the number that was set wins.
        """
        # A report build asks hundreds of times, and the model is frozen: kept per object
        # (not as a private attribute, which model_copy and == would carry and compare).
        kept = _RANGES_SEEN.get(id(self))
        if kept is None:
            kept = _RANGES_SEEN[id(self)] = {
                path: dist
                for path, dist in self._range_by_path.items()
                if self._holds_center(path, dist)
            }
            weakref.finalize(self, _RANGES_SEEN.pop, id(self), None)
        return dict(kept)

    def field_value(self, path: str) -> float | None:
        """The number at a field path, or None when the path names no numeric field."""
        section, option_id, name = split_path(path)
        model = RANGED_MODELS.get(section)
        if model is None or name not in numeric_fields(model):
            return None
        holder: BaseModel | None
        if section == "":
            holder = self
        elif option_id is None:
            holder = getattr(self, section)
        else:
            options: list[OnPremOption] | list[CloudOption] = getattr(self, section)
            holder = next((o for o in options if o.id == option_id), None)
        value = getattr(holder, name, None) if holder is not None else None
        return float(value) if isinstance(value, int | float) else None

    def has_field(self, path: str) -> bool:
        """Whether ``path`` names a numeric field that may hold a range (set or not)."""
        section, option_id, name = split_path(path)
        model = RANGED_MODELS.get(section)
        if model is None or name not in numeric_fields(model):
            return False
        return option_id is None or option_id in self.option_ids()

    def _holds_center(self, path: str, dist: Distribution) -> bool:
        section, _, name = split_path(path)
        spec = numeric_fields(RANGED_MODELS[section])[name]
        center = dist.center()
        expected = round_half_up(center) if spec.integer else center
        return self.field_value(path) == expected

    @model_validator(mode="after")
    def _options_are_named_once(self) -> Self:
        if not self.onprem and not self.cloud:
            raise ValueError("give at least one option under 'onprem' or 'cloud'")
        ids = [o.id for o in self.onprem] + [o.id for o in self.cloud]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError("option ids must be unique; repeated: " + ", ".join(dupes))
        if self.downtime_cost_per_user_hour is not None and self.downtime_cost_per_hour is not None:
            raise ValueError("give downtime_cost_per_user_hour or downtime_cost_per_hour, not both")
        if self.current_servers_bought is not None and (
            self.current is None or self.current not in [o.id for o in self.onprem]
        ):
            raise ValueError("current_servers_bought needs 'current' to name an on-prem option")
        if self.current is not None and self.current not in ids:
            raise ValueError(
                f"current: '{self.current}' is not an option of the scenario "
                f"(options: {', '.join(ids)})"
            )
        cloud_ids = [o.id for o in self.cloud]
        for i, seg in enumerate(self.organization.segments):
            for option_id in seg.plans:
                if option_id not in cloud_ids:
                    raise ValueError(
                        f"organization.segments[{i}].plans: '{option_id}' is not a cloud "
                        f"option of the scenario (cloud options: {', '.join(cloud_ids) or 'none'})"
                    )
        if self.qualitative is not None:
            unknown = sorted(set(self.qualitative.scores) - set(ids))
            if unknown:
                raise ValueError(
                    "qualitative.scores names options that are not in the scenario: "
                    + ", ".join(unknown)
                )
        return self

    def option_ids(self) -> list[str]:
        """Ids of every option, on-prem first, in file order."""
        return [o.id for o in self.onprem] + [o.id for o in self.cloud]


# The scenario's top-level numbers that may hold a range (inflation does not: it sets the
# discount rate too).
_TOP_RANGED: dict[str, Any] = {
    name: (info.annotation, info)
    for name, info in Scenario.model_fields.items()
    if name in ("downtime_cost_per_user_hour", "downtime_cost_per_hour")
}
ScenarioNumbers = create_model("ScenarioNumbers", __base__=_Model, **_TOP_RANGED)

RANGED_MODELS: dict[str, type[BaseModel]] = {  # section of a field path -> its model
    "": ScenarioNumbers,
    "organization": Organization,
    "escalation": Escalation,
    "migration": Migration,
    "onprem": OnPremOption,
    "cloud": CloudOption,
}


# endregion
# region #### catalog ####


class Sourced(_Model):
    """A figure with where it came from: ``source`` (a URL, or a result file in
    ``data/benchmarks/`` measured with ``mailplan bench``) and ``as_of`` (the date the source
    states, or the date it was read). ``estimate`` marks a figure that is not the vendor's
    own or is derived; ``note`` then says how."""

    value: float = Field(allow_inf_nan=False)
    source: str = Field(
        pattern=r"^(https?://\S+|data/benchmarks/[\w.-]+\.json)$",
        description="A URL, or a benchmark result measured with mailplan bench "
        "(data/benchmarks/<file>.json).",
    )
    as_of: str = Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")
    estimate: bool = False
    note: str | None = None

    @field_validator("as_of", mode="before")
    @classmethod
    def _date_to_text(cls, v: Any) -> Any:
        return v.isoformat() if isinstance(v, dt.date) else v

    @model_validator(mode="after")
    def _estimates_are_explained(self) -> Self:
        if self.estimate and not self.note:
            raise ValueError("an estimate needs a note saying how it was derived")
        return self


class SourcedText(_Model):
    """A fact that is not a number (an end-of-life date, a policy), with its source."""

    value: str
    source: str = Field(pattern=r"^https?://\S+$")
    as_of: str = Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")
    estimate: bool = False
    note: str | None = None

    @field_validator("value", "as_of", mode="before")
    @classmethod
    def _date_to_text(cls, v: Any) -> Any:
        return v.isoformat() if isinstance(v, dt.date) else v


_URL = r"^https?://\S+$"
_DATE = r"^\d{4}(-\d{2}(-\d{2})?)?$"


class FeatureAddon(_Model):
    """A feature a plan or stack lacks but the vendor sells on top, per user."""

    label: str
    price_per_user_month: Sourced


class Feature(_Model):
    """Whether a plan or stack includes one feature of the parity table (features.yaml),
    with its source: ``addon`` where the vendor sells it separately."""

    included: bool
    addon: FeatureAddon | None = None
    source: str = Field(pattern=_URL)
    as_of: str = Field(pattern=_DATE)
    estimate: bool = False
    note: str | None = None

    @field_validator("as_of", mode="before")
    @classmethod
    def _date_to_text(cls, v: Any) -> Any:
        return v.isoformat() if isinstance(v, dt.date) else v

    @model_validator(mode="after")
    def _estimates_are_explained(self) -> Self:
        if self.estimate and not self.note:
            raise ValueError("an estimate needs a note saying how it was derived")
        return self


class FeatureInfo(_Model):
    """One row of the feature-parity table; ids share a namespace with requirement ids."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    label: str
    description: str


class StorageAddon(_Model):
    """A per-user add-on that raises a plan's storage (e.g. Exchange Online Archiving)."""

    label: str
    price_per_user_month: Sourced
    gb_per_user: Sourced


class CloudPlan(_Model):
    """A cloud mail plan from the catalog."""

    id: str
    label: str
    vendor: str
    price_per_user_month: Sourced
    included_gb_per_user: Sourced
    storage_pooled: bool = Field(
        False, description="Storage is pooled across the organisation (per-user figure x users)."
    )
    mailbox_cap_gb: Sourced | None = Field(
        None, description="Hard cap per mailbox, archive included, that no purchase lifts."
    )
    extra_storage_per_gb_month: Sourced | None = None
    storage_addon: StorageAddon | None = None
    per_1000_messages: Sourced | None = None
    migration_per_user: Sourced | None = None
    admin_hours_per_month: Sourced
    admin_hours_per_100_users_month: Sourced | None = Field(
        None, description="Tenant admin hours per 100 users a month (default: the defaults')."
    )
    helpdesk_hours_per_user_year: Sourced | None = Field(
        None, description="Helpdesk hours per user a year (default: the defaults')."
    )
    sender_auth_hours_per_domain_month: Sourced | None = Field(
        None, description="Sender-authentication hours per sending domain a month."
    )
    sender_auth_setup_hours_per_domain: Sourced | None = Field(
        None, description="First-time SPF/DKIM/DMARC set-up hours per sending domain."
    )
    sla_availability: Sourced | None = Field(
        None, description="Financially backed monthly uptime the vendor's SLA commits to."
    )
    historical_availability: Sourced | None = Field(
        None, description="A documented historical availability, where one exists."
    )
    min_users: Sourced | None = Field(None, description="Fewest seats the vendor sells.")
    max_users: Sourced | None = Field(None, description="Most seats the plan is sold for.")
    end_of_life: SourcedText | None = None
    available_to_new_customers: bool = Field(
        True,
        validation_alias=AliasChoices("available_to_new_customers", "selectable"),
        description="False for legacy plans the vendor no longer sells to new customers "
        "('selectable' is read as an old name for it).",
    )
    upgrade_to: str | None = Field(
        None,
        description="The plan id an organisation too big for this plan (or leaving it) "
        "buys instead: the closest like-for-like.",
    )
    features: dict[str, Feature] = Field(
        default_factory=dict, description="Per feature id of features.yaml, included or not."
    )
    bundled_extras: list[str] = Field(
        default_factory=list,
        description="What else the price buys (office apps, chat, file storage...).",
    )
    tiers: dict[Tier, str] = Field(
        default_factory=dict,
        description="Per tier (frontline), the plan id of the same vendor that a segment of "
        "that tier is bought on beside this plan.",
    )
    properties: list[str] = Field(default_factory=list)
    notes: str | None = None

    @property
    def selectable(self) -> bool:
        """Old name of ``available_to_new_customers``."""
        return self.available_to_new_customers


class Stack(_Model):
    """An on-prem software stack: licences, admin effort, set-up, relative capacity."""

    id: str
    label: str
    open_source: bool
    licence_per_server_year: Sourced
    licence_per_user_year: Sourced
    admin_hours_per_month: Sourced
    admin_hours_per_server_month: Sourced
    admin_hours_per_100_users_month: Sourced
    setup_cost: Sourced
    filtering_per_user_month: Sourced | None = None
    sender_auth_hours_per_domain_month: Sourced | None = Field(
        None, description="Sender-authentication hours per sending domain a month."
    )
    sender_auth_setup_hours_per_domain: Sourced | None = Field(
        None, description="First-time SPF/DKIM/DMARC set-up hours per sending domain."
    )
    os_licence_per_core_year: Sourced | None = Field(
        None, description="Server OS licence per core-year the stack needs (Windows Server)."
    )
    os_cal_per_user_year: Sourced | None = Field(
        None, description="OS client access licence per user-year (Windows Server CALs)."
    )
    iops_per_mailbox: Sourced | None = Field(
        None, description="Disk IOPS per active mailbox at the average profile (Exchange)."
    )
    ram_mb_per_mailbox: Sourced | None = Field(
        None, description="Memory per active mailbox in MB at the average profile (Exchange)."
    )
    capacity_scale: Sourced = Field(
        description="Capacity relative to the server profile's Postfix-class figure."
    )
    end_of_life: SourcedText | None = None
    available_to_new_customers: bool = Field(
        True, description="False for versions the vendor no longer sells to new customers."
    )
    upgrade_to: str | None = Field(
        None, description="The stack id that replaces this one (its supported successor)."
    )
    features: dict[str, Feature] = Field(
        default_factory=dict, description="Per feature id of features.yaml, included or not."
    )
    bundled_extras: list[str] = Field(
        default_factory=list, description="What else the stack provides beyond mail."
    )
    properties: list[str] = Field(default_factory=list)
    notes: str | None = None


class ServerProfile(_Model):
    """A hardware profile for on-prem servers."""

    id: str
    label: str
    server_price: Sourced
    server_watts: Sourced
    capacity_msgs_per_s: Sourced
    storage_tb_per_server: Sourced | None = Field(
        None, description="Usable TB; without it, computed from disks, disk_tb and raid."
    )
    disks: Sourced | None = Field(None, description="Data disks in the server.")
    disk_tb: Sourced | None = Field(None, description="Size of each data disk in TB.")
    raid: Raid | None = Field(None, description="RAID level of the data disks.")
    disk_iops: Sourced | None = Field(None, description="Random IOPS one data disk sustains.")
    ram_gb: Sourced | None = Field(None, description="Memory per server in GB.")
    client_capacity_fetches_per_s: Sourced | None = Field(
        None, description="Message fetches per second one server serves (IMAP/POP3)."
    )
    client_capacity_sessions: Sourced | None = Field(
        None, description="Concurrent client sessions one server holds."
    )
    cores: Sourced | None = Field(None, description="CPU cores per server.")
    rack_units: Sourced | None = Field(None, description="Rack units per server.")
    warranty_years: Sourced | None = Field(
        None, description="Years of hardware support included in the price."
    )
    notes: str | None = None

    @model_validator(mode="after")
    def _storage_is_known(self) -> Self:
        if self.storage_tb_per_server is None and None in (self.disks, self.disk_tb, self.raid):
            raise ValueError("give storage_tb_per_server, or disks, disk_tb and raid")
        return self

    def usable_tb(self) -> float:
        """Usable TB: the given figure, else data disks x disk size after RAID
        (raid1/raid10 half the disks, raid5 all but one, raid6 all but two)."""
        if self.storage_tb_per_server is not None:
            return self.storage_tb_per_server.value
        if self.disks is None or self.disk_tb is None or self.raid is None:
            raise ValueError(f"server profile {self.id}: no storage figure")  # the validator
        return usable_tb(self.disks.value, self.disk_tb.value, self.raid)


def usable_tb(disks: float, disk_tb: float, raid: Raid) -> float:
    """TB left for data after RAID: raid1 and raid10 keep half the disks, raid5 all but one,
    raid6 all but two."""
    data = {"raid1": disks / 2, "raid10": disks / 2, "raid5": disks - 1, "raid6": disks - 2}
    return max(data[raid], 0.0) * disk_tb


class Relay(_Model):
    """An outbound relay service an on-prem option can send through (e.g. Amazon SES)."""

    id: str
    label: str
    outbound_relay_per_1000: Sourced
    outbound_relay_per_gb: Sourced | None = Field(
        None, description="USD per GB of outbound mail (attachments included), if billed."
    )
    notes: str | None = None


class ClientProfile(_Model):
    """Client activity of one user profile: fetches in the busiest hour, peak sessions."""

    client_fetches_per_user_hour: Sourced
    client_sessions_per_user: Sourced


class Defaults(_Model):
    """Global defaults for on-prem options, each with its source."""

    redundancy: SourcedText
    server_watts: Sourced
    refresh_years: Sourced
    target_utilization: Sourced
    electricity_per_kwh: Sourced
    pue: Sourced
    rack_per_server_month: Sourced
    admin_hourly_cost: Sourced
    admin_hours_per_month: Sourced
    admin_hours_per_server_month: Sourced
    admin_hours_per_100_users_month: Sourced
    licence_per_server_year: Sourced
    licence_per_user_year: Sourced
    filtering_per_user_month: Sourced
    backup_per_tb_month: Sourced
    outbound_relay_per_1000: Sourced
    setup_cost: Sourced
    migration_per_user: Sourced = Field(
        description="Cloud migration per user for catalog plans that do not give their own."
    )
    # The cost model's lines and labour (each optional: a catalog without it costs 0 there).
    support_pct_per_year: Sourced | None = None
    backup_software_per_server_year: Sourced | None = None
    backup_copies: Sourced | None = None
    network_per_month: Sourced | None = None
    rack_per_u_month: Sourced | None = None
    rack_units: Sourced | None = None
    warranty_years: Sourced | None = None
    cores: Sourced | None = None
    monitoring_per_server_month: Sourced | None = None
    helpdesk_hours_per_user_year: Sourced | None = None
    helpdesk_hourly_cost: Sourced | None = Field(
        None, description="USD per helpdesk hour, fully loaded (default: admin_hourly_cost)."
    )
    cloud_admin_hours_per_100_users_month: Sourced | None = None
    cloud_helpdesk_hours_per_user_year: Sourced | None = None
    sender_auth_hours_per_domain_month: Sourced | None = Field(
        None, description="Sender-authentication hours per sending domain a month."
    )
    sender_auth_setup_hours_per_domain: Sourced | None = Field(
        None, description="First-time SPF/DKIM/DMARC set-up hours per sending domain."
    )
    cloud_sender_auth_hours_per_domain_month: Sourced | None = None
    cloud_sender_auth_setup_hours_per_domain: Sourced | None = None
    server_availability: Sourced | None = Field(
        None, description="Availability of one on-prem mail server (fraction)."
    )
    dr_cold_per_tb_month: Sourced | None = Field(
        None, description="USD per TB-month for an off-site copy restored in a disaster."
    )
    storage_index_overhead: Sourced | None = None
    storage_retention_overhead: Sourced | None = None
    storage_filesystem_overhead: Sourced | None = None
    user_profiles: dict[UserProfileName, ClientProfile] = Field(
        default_factory=dict,
        description="Client activity per user for each message profile (light, average, heavy).",
    )
    migration_per_mailbox: Sourced | None = None
    migration_tool_per_mailbox: Sourced | None = None
    dual_running_months: Sourced | None = None
    training_hours_per_user: Sourced | None = None


class ScoreReason(_Model):
    """A default qualitative score with a one-line reason."""

    score: int = Field(ge=1, le=5)
    reason: str


class CriterionInfo(_Model):
    """One criterion of the decision matrix."""

    id: Criterion
    label: str
    description: str


class Requirement(_Model):
    """A hard requirement; options that lack the property of the same id are ruled out."""

    id: str
    label: str
    description: str


class QualitativeCatalog(_Model):
    """Criteria, default scores per stack or plan id, and the known requirements."""

    criteria: list[CriterionInfo]
    scores: dict[str, dict[Criterion, ScoreReason]]
    requirements: list[Requirement]


class SharedMailboxRule(_Model):
    """A vendor's licence rule for shared mailboxes."""

    free_up_to_gb: Sourced = Field(
        description="A shared mailbox up to this size needs no licence (0: each one is a "
        "licensed seat)."
    )
    over_limit_plan: str | None = Field(
        None,
        description="The plan a shared mailbox above the limit is licensed on (default: the "
        "option's own plan).",
    )


class Catalog(_Model):
    """Everything in ``data/catalog/``: plans, stacks, servers, relays, defaults, scores,
    and the feature-parity rows."""

    as_of: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}$", description="The day the catalog was last reviewed."
    )
    primary_hosts: list[str] = Field(
        description="Hosts of vendors and statistics offices; a figure citing another host "
        "must be an estimate (a subdomain of a listed host counts as listed)."
    )
    features: list[FeatureInfo] = Field(default_factory=list)
    plans: list[CloudPlan]
    stacks: list[Stack]
    servers: list[ServerProfile]
    relays: list[Relay]
    defaults: Defaults
    billing_surcharges: dict[str, dict[Billing, Sourced]] = Field(
        description="Per vendor, the price multiplier minus one for each billing term."
    )
    qualitative: QualitativeCatalog
    shared_mailboxes: dict[str, SharedMailboxRule] = Field(
        default_factory=dict,
        description="Per vendor, the licence rule for shared mailboxes (a vendor not listed: "
        "each shared mailbox is a seat on the option's own plan).",
    )

    @model_validator(mode="after")
    def _ids_are_unique(self) -> Self:
        for kind in ("plans", "stacks", "servers", "relays"):
            ids = [e.id for e in getattr(self, kind)]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{kind}: repeated ids: {', '.join(dupes)}")
        return self

    @field_validator("as_of", mode="before")
    @classmethod
    def _date_to_text(cls, v: Any) -> Any:
        return v.isoformat() if isinstance(v, dt.date) else v

    @model_validator(mode="after")
    def _features_and_upgrades_are_known(self) -> Self:
        problems: list[InitErrorDetails] = []

        def problem(loc: tuple[str | int, ...], message: str, value: Any) -> None:
            problems.append(
                InitErrorDetails(
                    type=PydanticCustomError("catalog", message),
                    loc=loc,
                    input=value,
                )
            )

        feature_ids = [f.id for f in self.features]
        for i, fid in enumerate(feature_ids):
            if feature_ids.index(fid) != i:
                problem(("features", i, "id"), f"repeated feature id '{fid}'", fid)
        requirement_ids = {r.id for r in self.qualitative.requirements}
        for i, fid in enumerate(feature_ids):
            if fid in requirement_ids:
                problem(
                    ("features", i, "id"),
                    f"feature id '{fid}' is also a requirement id in qualitative.yaml "
                    "(features and requirements share one namespace)",
                    fid,
                )
        known = set(feature_ids)
        known_text = ", ".join(feature_ids) or "none"
        groups: list[tuple[str, list[CloudPlan | Stack]]] = [
            ("plans", [*self.plans]),
            ("stacks", [*self.stacks]),
        ]
        for kind, entries in groups:
            ids = {e.id for e in entries}
            for i, entry in enumerate(entries):
                for key in entry.features:
                    if key not in known:
                        problem(
                            (kind, i, "features", key),
                            f"unknown feature '{key}' in {entry.id} (known: {known_text})",
                            key,
                        )
                missing = [f for f in feature_ids if f not in entry.features]
                if missing:
                    problem(
                        (kind, i, "features"),
                        f"{entry.id} does not say whether it includes: {', '.join(missing)}",
                        sorted(entry.features),
                    )
                for tier, tier_plan in getattr(entry, "tiers", {}).items():
                    if tier_plan not in ids:
                        problem(
                            (kind, i, "tiers", tier),
                            f"unknown plan '{tier_plan}' ({tier} tier of {entry.id})",
                            tier_plan,
                        )
                if entry.upgrade_to is not None and entry.upgrade_to not in ids:
                    problem(
                        (kind, i, "upgrade_to"),
                        f"unknown {kind[:-1]} '{entry.upgrade_to}' (upgrade of {entry.id})",
                        entry.upgrade_to,
                    )
            nxt = {e.id: e.upgrade_to for e in entries if e.upgrade_to in ids}
            reported: set[str] = set()
            for i, entry in enumerate(entries):
                chain = [entry.id]
                while (after := nxt.get(chain[-1])) is not None and after not in chain:
                    chain.append(after)
                if after is not None and after == entry.id and entry.id not in reported:
                    reported.update(chain)
                    problem(
                        (kind, i, "upgrade_to"),
                        "upgrade_to forms a cycle: " + " -> ".join([*chain, entry.id]),
                        entry.upgrade_to,
                    )
        plan_ids = {p.id for p in self.plans}
        for vendor, rule in self.shared_mailboxes.items():
            if rule.over_limit_plan is not None and rule.over_limit_plan not in plan_ids:
                problem(
                    ("shared_mailboxes", vendor, "over_limit_plan"),
                    f"unknown plan '{rule.over_limit_plan}'",
                    rule.over_limit_plan,
                )
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self

    def feature(self, feature_id: str) -> FeatureInfo | None:
        """The feature-parity row with this id, or None."""
        return next((f for f in self.features if f.id == feature_id), None)

    def plan(self, plan_id: str) -> CloudPlan | None:
        """The cloud plan with this id, or None."""
        return next((p for p in self.plans if p.id == plan_id), None)

    def stack(self, stack_id: str) -> Stack | None:
        """The on-prem stack with this id, or None."""
        return next((s for s in self.stacks if s.id == stack_id), None)

    def server(self, server_id: str) -> ServerProfile | None:
        """The hardware profile with this id, or None."""
        return next((s for s in self.servers if s.id == server_id), None)

    def relay(self, relay_id: str) -> Relay | None:
        """The relay service with this id, or None."""
        return next((r for r in self.relays if r.id == relay_id), None)


# endregion
