"""One yearly sheet per option: demand, sizing results and every cost line as formulas on
the Inputs sheet's named cells.

Server counts, purchases, servers past their warranty and the residual share come from the
fleet model (ceil and replacement logic): they are written as values, labelled as sizing
results. Which plan runs each year, the disaster-recovery mode and whether the option is
today's system pick the formula of a cell; everything priced (prices, rates, escalation,
discount rate, exchange rate, tax) is a named input the formula reads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from xlsxwriter.worksheet import Worksheet

from planner.costs import (
    CAPEX_CATEGORIES,
    CLOUD_CATEGORIES,
    ESCALATION,
    ONPREM_CATEGORIES,
    OS_MIN_CORES_PER_SERVER,
)
from planner.evaluation import Evaluation
from planner.report.xlsx.book import Book, Unverified, cell
from planner.report.xlsx.check import matches
from planner.report.xlsx.inputs import option_input
from planner.report.xlsx.lines import line_formula
from planner.resolution import ResolvedOnPrem
from planner.sizing import Inputs, fleet_of, servers_needed

__all__ = [
    "FIRST_YEAR_COL",
    "OptionSheet",
    "discount_rate_expr",
    "line_label",
    "sheet_names",
    "write_option",
]

FIRST_YEAR_COL = 2  # column C holds year 1
YEAR_ROW = 2  # the header row holds the year numbers
_BAD = re.compile(r"[\[\]:*?/\\']")

Cell = tuple[str | float, float]  # a formula (or a plain number) and its cached value


@dataclass
class OptionSheet:
    """Where an option's figures are: its sheet and the row of each item."""

    option_id: str
    name: str
    horizon: int
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_col(self) -> int:
        """The column of the Total (after the last year)."""
        return FIRST_YEAR_COL + self.horizon

    def ref(self, key: str, year: int) -> str:
        """'Sheet'!C10: the cell of ``key`` in year ``year`` (0-based)."""
        return f"'{self.name}'!{cell(self.rows[key], FIRST_YEAR_COL + year)}"

    def total_ref(self, key: str) -> str:
        """'Sheet'!H10: the Total column of ``key`` (or its single cell: npv, total)."""
        return f"'{self.name}'!{cell(self.rows[key], self.total_col)}"

    def span(self, key: str) -> str:
        """'Sheet'!$C$10:$G$10: the years of ``key``."""
        row = self.rows[key]
        first = cell(row, FIRST_YEAR_COL, absolute=True)
        last = cell(row, FIRST_YEAR_COL + self.horizon - 1, absolute=True)
        return f"'{self.name}'!{first}:{last}"


def sheet_names(ev: Evaluation, reserved: set[str]) -> dict[str, str]:
    """A unique sheet name (at most 31 characters) for every option."""
    out: dict[str, str] = {}
    taken = {r.lower() for r in reserved}
    for option in ev.options:
        base = _BAD.sub("_", option.id)[:31]
        name, n = base, 2
        while name.lower() in taken:
            suffix = f"~{n}"
            name, n = base[: 31 - len(suffix)] + suffix, n + 1
        taken.add(name.lower())
        out[option.id] = name
    return out


def line_label(category: str) -> str:
    """The row label of a cost line: "Software licences", "OS licences"."""
    if category == "sender_auth":
        return "Sender authentication"
    words = category.replace("_", " ")
    return "OS" + words[2:] if category.startswith("os_") else words.capitalize()


def discount_rate_expr(ev: Evaluation) -> str:
    """The discount rate the NPV uses: the real rate, or with inflation (Fisher)."""
    if ev.scenario.price_basis == "nominal":
        return "((1+in_discount_rate)*(1+in_inflation)-1)"
    return "in_discount_rate"


def _year(y: int) -> str:
    """The year number of year index ``y``, row-absolute (C$3)."""
    return cell(YEAR_ROW, FIRST_YEAR_COL + y).replace(str(YEAR_ROW + 1), f"${YEAR_ROW + 1}")


class _Writer:
    """Writes one option's sheet row by row, remembering rows and cached values."""

    def __init__(
        self,
        book: Book,
        ws: Worksheet,
        ev: Evaluation,
        sheet: OptionSheet,
        current: OptionSheet | None,
    ) -> None:
        self.book, self.ws, self.ev, self.sheet, self.current = book, ws, ev, sheet, current
        self.option = ev.option(sheet.option_id)
        self.onprem = isinstance(self.option, ResolvedOnPrem)
        self.chain = ev.resolved.chain(self.option.id)
        stages = np.minimum(ev.paths[self.option.id].stage[0], len(self.chain) - 1)
        self.stage = [int(k) for k in stages]
        self.terms = ev.terms(self.option.id)
        self.years = range(ev.horizon)
        self.cur = ev.scenario.currency
        self.row = YEAR_ROW + 1
        self.cache: dict[str, list[float]] = {}
        self.esc_rows: dict[str, str] = {}
        known = ONPREM_CATEGORIES if self.onprem else CLOUD_CATEGORIES
        lines = ev.lines[self.option.id]
        self.cats = (*(c for c in known if c in lines), *(c for c in lines if c not in known))

    # region helpers

    def p(self, name: str, y: int) -> str:
        """The defined name of the option's input ``name`` for year ``y``'s plan ("0": unset)."""
        found = option_input(self.book, self.option.id, self.stage[y], name)
        return found if found is not None else "0"

    def has(self, name: str, y: int) -> bool:
        """Whether year ``y``'s plan sets ``name``."""
        return option_input(self.book, self.option.id, self.stage[y], name) is not None

    def num(self, name: str, y: int, default: float = 0.0) -> float:
        """The value of the input ``name`` for year ``y``'s plan."""
        item = self.book.inputs.get(self.p(name, y))
        return float(item.value) if item is not None else default

    def g(self, name: str) -> float:
        """The value of a scenario-wide input (its defined name)."""
        return float(self.book.inputs[name].value)

    def at(self, key: str, y: int) -> str:
        """Relative reference to ``key`` in year ``y`` on this sheet."""
        return cell(self.sheet.rows[key], FIRST_YEAR_COL + y)

    def here(self, y: int) -> str:
        """Relative reference to year ``y`` of the row being written."""
        return cell(self.row, FIRST_YEAR_COL + y)

    def v(self, key: str, y: int) -> float:
        """The cached value of ``key`` in year ``y``."""
        return self.cache[key][y]

    def section(self, title: str) -> None:
        self.row += 1
        self.ws.write_string(self.row, 0, title, self.book.fmt("section"))
        self.row += 1

    def line(
        self,
        key: str,
        label: str,
        unit: str,
        cells: Sequence[Cell],
        fmt: str = "money",
        total: bool = False,
    ) -> None:
        """A row of yearly cells (formulas with cached values, or plain numbers)."""
        ws, book, row = self.ws, self.book, self.row
        self.sheet.rows[key] = row
        self.cache[key] = [float(c) for _, c in cells]
        exact = True
        for y, (content, cached) in enumerate(cells):
            col = FIRST_YEAR_COL + y
            if isinstance(content, str):
                exact &= book.formula(ws, row, col, content, float(cached), fmt)
            elif matches(float(content), float(cached)):
                book.number(ws, row, col, float(content), fmt)
            else:  # a plain number that is not mailplan's figure: the figure instead
                book.unverified.append(
                    Unverified(ws.name, cell(row, col), repr(content), content, cached)
                )
                book.number(ws, row, col, float(cached), fmt)
                exact = False
        if not exact:
            label += " (values where no formula gives mailplan's figure)"
        book.text(ws, row, 0, label, "text")
        book.text(ws, row, 1, unit, "text")
        if total:
            first = cell(row, FIRST_YEAR_COL)
            last = cell(row, FIRST_YEAR_COL + len(cells) - 1)
            value = float(sum(c for _, c in cells))
            fmt_total = "money_bold" if fmt == "money" else fmt
            book.formula(ws, row, self.sheet.total_col, f"=SUM({first}:{last})", value, fmt_total)
        self.row += 1

    def esc(self, cat: str, y: int) -> str:
        """The escalation factor of category ``cat`` in year ``y`` (a cell reference)."""
        key = "esc_subscription" if cat == "subscription" else self.esc_rows[ESCALATION[cat]]
        return self.at(key, y)

    def escv(self, cat: str, y: int) -> float:
        key = "esc_subscription" if cat == "subscription" else self.esc_rows[ESCALATION[cat]]
        return self.v(key, y)

    # endregion

    def write(self) -> None:
        """The whole sheet."""
        self.head()
        self.demand()
        self.escalation()
        if self.onprem:
            self.onprem_sizing()
        else:
            self.cloud_helpers()
        self.labour()
        self.costs()
        self.totals()
        ws, h = self.ws, self.ev.horizon
        ws.freeze_panes(YEAR_ROW + 1, FIRST_YEAR_COL)
        ws.set_column(0, 0, 58)
        ws.set_column(1, 1, 16)
        ws.set_column(FIRST_YEAR_COL, FIRST_YEAR_COL + h, 16)

    def head(self) -> None:
        ev, ws, book = self.ev, self.ws, self.book
        ws.write_string(
            0, 0, f"{self.option.id}: {ev.path_label(self.option.id)}", book.fmt("title")
        )
        book.note(
            ws,
            1,
            f"Amounts in {self.cur} (USD inputs times the exchange rate). Sizing results are "
            "values from the fleet model; every cost line is a formula on the Inputs sheet.",
            self.sheet.total_col,
            74 + 16 * (ev.horizon + 1),
        )
        book.header(ws, YEAR_ROW, ["Item", "Unit"])
        for y in self.years:
            book.number(ws, YEAR_ROW, FIRST_YEAR_COL + y, y + 1, "header")
        ws.write_string(YEAR_ROW, self.sheet.total_col, "Total", book.fmt("header"))

    def demand(self) -> None:
        ev, at, d = self.ev, self.at, self.ev.demand
        self.section("Plan and demand")
        plans = ev.plan_by_year(self.option.id)
        self.sheet.rows["plan"] = self.row
        self.ws.write_string(self.row, 0, "Plan or stack (structural choice)")
        self.ws.write_string(self.row, 1, "value")
        for y in self.years:
            self.ws.write_string(self.row, FIRST_YEAR_COL + y, str(plans[y]))
        self.row += 1
        yrs = self.years
        self.line(
            "users",
            "Users",
            "users",
            [
                (
                    f"=INT(in_org_users*(1+in_org_user_growth_per_year)^({_year(y)}-1)+0.5+1E-9)",
                    d.users[0][y],
                )
                for y in yrs
            ],
            "int",
        )
        self.line(
            "mailbox",
            "Average mailbox (end of year)",
            "GB",
            [
                (
                    f"=in_org_mailbox_gb_per_user"
                    f"+in_org_mailbox_growth_gb_per_user_year*{_year(y)}",
                    d.mailbox_gb[0][y],
                )
                for y in yrs
            ],
            "number",
        )
        self.line(
            "storage_tb",
            "Storage, all mailboxes (end of year)",
            "TB",
            [(f"={at('users', y)}*{at('mailbox', y)}/1000", d.storage_tb[0][y]) for y in yrs],
            "number",
        )
        self.line(
            "messages",
            "Messages a day (sent and received)",
            "messages",
            [
                (
                    f"={at('users', y)}*(in_org_messages_sent_per_user_day"
                    "+in_org_messages_received_per_user_day)",
                    d.messages_per_day[0][y],
                )
                for y in yrs
            ],
            "int",
        )
        self.line(
            "peak",
            "Peak messages a second",
            "messages/s",
            [
                (f"={at('messages', y)}*in_org_peak_factor/86400", d.peak_msgs_per_s[0][y])
                for y in yrs
            ],
            "number",
        )
        users = d.users[0]
        sent = self.g("in_org_messages_sent_per_user_day")
        share = self.g("in_org_outbound_share")
        recipients = self.g("in_org_recipients_per_message")
        self.line(
            "relay_k",
            "Outbound recipients a year",
            "thousands",
            [
                (
                    f"={at('users', y)}*in_org_messages_sent_per_user_day*in_org_outbound_share"
                    "*in_org_recipients_per_message*365/1000",
                    users[y] * sent * share * recipients * 365.0 / 1000.0,
                )
                for y in yrs
            ],
            "number",
        )
        if self.onprem:
            kb = self.g("in_org_avg_message_kb")
            self.line(
                "out_gb",
                "Outbound mail a year",
                "GB",
                [
                    (
                        f"={at('users', y)}*in_org_messages_sent_per_user_day"
                        "*in_org_outbound_share*365*in_org_avg_message_kb/1000000",
                        users[y] * sent * share * 365.0 * kb / 1e6,
                    )
                    for y in yrs
                ],
                "number",
            )

    def _rate(self, name: str) -> tuple[str, float]:
        rate = self.g(f"in_esc_{name}")
        expr = f"in_esc_{name}"
        if self.ev.scenario.price_basis == "nominal":
            rate += self.g("in_inflation")
            expr += "+in_inflation"
        return expr, rate

    def escalation(self) -> None:
        self.section("Escalation factors, (1 + rate)^(year - 1)")
        for cat in self.cats:
            name = ESCALATION.get(cat)
            if name is None or cat == "subscription" or name in self.esc_rows:
                continue
            expr, rate = self._rate(name)
            key = f"esc_{name}"
            self.line(
                key,
                f"Escalation: {name.replace('_', ' ')}",
                "factor",
                [(f"=(1+{expr})^({_year(y)}-1)", (1.0 + rate) ** y) for y in self.years],
                "factor",
            )
            self.esc_rows[name] = key
        if not self.onprem:
            expr, rate = self._rate("cloud_subscription")
            cells: list[Cell] = []
            for y in self.years:
                steps = max(y + 1 - max(self.num("price_lock_years", y), 1.0), 0.0)
                lock = self.p("price_lock_years", y)
                cells.append(
                    (f"=(1+{expr})^MAX({_year(y)}-MAX({lock},1),0)", (1.0 + rate) ** steps)
                )
            self.line(
                "esc_subscription",
                "Escalation: subscription (flat through a price lock)",
                "factor",
                cells,
                "factor",
            )

    def onprem_sizing(self) -> None:
        """Servers, purchases and warranty from the fleet model (values), and the per-server
        figures the lines use (formulas)."""
        ev, p, at, yrs = self.ev, self.p, self.at, self.years
        n_years = ev.horizon
        servers = np.zeros(n_years)
        bought = np.zeros(n_years)
        aged = np.zeros(n_years)
        residual_units = np.zeros(n_years)
        fleets = {}
        for k in sorted(set(self.stage)):
            member = self.chain[k]
            inputs = Inputs.of(member)
            count = np.broadcast_to(servers_needed(ev.demand, inputs), (1, n_years))
            age = None
            if self.terms.current and self.terms.initial_age is not None:
                age = np.full((1, 1), self.terms.initial_age)
            fleets[k] = (
                count,
                fleet_of(
                    count,
                    np.broadcast_to(inputs.refresh_years, (1, 1)),
                    initial_age=age,
                    warranty_years=np.broadcast_to(inputs.get("warranty_years", 0.0), (1, 1)),
                ),
            )
        for y in yrs:
            count, f = fleets[self.stage[y]]
            servers[y], bought[y], aged[y] = count[0, y], f.purchases[0, y], f.out_of_warranty[0, y]
        residual_units[-1] = fleets[self.stage[-1]][1].residual_units[0]
        self.section("Sizing results (values from the fleet model)")
        self.line("servers", "Servers in service", "servers", [(s, s) for s in servers], "int")
        self.line(
            "bought",
            "Servers bought (new and replacements)",
            "servers",
            [(b, b) for b in bought],
            "int",
        )
        self.line(
            "past_warranty", "Servers past their warranty", "servers", [(a, a) for a in aged], "int"
        )
        self.line(
            "residual_units",
            "Residual share at the end (server-equivalents, undepreciated)",
            "servers",
            [(u, u) for u in residual_units],
            "number",
        )
        self.section("Per-server figures (formulas)")
        self.line(
            "price",
            "Server price after the hardware discount",
            "USD",
            [
                (
                    f"={p('server_price', y)}*(1-{p('hardware_discount_pct', y)})",
                    self.num("server_price", y) * (1 - self.num("hardware_discount_pct", y)),
                )
                for y in yrs
            ],
            "usd",
        )
        self.line(
            "cores",
            f"Licensed cores per server (at least {OS_MIN_CORES_PER_SERVER:g} where priced "
            "per core)",
            "cores",
            [
                (
                    f"=IF({p('os_licence_per_core_year', y)}>0,"
                    f"MAX({p('cores', y)},{OS_MIN_CORES_PER_SERVER:g}),0)",
                    max(self.num("cores", y, 1.0), OS_MIN_CORES_PER_SERVER)
                    if self.num("os_licence_per_core_year", y) > 0
                    else 0.0,
                )
                for y in yrs
            ],
            "number",
        )
        if "in_org_backup_retention_days" in self.book.inputs:
            days = self.g("in_org_backup_retention_days")
            copies = [
                (
                    "=MAX(ROUNDUP(in_org_backup_retention_days/30,0),1)",
                    max(float(np.ceil(days / 30.0)), 1.0),
                )
                for _ in yrs
            ]
        else:
            copies = [(f"={p('backup_copies', y)}", self.num("backup_copies", y, 1.0)) for y in yrs]
        self.line("backup_copies", "Backup copies kept", "copies", copies, "number")
        self.line(
            "power_per_server",
            "Power per server a year (W x 8.76 kWh/W-year x PUE x price)",
            "USD",
            [
                (
                    f"={p('server_watts', y)}*8.76*{p('pue', y)}*{p('electricity_per_kwh', y)}",
                    self.num("server_watts", y)
                    * 8.76
                    * self.num("pue", y)
                    * self.num("electricity_per_kwh", y),
                )
                for y in yrs
            ],
            "usd",
        )
        self.line(
            "space_per_server",
            "Rack space per server a year",
            "USD",
            [
                (
                    f"={p('rack_per_server_month', y)}*12",
                    self.num("rack_per_server_month", y) * 12.0,
                )
                for y in yrs
            ],
            "usd",
        )
        self.line(
            "standby",
            "Warm-standby servers, ceil(servers / copies)",
            "servers",
            [
                (
                    f"=ROUNDUP({at('servers', y)}/{p('copies', y)}-1E-9,0)",
                    float(np.ceil(servers[y] / self.num("copies", y, 1.0) - 1e-9)),
                )
                for y in yrs
            ],
            "int",
        )
        cells: list[Cell] = []
        for y in yrs:
            warm = 1 if getattr(self.chain[self.stage[y]], "dr", "none") == "warm" else 0
            extra = "+1" if warm else ""
            sa, copies_n = self.num("server_availability", y, 0.99), self.num("copies", y, 1.0)
            cells.append(
                (
                    f"=1-(1-{p('server_availability', y)})^({p('copies', y)}{extra})",
                    1.0 - (1.0 - sa) ** (copies_n + warm),
                )
            )
        self.line(
            "availability", "Availability (copies, plus a warm standby)", "fraction", cells, "pct"
        )

    def cloud_helpers(self) -> None:
        p, at, yrs = self.p, self.at, self.years
        self.section("Storage (formulas)")
        cells: list[Cell] = []
        for y in yrs:
            addon_gb = self.num("addon_gb_per_user", y)
            included = self.num("included_gb_per_user", y)
            need = 1.0 if addon_gb > 0 and self.v("mailbox", y) > included else 0.0
            cells.append(
                (
                    f"=IF(AND({p('addon_gb_per_user', y)}>0,"
                    f"{at('mailbox', y)}>{p('included_gb_per_user', y)}),1,0)",
                    need,
                )
            )
        self.line("needs_addon", "Storage add-on needed (1 yes, 0 no)", "switch", cells, "int")
        self.line(
            "over_gb",
            "Mailbox above the storage bought",
            "GB/user",
            [
                (
                    f"=MAX({at('mailbox', y)}-MAX({p('included_gb_per_user', y)},"
                    f"{p('addon_gb_per_user', y)}),0)",
                    max(self.v("mailbox", y) - self._bought_gb(y), 0.0),
                )
                for y in yrs
            ],
            "number",
        )
        cells = []
        for y in yrs:
            if not self.has("availability", y):
                cells.append((0.0, 0.0))
                continue
            cells.append((f"={p('availability', y)}", self.num("availability", y)))
        self.line(
            "availability",
            "Availability (financially backed SLA; 0: unknown)",
            "fraction",
            cells,
            "pct",
        )

    def _bought_gb(self, y: int) -> float:
        """GB per user the plan includes or its add-on brings, whichever is more."""
        return max(self.num("included_gb_per_user", y), self.num("addon_gb_per_user", y))

    def labour(self) -> None:
        """Admin, helpdesk and sender-authentication time, before the labour-cost basis
        decides where it goes."""
        p, at, yrs, fx = self.p, self.at, self.years, self.g("in_fx")
        self.section(f"Staff time ({self.cur}; counted as cost, or as opportunity cost)")
        cells: list[Cell] = []
        for y in yrs:
            users = self.v("users", y)
            if self.onprem:
                expr = (
                    f"({p('admin_hours_per_month', y)}+{p('admin_hours_per_server_month', y)}"
                    f"*{at('servers', y)}+{p('admin_hours_per_100_users_month', y)}"
                    f"*{at('users', y)}/100)"
                )
                hours = (
                    self.num("admin_hours_per_month", y)
                    + self.num("admin_hours_per_server_month", y) * self.v("servers", y)
                    + self.num("admin_hours_per_100_users_month", y) * users / 100.0
                )
            else:
                expr = (
                    f"({p('admin_hours_per_month', y)}+{p('admin_hours_per_100_users_month', y)}"
                    f"*{at('users', y)}/100)"
                )
                hours = (
                    self.num("admin_hours_per_month", y)
                    + self.num("admin_hours_per_100_users_month", y) * users / 100.0
                )
            cells.append(
                (
                    f"={expr}*12*{p('admin_hourly_cost', y)}*{self.esc('admin_labour', y)}*in_fx",
                    hours
                    * 12
                    * self.num("admin_hourly_cost", y)
                    * self.escv("admin_labour", y)
                    * fx,
                )
            )
        self.line("staff_admin", "Admin time", self.cur, cells, total=True)
        self.line(
            "staff_helpdesk",
            "Helpdesk time",
            self.cur,
            [
                (
                    f"={at('users', y)}*{p('helpdesk_hours_per_user_year', y)}"
                    f"*{p('helpdesk_hourly_cost', y)}*{self.esc('helpdesk', y)}*in_fx",
                    self.v("users", y)
                    * self.num("helpdesk_hours_per_user_year", y)
                    * self.num("helpdesk_hourly_cost", y)
                    * self.escv("helpdesk", y)
                    * fx,
                )
                for y in yrs
            ],
            total=True,
        )
        cells = []
        for y in yrs:
            setup = y == 0 and not self.terms.current
            sa_hours = f"{p('sender_auth_hours_per_domain_month', y)}*12"
            value = self.num("sender_auth_hours_per_domain_month", y) * 12.0
            if setup:
                sa_hours += f"+{p('sender_auth_setup_hours_per_domain', y)}"
                value += self.num("sender_auth_setup_hours_per_domain", y)
            cells.append(
                (
                    f"=in_org_sending_domains*({sa_hours})*{p('admin_hourly_cost', y)}"
                    f"*{self.esc('sender_auth', y)}*in_fx",
                    self.g("in_org_sending_domains")
                    * value
                    * self.num("admin_hourly_cost", y)
                    * self.escv("sender_auth", y)
                    * fx,
                )
            )
        self.line(
            "staff_sender_auth",
            "Sender authentication time (SPF, DKIM, DMARC; set-up hours in year 1)",
            self.cur,
            cells,
            total=True,
        )

    def costs(self) -> None:
        lines = self.ev.lines[self.option.id]
        self.section(f"Cost lines ({self.cur})")
        for cat in self.cats:
            formulas = [line_formula(self, cat, y) for y in self.years]
            label = line_label(cat)
            if any(f is None for f in formulas):  # a line newer than this workbook
                formulas = [float(lines[cat][y]) for y in self.years]
                label += " (value: mailplan's figure, no formula yet)"
            cells = [
                (f if f is not None else 0.0, float(lines[cat][y]))
                for y, f in zip(self.years, formulas, strict=True)
            ]
            self.line(cat, label, self.cur, cells, total=True)

    def totals(self) -> None:
        ev, at, yrs, cats = self.ev, self.at, self.years, self.cats
        oid = self.option.id
        lines = ev.lines[oid]
        self.section("Totals")
        first, last = self.sheet.rows[cats[0]], self.sheet.rows[cats[-1]]
        yearly = ev.yearly(oid)
        self.line(
            "cost",
            "Cost",
            self.cur,
            [
                (
                    f"=SUM({cell(first, FIRST_YEAR_COL + y)}:{cell(last, FIRST_YEAR_COL + y)})",
                    float(yearly[y]),
                )
                for y in yrs
            ],
            total=True,
        )
        capex_cats = [c for c in CAPEX_CATEGORIES if c in cats]
        capex = np.sum([lines[c] for c in capex_cats], axis=0)
        self.line(
            "capex",
            "Capex (" + ", ".join(c.replace("_", " ") for c in capex_cats) + ")",
            self.cur,
            [("=" + "+".join(at(c, y) for c in capex_cats), float(capex[y])) for y in yrs],
            total=True,
        )
        self.line(
            "opex",
            "Opex (every other line)",
            self.cur,
            [(f"={at('cost', y)}-{at('capex', y)}", float(yearly[y] - capex[y])) for y in yrs],
            total=True,
        )
        opp = ev.opportunity[oid]
        self.line(
            "opportunity",
            "Opportunity cost: labour by existing staff (not in the cost)",
            self.cur,
            [
                (
                    f"=(1-in_labour_in_cash)*({at('staff_admin', y)}+{at('staff_helpdesk', y)}"
                    f"+{at('staff_sender_auth', y)})",
                    float(opp[y]),
                )
                for y in yrs
            ],
            total=True,
        )
        cum = np.cumsum(yearly)
        self.line(
            "cumulative",
            "Cumulative cost",
            self.cur,
            [
                (
                    f"={at('cost', 0)}" if y == 0 else f"={self.here(y - 1)}+{at('cost', y)}",
                    float(cum[y]),
                )
                for y in yrs
            ],
        )
        rate = discount_rate_expr(ev)
        self.line(
            "discount",
            "Discount factor, 1 / (1 + rate)^(year - 1): costs fall at the start of a year",
            "factor",
            [(f"=1/(1+{rate})^({_year(y)}-1)", float(ev.discount[y])) for y in yrs],
            "factor",
        )
        disc = ev.discounted_yearly(oid)
        end = _year(ev.horizon - 1)
        has_residual = "residual" in self.sheet.rows
        self.line(
            "discounted",
            "Discounted cost (the residual credit as end-of-year money)",
            self.cur,
            [
                (
                    f"=({at('cost', y)}-{at('residual', y)})*{at('discount', y)}"
                    f"+{at('residual', y)}/(1+{rate})^{end}"
                    if has_residual
                    else f"={at('cost', y)}*{at('discount', y)}",
                    float(disc[y]),
                )
                for y in yrs
            ],
            total=True,
        )
        cum_disc = np.cumsum(disc)
        self.line(
            "cumulative_discounted",
            "Cumulative discounted cost",
            self.cur,
            [
                (
                    f"={at('discounted', 0)}"
                    if y == 0
                    else f"={self.here(y - 1)}+{at('discounted', y)}",
                    float(cum_disc[y]),
                )
                for y in yrs
            ],
        )
        self.row += 1
        col = self.sheet.total_col
        rows = self.sheet.rows
        users_span = f"{cell(rows['users'], FIRST_YEAR_COL)}:{cell(rows['users'], col - 1)}"
        for key, label, formula, value in (
            ("npv", "NPV", f"={cell(rows['discounted'], col)}", ev.npv(oid)),
            ("total", "Total (undiscounted)", f"={cell(rows['cost'], col)}", ev.total(oid)),
            (
                "per_user_month",
                "Cost per user-month",
                f"={cell(rows['cost'], col)}/(SUM({users_span})*12)",
                ev.per_user_month(oid),
            ),
        ):
            rows[key] = self.row
            self.ws.write_string(self.row, 0, label, self.book.fmt("bold"))
            self.ws.write_string(self.row, 1, self.cur)
            self.book.formula(self.ws, self.row, col, formula, float(value), "money_bold")
            self.row += 1


def write_option(
    book: Book,
    ws: Worksheet,
    ev: Evaluation,
    sheet: OptionSheet,
    current: OptionSheet | None,
) -> None:
    """Fill ``ws`` with the option's yearly model. ``current``: the sheet of the system that
    runs today, already written, whose year-1 running cost a move pays as dual running."""
    _Writer(book, ws, ev, sheet, current).write()
