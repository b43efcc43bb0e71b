"""Fill every option's inputs from the catalog and remember where each value came from.

An on-prem field comes from, in order: the option inline, the relay (for
``outbound_relay_per_1000``), the stack, the server profile, the catalog's global
defaults. Capacity is the server profile's figure times the stack's ``capacity_scale``
unless ``capacity_msgs_per_s`` is given inline. A cloud field comes from the option
inline, then the plan (with the vendor's billing surcharge on the list price), then the
global defaults (admin hourly cost, migration). ``plan: custom`` takes zero for anything
not given.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from planner.errors import Problem, ScenarioError
from planner.models import (
    CUSTOM_PLAN,
    Catalog,
    CloudOption,
    CloudPlan,
    DisasterRecovery,
    OnPremOption,
    Redundancy,
    Scenario,
    ServerProfile,
    Sourced,
    SourcedText,
    Stack,
)

__all__ = [
    "AUTO_SERVER",
    "PLAN_PRICED",
    "Candidate",
    "CapacityKind",
    "Provenance",
    "ResolvedCloud",
    "ResolvedOnPrem",
    "ResolvedScenario",
    "capacity_kind",
    "picks_server",
    "resolve",
    "with_capacity",
    "with_client_capacity",
]

CapacityKind = Literal["catalog", "manual", "benchmark"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Provenance(_Frozen):
    """Where one resolved value came from."""

    origin: str
    source: str | None = None
    as_of: str | None = None
    estimate: bool = False
    note: str | None = None

    @classmethod
    def plain(cls, origin: str, note: str | None = None) -> Provenance:
        """A provenance with no source: ``Provenance(origin=..., note=...)`` built without
        validating (chosen for speed: resolving makes hundreds; both are plain strings)."""
        if note is None:
            return cls.model_construct(origin=origin)
        return cls.model_construct(origin=origin, note=note)

    @classmethod
    def of(cls, origin: str, fact: Sourced | SourcedText | None = None) -> Provenance:
        """Provenance from a catalog fact (or a bare origin such as ``inline``)."""
        # model_construct, chosen for speed (resolving makes hundreds of these): ``origin``
        # is a string built here and the fact's fields were validated when the catalog was
        # read, with the very types of these fields
        if fact is None:
            return cls.model_construct(origin=origin)
        return cls.model_construct(
            origin=origin,
            source=fact.source,
            as_of=fact.as_of,
            estimate=fact.estimate,
            note=fact.note,
        )


class ResolvedOnPrem(_Frozen):
    """An on-prem option with every input filled (USD, per the units in the field names)."""

    id: str
    label: str
    kind: Literal["onprem"] = "onprem"
    stack: str | None
    server: str | None
    server_price: float
    server_watts: float
    capacity_msgs_per_s: float
    capacity_source: str
    capacity_kind: CapacityKind
    capacity_indicative: bool = False
    storage_tb_per_server: float
    redundancy: Redundancy
    refresh_years: int
    target_utilization: float
    electricity_per_kwh: float
    pue: float
    rack_per_server_month: float
    admin_hours_per_month: float
    admin_hours_per_server_month: float
    admin_hours_per_100_users_month: float
    admin_hourly_cost: float
    licence_per_server_year: float
    licence_per_user_year: float
    filtering_per_user_month: float
    backup_per_tb_month: float
    outbound_relay_per_1000: float
    outbound_relay_per_gb: float = 0.0
    setup_cost: float
    support_pct_per_year: float = 0.0
    os_licence_per_core_year: float = 0.0
    os_cal_per_user_year: float = 0.0
    backup_software_per_server_year: float = 0.0
    backup_copies: float = 1.0
    dr: DisasterRecovery = "none"
    dr_cold_per_tb_month: float = 0.0
    network_per_month: float = 0.0
    rack_per_u_month: float = 0.0
    rack_units: float = 1.0
    monitoring_per_server_month: float = 0.0
    helpdesk_hours_per_user_year: float = 0.0
    helpdesk_hourly_cost: float = 0.0
    copies: int = 1
    cores: float = 1.0
    warranty_years: float = 0.0
    server_availability: float = 0.99
    sender_auth_hours_per_domain_month: float = 0.0
    sender_auth_setup_hours_per_domain: float = 0.0
    storage_index_overhead: float = 0.0
    storage_retention_overhead: float = 0.0
    storage_filesystem_overhead: float = 0.0
    client_capacity_fetches_per_s: float | None = None
    client_capacity_sessions: float | None = None
    iops_per_mailbox: float = 0.0
    ram_mb_per_mailbox: float = 0.0
    disks: float = 0.0
    disk_iops: float = 0.0
    ram_gb: float = 0.0
    notes: tuple[str, ...] = ()  # how the inputs were read, for the option's warnings
    discount_pct: float = 0.0  # negotiated, on licences
    hardware_discount_pct: float = 0.0  # negotiated, on the server price
    properties: tuple[str, ...]
    end_of_life: str | None
    upgrade_to: str | None = None
    available_to_new_customers: bool = True
    feature_addon_per_user_month: float = 0.0
    backup_addon_per_user_month: float = 0.0
    filtering_addon_per_user_month: float = 0.0
    feature_addons: tuple[str, ...] = ()
    missing_features: tuple[str, ...] = ()
    provenance: dict[str, Provenance]


class ResolvedCloud(_Frozen):
    """A cloud option with every input filled (USD, per the units in the field names)."""

    id: str
    label: str
    kind: Literal["cloud"] = "cloud"
    plan: str
    vendor: str | None
    price_per_user_month: float
    included_gb_per_user: float
    storage_pooled: bool
    mailbox_cap_gb: float | None
    extra_storage_per_gb_month: float
    addon_label: str | None
    addon_price_per_user_month: float
    addon_gb_per_user: float
    per_1000_messages: float
    migration_per_user: float | None = None
    admin_hours_per_month: float
    admin_hours_per_100_users_month: float = 0.0
    helpdesk_hours_per_user_year: float = 0.0
    admin_hourly_cost: float
    helpdesk_hourly_cost: float = 0.0
    sender_auth_hours_per_domain_month: float = 0.0
    sender_auth_setup_hours_per_domain: float = 0.0
    exit_cost: float = 0.0
    discount_pct: float = 0.0  # negotiated, on the list price
    price_lock_years: int = 0
    availability: float | None = None
    max_users: int | None
    min_users: int | None = None
    available_to_new_customers: bool = True
    properties: tuple[str, ...]
    end_of_life: str | None
    upgrade_to: str | None = None
    feature_addon_per_user_month: float = 0.0
    backup_addon_per_user_month: float = 0.0
    filtering_addon_per_user_month: float = 0.0
    feature_addons: tuple[str, ...] = ()
    missing_features: tuple[str, ...] = ()
    provenance: dict[str, Provenance]


class Candidate(_Frozen):
    """An on-prem option on one hardware profile, with the plans it moves to."""

    option: ResolvedOnPrem
    successors: tuple[ResolvedOnPrem | ResolvedCloud, ...] = ()


class ResolvedScenario(_Frozen):
    """A scenario with its options resolved against a catalog."""

    scenario: Scenario
    onprem: tuple[ResolvedOnPrem, ...]
    cloud: tuple[ResolvedCloud, ...]
    successors: dict[str, tuple[ResolvedOnPrem | ResolvedCloud, ...]] = {}
    candidates: dict[str, tuple[Candidate, ...]] = {}  # options whose profile sizing picks

    def with_pick(self, option_id: str, pick: Candidate) -> ResolvedScenario:
        """A copy with the on-prem option ``option_id`` on the picked profile."""
        onprem = tuple(pick.option if o.id == option_id else o for o in self.onprem)
        successors = {k: v for k, v in self.successors.items() if k != option_id}
        if pick.successors:
            successors[option_id] = pick.successors
        return self.model_copy(update={"onprem": onprem, "successors": successors})

    @property
    def options(self) -> tuple[ResolvedOnPrem | ResolvedCloud, ...]:
        """Every option, on-prem first, in file order."""
        return (*self.onprem, *self.cloud)

    def chain(self, option_id: str) -> tuple[ResolvedOnPrem | ResolvedCloud, ...]:
        """The option with this id, then the plans it moves to (``upgrade_to``), in order."""
        option = next(o for o in self.options if o.id == option_id)
        return (option, *self.successors.get(option_id, ()))


_STACK_FIELDS = (
    "licence_per_server_year",
    "licence_per_user_year",
    "admin_hours_per_month",
    "admin_hours_per_server_month",
    "admin_hours_per_100_users_month",
    "setup_cost",
    "filtering_per_user_month",
)
_SERVER_FIELDS = ("server_price", "server_watts", "storage_tb_per_server")
_DEFAULT_FIELDS = (
    "refresh_years",
    "target_utilization",
    "electricity_per_kwh",
    "pue",
    "rack_per_server_month",
    "admin_hourly_cost",
    "backup_per_tb_month",
    "outbound_relay_per_1000",
    *_STACK_FIELDS,
)


# On-prem inputs that a catalog may leave out, with the value that then keeps them neutral.
_ONPREM_OPTIONAL: dict[str, float] = {
    "outbound_relay_per_gb": 0.0,
    "support_pct_per_year": 0.0,
    "os_licence_per_core_year": 0.0,
    "os_cal_per_user_year": 0.0,
    "backup_software_per_server_year": 0.0,
    "backup_copies": 1,
    "network_per_month": 0.0,
    "rack_per_u_month": 0.0,
    "rack_units": 1,
    "monitoring_per_server_month": 0.0,
    "helpdesk_hours_per_user_year": 0.0,
    "cores": 1,
    "warranty_years": 0,
    "server_availability": 0.99,
    "sender_auth_hours_per_domain_month": 0.0,
    "sender_auth_setup_hours_per_domain": 0.0,
    "dr_cold_per_tb_month": 0.0,
    "storage_index_overhead": 0.0,
    "storage_retention_overhead": 0.0,
    "storage_filesystem_overhead": 0.0,
    "iops_per_mailbox": 0.0,
    "ram_mb_per_mailbox": 0.0,
    "disks": 0.0,
    "disk_iops": 0.0,
    "ram_gb": 0.0,
}


def capacity_kind(
    capacity_source: str | None, inline: bool, origin: CapacityKind | None = None
) -> CapacityKind:
    """Where a capacity comes from: the explicit ``capacity_origin`` when given; else, for
    files written before that key, ``benchmark`` when the source text starts with the
    word, ``manual`` for other inline figures, and ``catalog`` otherwise."""
    if origin is not None:
        return origin
    if capacity_source and capacity_source.strip().lower().startswith("benchmark"):
        return "benchmark"
    return "manual" if inline else "catalog"


# (id of a catalog entry, origin) -> (the entry, field -> (value, provenance) or None).
# Resolving an option on every hardware profile reads the same catalog entries (stack,
# server, defaults) again and again; each fact is read once. The entry is kept with its
# facts so a reused id never matches, and the memo is emptied when it grows past _FACTS_MAX.
_Found = tuple[float | str, Provenance] | None
_Layer = tuple[str, object, dict[str, _Found]]  # origin, catalog entry, its facts read so far
_FACTS: dict[tuple[int, str], tuple[object, dict[str, _Found]]] = {}
_FACTS_MAX = 1024
_UNREAD = object()


def _fact(origin: str, layer: object, field: str) -> _Found:
    """The sourced fact ``field`` of catalog entry ``layer`` (value, provenance), or None."""
    fact = getattr(layer, field, None)
    if isinstance(fact, Sourced | SourcedText):
        return fact.value, Provenance.of(origin, fact)
    return None


def _layers(layers: list[tuple[str, object | None]]) -> list[_Layer]:
    """The given catalog entries (None: not there), each with the facts read from it so far."""
    out = []
    for origin, layer in layers:
        if layer is None:
            continue
        hit = _FACTS.get((id(layer), origin))
        if hit is None or hit[0] is not layer:
            if len(_FACTS) >= _FACTS_MAX:
                _FACTS.clear()
            hit = _FACTS[id(layer), origin] = (layer, {})
        out.append((origin, layer, hit[1]))
    return out


def _lookup(field: str, layers: list[_Layer]) -> tuple[float | str | None, Provenance | None]:
    """``field`` from the first of ``layers`` that gives it: (value, provenance), or Nones."""
    for origin, layer, facts in layers:
        found = facts.get(field, _UNREAD)
        if found is _UNREAD:
            found = facts[field] = _fact(origin, layer, field)
        if found is not None:
            return found  # type: ignore[return-value]
    return None, None


def _negotiated(
    opt: OnPremOption | CloudOption, provenance: dict[str, Provenance], fields: tuple[str, ...]
) -> None:
    """Record the negotiated terms an option gives, so reports can say which prices are
    list prices and which are negotiated."""
    for field in fields:
        if getattr(opt, field, None):
            provenance[field] = Provenance(origin="inline", note="negotiated, not the list price")


def _required_features(scenario: Scenario, catalog: Catalog) -> tuple[str, ...]:
    """The scenario's requirements that name catalog features (one namespace with the rest);
    a backup retention (``organization.backup_retention_days``) requires backup_restore."""
    known = {f.id for f in catalog.features}
    asked = list(scenario.qualitative.requirements) if scenario.qualitative else []
    if scenario.organization.backup_retention_days is not None and "backup_restore" in known:
        asked.append("backup_restore")
    return tuple(dict.fromkeys(r for r in asked if r in known))


# Required features whose add-on is booked under a cost category of its own.
_ADDON_CATEGORY = {"backup_restore": "backup", "advanced_threat_filtering": "filtering"}


class _FeatureTerms(_Frozen):
    price: float = 0.0  # feature_addons
    backup: float = 0.0
    filtering: float = 0.0
    bought: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


def _feature_terms(
    entry: CloudPlan | Stack | None,
    required: tuple[str, ...],
    origin: str,
    provenance: dict[str, Provenance],
) -> _FeatureTerms:
    """What meeting the required features costs: add-ons bought (USD per user-month, their
    labels) and the features neither included nor sold as an add-on."""
    prices = {"feature_addons": 0.0, "backup": 0.0, "filtering": 0.0}
    bought, missing = [], []
    for fid in required:
        cell = entry.features.get(fid) if entry is not None else None
        if cell is not None and cell.included:
            continue
        if cell is not None and cell.addon is not None:
            prices[_ADDON_CATEGORY.get(fid, "feature_addons")] += (
                cell.addon.price_per_user_month.value
            )
            bought.append(cell.addon.label)
            price_fact = cell.addon.price_per_user_month
            note = "; ".join(n for n in (cell.addon.label, price_fact.note) if n)
            provenance[f"feature_addon.{fid}"] = Provenance.of(origin, price_fact).model_copy(
                update={"note": note}
            )
            continue
        missing.append(fid)
    return _FeatureTerms(
        price=prices["feature_addons"],
        backup=prices["backup"],
        filtering=prices["filtering"],
        bought=tuple(bought),
        missing=tuple(missing),
    )


def _resolve_onprem(
    opt: OnPremOption,
    where: str,
    catalog: Catalog,
    problems: list[Problem],
    required: tuple[str, ...] = (),
) -> ResolvedOnPrem | None:
    stack: Stack | None = None
    server: ServerProfile | None = None
    relay = None
    if opt.stack is not None and (stack := catalog.stack(opt.stack)) is None:
        known = ", ".join(s.id for s in catalog.stacks)
        problems.append(Problem(f"{where}.stack", f"unknown stack '{opt.stack}' (known: {known})"))
    if opt.server is not None and (server := catalog.server(opt.server)) is None:
        known = ", ".join(s.id for s in catalog.servers)
        problems.append(
            Problem(f"{where}.server", f"unknown server profile '{opt.server}' (known: {known})")
        )
    if opt.relay is not None and (relay := catalog.relay(opt.relay)) is None:
        known = ", ".join(r.id for r in catalog.relays)
        problems.append(Problem(f"{where}.relay", f"unknown relay '{opt.relay}' (known: {known})"))
    if (
        (opt.stack and stack is None)
        or (opt.server and server is None)
        or (opt.relay and not relay)
    ):
        return None

    layers = _layers(
        [
            (f"relay {opt.relay}", relay),
            (f"stack {opt.stack}", stack),
            (f"server {opt.server}", server),
            ("defaults", catalog.defaults),
        ]
    )
    values: dict[str, object] = {}
    provenance: dict[str, Provenance] = {}
    for field in (*_SERVER_FIELDS, *_DEFAULT_FIELDS, "redundancy"):
        inline = getattr(opt, field)
        if inline is not None:
            values[field], provenance[field] = inline, Provenance.plain("inline")
            continue
        value, prov = _lookup(field, layers)
        if field == "storage_tb_per_server" and value is None and server is not None:
            value = server.usable_tb()  # from the profile's disks, disk size and RAID level
            prov = Provenance.of(f"server {server.id}", server.disk_tb).model_copy(
                update={
                    "note": f"{server.disks.value if server.disks else 0:g} x "
                    f"{server.disk_tb.value if server.disk_tb else 0:g} TB disks in "
                    f"{server.raid}: {value:g} TB usable"
                }
            )
        if value is None or prov is None:
            problems.append(
                Problem(
                    f"{where}.{field}",
                    "not set inline and no server profile gives it "
                    "(set it, or name a 'server' from the catalog)",
                )
            )
            continue
        values[field], provenance[field] = value, prov

    for field, neutral in _ONPREM_OPTIONAL.items():
        inline = getattr(opt, field, None)
        if inline is not None:
            values[field], provenance[field] = inline, Provenance.plain("inline")
            continue
        value, prov = _lookup(field, layers)
        if value is None or prov is None:
            values[field] = neutral
            provenance[field] = Provenance.plain("mailplan default", f"not set: {neutral}")
        else:
            values[field], provenance[field] = value, prov
    if opt.helpdesk_hourly_cost is not None:
        values["helpdesk_hourly_cost"] = opt.helpdesk_hourly_cost
        provenance["helpdesk_hourly_cost"] = Provenance.plain("inline")
    else:
        rate: object
        rate, prov = _lookup("helpdesk_hourly_cost", layers)
        if rate is None or prov is None:  # the admin rate, where no helpdesk rate is known
            rate = values.get("admin_hourly_cost")
            prov = provenance.get("admin_hourly_cost", Provenance(origin="defaults")).model_copy(
                update={"note": "the admin hourly cost (no helpdesk rate given)"}
            )
        values["helpdesk_hourly_cost"], provenance["helpdesk_hourly_cost"] = rate, prov
    values["dr"] = opt.dr or "none"
    values["copies"] = opt.copies or 1
    _negotiated(opt, provenance, ("discount_pct", "hardware_discount_pct"))
    notes: tuple[str, ...] = ()
    if values.get("redundancy") == "2n":  # a second copy of every mailbox, not a spare
        values["redundancy"] = "none"
        values["copies"] = max(int(values["copies"]), 2)  # type: ignore[call-overload]
        notes = ("redundancy: 2n is read as copies: 2 (a second copy of every mailbox)",)
    # Space: per rack unit where that price is known (inline, or from the catalog unless the
    # older per-server price is set inline), else per server.
    per_u = provenance["rack_per_u_month"]
    if per_u.origin == "inline" or (
        opt.rack_per_server_month is None and per_u.origin != "mailplan default"
    ):
        rack_u = float(values["rack_per_u_month"]) * float(values["rack_units"])  # type: ignore[arg-type]
        values["rack_per_server_month"] = rack_u
        provenance["rack_per_server_month"] = per_u.model_copy(
            update={"note": f"rack_per_u_month x {values['rack_units']} U; {per_u.note or ''}"}
        )

    if opt.capacity_msgs_per_s is not None:
        capacity = opt.capacity_msgs_per_s
        source = opt.capacity_source or "manual: set in the scenario"
        provenance["capacity_msgs_per_s"] = Provenance(origin="inline", note=opt.capacity_source)
        kind = capacity_kind(opt.capacity_source, inline=True, origin=opt.capacity_origin)
    elif server is not None:
        scale = stack.capacity_scale.value if stack is not None else 1.0
        capacity = server.capacity_msgs_per_s.value * scale
        note = server.capacity_msgs_per_s.note
        source = f"catalog: {server.id} {server.capacity_msgs_per_s.value:g} msgs/s"
        if stack is not None and scale != 1.0:
            source += f" x {stack.id} capacity_scale {scale:g}"
            note = f"{note}; {stack.capacity_scale.note}"
        if server.capacity_msgs_per_s.estimate or (stack and stack.capacity_scale.estimate):
            source += " (estimate)"
        provenance["capacity_msgs_per_s"] = Provenance.of(
            f"server {server.id}", server.capacity_msgs_per_s
        ).model_copy(update={"note": note})
        kind = "catalog"
    else:
        problems.append(
            Problem(
                f"{where}.capacity_msgs_per_s",
                "not set inline and no server profile gives it "
                "(set it, or name a 'server' from the catalog)",
            )
        )
        return None

    if len(problems):
        return None
    scale = stack.capacity_scale.value if stack is not None else 1.0
    for field in ("client_capacity_fetches_per_s", "client_capacity_sessions"):
        inline_value = getattr(opt, field)
        fact = getattr(server, field, None) if server is not None else None
        if inline_value is not None:
            values[field], provenance[field] = inline_value, Provenance.plain("inline")
        elif fact is not None:
            values[field] = fact.value * scale
            provenance[field] = Provenance.of(f"server {opt.server}", fact)
    # on-prem backup is always costed (the backup line), so it meets a backup requirement
    own = tuple(r for r in required if r != "backup_restore")
    terms = _feature_terms(stack, own, f"stack {opt.stack}", provenance)
    if stack is not None:
        properties = tuple(stack.properties)
        eol = stack.end_of_life.value if stack.end_of_life else None
        if stack.end_of_life is not None:
            provenance["end_of_life"] = Provenance.of(f"stack {stack.id}", stack.end_of_life)
        default_label = stack.label + (f" on {server.label}" if server else "")
    else:
        properties = ("data_on_premises", "runs_without_internet", "open_source")
        eol = None
        default_label = f"Self-hosted ({server.label})" if server else f"Self-hosted ({opt.id})"
    return ResolvedOnPrem(
        id=opt.id,
        label=opt.label or default_label,
        stack=opt.stack,
        server=opt.server,
        capacity_msgs_per_s=capacity,
        capacity_source=source,
        capacity_kind=kind,
        capacity_indicative=bool(opt.capacity_indicative),
        notes=notes,
        discount_pct=opt.discount_pct or 0.0,
        hardware_discount_pct=opt.hardware_discount_pct or 0.0,
        properties=properties,
        end_of_life=eol,
        upgrade_to=stack.upgrade_to if stack is not None else None,
        available_to_new_customers=stack.available_to_new_customers if stack else True,
        feature_addon_per_user_month=terms.price,
        backup_addon_per_user_month=terms.backup,
        filtering_addon_per_user_month=terms.filtering,
        feature_addons=terms.bought,
        missing_features=terms.missing,
        provenance=provenance,
        **values,
    )


def _resolve_cloud(
    opt: CloudOption,
    where: str,
    catalog: Catalog,
    problems: list[Problem],
    required: tuple[str, ...] = (),
) -> ResolvedCloud | None:
    inline = Provenance(origin="inline")
    if opt.plan == CUSTOM_PLAN:
        fields = (
            "price_per_user_month",
            "included_gb_per_user",
            "extra_storage_per_gb_month",
            "per_1000_messages",
            "admin_hours_per_month",
            "admin_hours_per_100_users_month",
            "helpdesk_hours_per_user_year",
            "admin_hourly_cost",
            "exit_cost",
            "sender_auth_hours_per_domain_month",
            "sender_auth_setup_hours_per_domain",
        )
        zero = Provenance(origin="custom plan", note="not given: 0")
        values = {f: getattr(opt, f) or 0.0 for f in fields}
        provenance = {f: inline if getattr(opt, f) is not None else zero for f in fields}
        return ResolvedCloud(
            id=opt.id,
            label=opt.label or f"Custom plan ({opt.id})",
            plan=CUSTOM_PLAN,
            vendor=None,
            storage_pooled=False,
            mailbox_cap_gb=None,
            addon_label=None,
            addon_price_per_user_month=0.0,
            addon_gb_per_user=0.0,
            max_users=None,
            properties=(),
            end_of_life=None,
            missing_features=required,
            availability=opt.availability,
            migration_per_user=opt.migration_per_user,
            discount_pct=opt.discount_pct or 0.0,
            price_lock_years=opt.price_lock_years or 0,
            helpdesk_hourly_cost=opt.helpdesk_hourly_cost
            if opt.helpdesk_hourly_cost is not None
            else values["admin_hourly_cost"],
            provenance=provenance,
            **values,
        )

    plan: CloudPlan | None = catalog.plan(opt.plan)
    if plan is None:
        known = ", ".join(p.id for p in catalog.plans)
        problems.append(
            Problem(f"{where}.plan", f"unknown plan '{opt.plan}' (known: {known}, custom)")
        )
        return None
    origin = f"plan {plan.id}"
    billing = opt.billing or "annual"
    provenance = {}

    if opt.price_per_user_month is not None:
        price, provenance["price_per_user_month"] = opt.price_per_user_month, inline
    else:
        surcharge = catalog.billing_surcharges.get(plan.vendor, {}).get(billing)
        if surcharge is None:
            problems.append(
                Problem(
                    f"{where}.billing",
                    f"the catalog has no '{billing}' price for {plan.vendor} plans",
                )
            )
            return None
        price = plan.price_per_user_month.value * (1 + surcharge.value)
        provenance["price_per_user_month"] = Provenance.of(origin, plan.price_per_user_month)
        if surcharge.value:
            provenance["billing_surcharge"] = Provenance.of(
                f"billing {plan.vendor} {billing}", surcharge
            ).model_copy(update={"note": f"x {1 + surcharge.value:g}; {surcharge.note or ''}"})

    def pick(field: str, fact: Sourced | None, fallback: Sourced | None = None) -> float:
        value = getattr(opt, field, None)
        if value is not None:
            provenance[field] = inline
            return float(value)
        if fact is not None:
            provenance[field] = Provenance.of(origin, fact)
            return fact.value
        if fallback is not None:
            provenance[field] = Provenance.of("defaults", fallback)
            return fallback.value
        provenance[field] = Provenance(origin=origin, note="not offered: 0")
        return 0.0

    _negotiated(opt, provenance, ("discount_pct", "price_lock_years"))
    addon = plan.storage_addon
    terms = _feature_terms(plan, required, origin, provenance)
    addon_price = addon.price_per_user_month.value if addon else 0.0
    if addon is not None:
        provenance["storage_addon"] = Provenance.of(origin, addon.price_per_user_month)
        if addon.label in terms.bought:  # bought every year for a required feature already
            addon_price = 0.0
            provenance["storage_addon"] = provenance["storage_addon"].model_copy(
                update={"note": "bought every year for a required feature (feature_addons)"}
            )
    if plan.mailbox_cap_gb is not None:
        provenance["mailbox_cap_gb"] = Provenance.of(origin, plan.mailbox_cap_gb)
    eol = plan.end_of_life.value if plan.end_of_life else None
    if plan.end_of_life is not None:
        provenance["end_of_life"] = Provenance.of(origin, plan.end_of_life)
    admin_rate = pick("admin_hourly_cost", None, catalog.defaults.admin_hourly_cost)
    return ResolvedCloud(
        id=opt.id,
        label=opt.label or plan.label,
        plan=plan.id,
        vendor=plan.vendor,
        price_per_user_month=price,
        included_gb_per_user=pick("included_gb_per_user", plan.included_gb_per_user),
        storage_pooled=plan.storage_pooled,
        mailbox_cap_gb=plan.mailbox_cap_gb.value if plan.mailbox_cap_gb else None,
        extra_storage_per_gb_month=pick(
            "extra_storage_per_gb_month", plan.extra_storage_per_gb_month
        ),
        addon_label=addon.label if addon else None,
        addon_price_per_user_month=addon_price,
        addon_gb_per_user=addon.gb_per_user.value if addon else 0.0,
        per_1000_messages=pick("per_1000_messages", plan.per_1000_messages),
        migration_per_user=pick("migration_per_user", plan.migration_per_user)
        if opt.migration_per_user is not None or plan.migration_per_user is not None
        else None,
        admin_hours_per_month=pick("admin_hours_per_month", plan.admin_hours_per_month),
        admin_hours_per_100_users_month=pick(
            "admin_hours_per_100_users_month",
            plan.admin_hours_per_100_users_month,
            catalog.defaults.cloud_admin_hours_per_100_users_month,
        ),
        helpdesk_hours_per_user_year=pick(
            "helpdesk_hours_per_user_year",
            plan.helpdesk_hours_per_user_year,
            catalog.defaults.cloud_helpdesk_hours_per_user_year,
        ),
        admin_hourly_cost=admin_rate,
        helpdesk_hourly_cost=pick(
            "helpdesk_hourly_cost", None, catalog.defaults.helpdesk_hourly_cost
        )
        if opt.helpdesk_hourly_cost is not None or catalog.defaults.helpdesk_hourly_cost
        else admin_rate,
        exit_cost=pick("exit_cost", None),
        sender_auth_hours_per_domain_month=pick(
            "sender_auth_hours_per_domain_month",
            plan.sender_auth_hours_per_domain_month,
            catalog.defaults.cloud_sender_auth_hours_per_domain_month,
        ),
        sender_auth_setup_hours_per_domain=pick(
            "sender_auth_setup_hours_per_domain",
            plan.sender_auth_setup_hours_per_domain,
            catalog.defaults.cloud_sender_auth_setup_hours_per_domain,
        ),
        discount_pct=opt.discount_pct or 0.0,
        price_lock_years=opt.price_lock_years or 0,
        availability=pick("availability", plan.sla_availability)
        if opt.availability is not None or plan.sla_availability is not None
        else None,
        max_users=int(plan.max_users.value) if plan.max_users else None,
        min_users=int(plan.min_users.value) if plan.min_users else None,
        available_to_new_customers=plan.available_to_new_customers,
        properties=tuple(plan.properties),
        end_of_life=eol,
        upgrade_to=plan.upgrade_to,
        feature_addon_per_user_month=terms.price,
        backup_addon_per_user_month=terms.backup,
        filtering_addon_per_user_month=terms.filtering,
        feature_addons=terms.bought,
        missing_features=terms.missing,
        provenance=provenance,
    )


def resolve(scenario: Scenario, catalog: Catalog) -> ResolvedScenario:
    """Resolve every option of ``scenario`` against ``catalog``, and the plans each moves to.

    Raises ScenarioError listing every unknown id or missing input, one line each.
    """
    problems: list[Problem] = []
    required = _required_features(scenario, catalog)
    onprem = []
    candidates: dict[str, tuple[Candidate, ...]] = {}
    for i, o in enumerate(scenario.onprem):
        local: list[Problem] = []
        if picks_server(o):
            found = _candidates(o, f"onprem[{i}]", catalog, required, local)
            if not found:
                problems += local or [
                    Problem(f"onprem[{i}].server", "no server profile of the catalog fits it")
                ]
                continue
            candidates[o.id] = found
            onprem.append(found[0].option)
            continue
        resolved = _resolve_onprem(o, f"onprem[{i}]", catalog, local, required)
        problems += local
        if resolved is not None:
            onprem.append(resolved)
    cloud = []
    for i, c in enumerate(scenario.cloud):
        local = []
        resolved_cloud = _resolve_cloud(c, f"cloud[{i}]", catalog, local, required)
        problems += local
        if resolved_cloud is not None:
            cloud.append(resolved_cloud)
    if scenario.qualitative is not None:
        known = {r.id for r in catalog.qualitative.requirements} | {f.id for f in catalog.features}
        for j, req in enumerate(scenario.qualitative.requirements):
            if req not in known:
                problems.append(
                    Problem(
                        f"qualitative.requirements[{j}]",
                        f"unknown requirement '{req}' "
                        f"(known requirements and features: {', '.join(sorted(known))})",
                    )
                )
    if problems:
        raise ScenarioError(problems)
    successors = (
        {
            o.id: chain
            for i, o in enumerate(scenario.onprem)
            if o.id not in candidates
            and (chain := _successors(o, f"onprem[{i}]", catalog, required))
        }
        | {o: found[0].successors for o, found in candidates.items() if found[0].successors}
        | {
            c.id: chain
            for i, c in enumerate(scenario.cloud)
            if (chain := _successors(c, f"cloud[{i}]", catalog, required))
        }
    )
    return ResolvedScenario(
        scenario=scenario,
        onprem=tuple(onprem),
        cloud=tuple(cloud),
        successors=successors,
        candidates=candidates,
    )


AUTO_SERVER = "auto"


def picks_server(opt: OnPremOption) -> bool:
    """Whether sizing picks the option's hardware profile: ``server: auto``, or a stack with
    no server and no hardware of its own."""
    if opt.server == AUTO_SERVER:
        return True
    own = opt.server_price is not None and opt.storage_tb_per_server is not None
    return opt.server is None and opt.stack is not None and not own


def _candidates(
    opt: OnPremOption,
    where: str,
    catalog: Catalog,
    required: tuple[str, ...],
    problems: list[Problem],
) -> tuple[Candidate, ...]:
    """The option on every hardware profile of the catalog that resolves; when none does,
    ``problems`` gets the first profile's problems (an unknown stack, say)."""
    out = []
    for profile in catalog.servers:
        chosen = opt.model_copy(update={"server": profile.id})
        local: list[Problem] = []
        resolved = _resolve_onprem(chosen, where, catalog, local, required)
        if resolved is None and not problems:
            problems += local
        if resolved is not None:
            out.append(
                Candidate(option=resolved, successors=_successors(chosen, where, catalog, required))
            )
    return tuple(out)


# Inline fields that price one plan and so do not carry over to the plan it moves to.
PLAN_PRICED = (
    "price_per_user_month",
    "included_gb_per_user",
    "extra_storage_per_gb_month",
    "per_1000_messages",
)


def _successors(
    opt: OnPremOption | CloudOption, where: str, catalog: Catalog, required: tuple[str, ...]
) -> tuple[ResolvedOnPrem | ResolvedCloud, ...]:
    """The catalog's ``upgrade_to`` chain of an option, each resolved as the same option
    (same id, inline site inputs kept; inline prices of the first plan are not carried)."""
    out: list[ResolvedOnPrem | ResolvedCloud] = []
    seen: set[str] = set()
    current: OnPremOption | CloudOption = opt
    while True:
        if isinstance(current, CloudOption):
            plan = catalog.plan(current.plan)
            nxt = plan.upgrade_to if plan is not None else None
        else:
            stack = catalog.stack(current.stack) if current.stack else None
            nxt = stack.upgrade_to if stack is not None else None
        if nxt is None or nxt in seen:
            return tuple(out)
        seen.add(nxt)
        problems: list[Problem] = []
        resolved: ResolvedOnPrem | ResolvedCloud | None
        if isinstance(current, CloudOption):
            update: dict[str, object] = dict.fromkeys(PLAN_PRICED)
            current = current.model_copy(update={**update, "plan": nxt, "label": None})
            resolved = _resolve_cloud(current, where, catalog, problems, required)
        else:
            current = current.model_copy(update={"stack": nxt, "label": None})
            resolved = _resolve_onprem(current, where, catalog, problems, required)
        if resolved is None:
            return tuple(out)
        out.append(resolved)


def with_capacity(
    scenario: Scenario,
    option_id: str,
    capacity_msgs_per_s: float,
    capacity_source: str,
    *,
    origin: CapacityKind = "benchmark",
    indicative: bool = False,
) -> Scenario:
    """A copy of ``scenario`` whose on-prem option ``option_id`` uses the given capacity,
    with its origin and whether the run that measured it was too short to rely on.

    This is how a measured benchmark reaches the sizing model: as data in the scenario.
    """
    if not capacity_msgs_per_s > 0:
        raise ScenarioError(
            Problem("capacity_msgs_per_s", f"must be > 0 (got {capacity_msgs_per_s})")
        )
    fields = {
        "capacity_msgs_per_s": capacity_msgs_per_s,
        "capacity_source": capacity_source,
        "capacity_origin": origin,
        "capacity_indicative": indicative,
    }
    return _with_onprem_fields(scenario, option_id, fields)


def _with_onprem_fields(scenario: Scenario, option_id: str, fields: dict[str, Any]) -> Scenario:
    """A copy of ``scenario`` with ``fields`` set on its on-prem option ``option_id``."""
    ids = [o.id for o in scenario.onprem]
    if option_id not in ids:
        known = ", ".join(ids) or "none"
        raise ScenarioError(f"--option: no on-prem option '{option_id}' (on-prem options: {known})")
    data = scenario.model_dump(mode="json", exclude_unset=True)
    data["onprem"] = [{**o, **fields} if o["id"] == option_id else o for o in data["onprem"]]
    return Scenario.model_validate(data)


def with_client_capacity(
    scenario: Scenario,
    option_id: str,
    fetches_per_s: float,
    source: str,
    *,
    indicative: bool = False,
) -> Scenario:
    """A copy of ``scenario`` whose on-prem option ``option_id`` serves ``fetches_per_s``
    message fetches per second per server (``client_capacity_fetches_per_s``), measured as
    ``source`` says: how a POP3 or IMAP benchmark reaches the client-load sizing."""
    if not fetches_per_s > 0:
        raise ScenarioError(
            Problem("client_capacity_fetches_per_s", f"must be > 0 (got {fetches_per_s})")
        )
    fields = {
        "client_capacity_fetches_per_s": fetches_per_s,
        "client_capacity_source": source,
        "client_capacity_indicative": indicative,
    }
    return _with_onprem_fields(scenario, option_id, fields)


def eol_within(end_of_life: str | None, horizon_years: int, start: dt.date) -> bool:
    """True when ``end_of_life`` (ISO date) falls before ``start`` + ``horizon_years``."""
    if end_of_life is None:
        return False
    eol = dt.date.fromisoformat(end_of_life)
    try:
        end = start.replace(year=start.year + horizon_years)
    except ValueError:  # 29 February
        end = start.replace(year=start.year + horizon_years, day=28)
    return eol < end
