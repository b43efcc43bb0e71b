"""``mailplan dkim keygen`` (a DKIM signing key for the reference server) and
``mailplan dns-records`` (what a self-hosted mail domain publishes in DNS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from planner.cli.app import app, require_extra
from planner.errors import PlannerError

dkim_app = typer.Typer(
    name="dkim",
    help="DKIM keys of the reference mail server (DATA_DIR/dkim/<domain>/<selector>.pem).",
    no_args_is_help=True,
)
app.add_typer(dkim_app)


@dkim_app.command("keygen")
def keygen(
    domain: Annotated[str, typer.Option("--domain", help="The d= domain (a --domain of serve).")],
    selector: Annotated[str, typer.Option("--selector", help="The s= selector, a DNS label.")],
    data_dir: Annotated[
        Path, typer.Option("--data-dir", metavar="DIR", help="The server's data folder.")
    ],
    algorithm: Annotated[
        str, typer.Option("--algorithm", help="rsa (2048 bits) or ed25519.")
    ] = "rsa",
) -> None:
    """Make a signing key (mode 0600) and print the TXT record to publish; `mailplan serve`
    signs the mail it relays for that domain with every key it has."""
    require_extra("server", "cryptography")
    from planner.mailserver.dkim import RSA_BITS, DkimError, generate_key, key_path, txt_chunks

    try:
        key = generate_key(data_dir, domain, selector, algorithm.strip().lower())
    except DkimError as exc:
        raise PlannerError(str(exc)) from None
    size = f"{RSA_BITS} bits" if key.algorithm == "rsa" else "Ed25519"
    print(f"wrote {key_path(data_dir, key.domain, key.selector)} ({size}, mode 0600)")
    print("publish:")
    chunks = " ".join(f'"{c}"' for c in txt_chunks(key.txt))
    print(f"{key.record_name}. 3600 IN TXT {chunks}")


@app.command("dns-records")
def dns_records(
    domain: Annotated[str, typer.Option("--domain", help="The mail domain.")],
    mx_host: Annotated[
        str, typer.Option("--mx-host", help="The server's name (MX target, HELO name).")
    ],
    ip: Annotated[
        str | None, typer.Option("--ip", help="The server's public address (A/AAAA, SPF, PTR).")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", metavar="DIR", help="Where the DKIM keys are (serve's)."),
    ] = None,
    selector: Annotated[
        str | None, typer.Option("--selector", help="Only this DKIM key [default: all].")
    ] = None,
    rua: Annotated[
        str | None,
        typer.Option(
            "--rua", metavar="ADDR", help="DMARC and TLS reports to [default: postmaster@DOMAIN]."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text (zone-file lines) or json.")] = "text",
) -> None:
    """Print the DNS records to publish: MX, SPF, DKIM, DMARC (p=none to start), optional
    MTA-STS and TLS-RPT, and what to ask of the address's provider (reverse DNS)."""
    from planner.mailserver.dns_records import records, reminders, to_text

    if fmt not in ("text", "json"):
        raise PlannerError(f"--format: text or json, not {fmt!r}")
    if data_dir is not None:
        require_extra("server", "cryptography")
    try:
        items = records(domain, mx_host, ip=ip, rua=rua, data_dir=data_dir, selector=selector)
    except ValueError as exc:
        raise PlannerError(str(exc)) from None
    if fmt == "json":
        print(json.dumps([r.as_dict() for r in items], indent=2))
    else:
        host = mx_host.strip().lower().removesuffix(".")
        print(to_text(items, reminders(domain, host, ip)), end="")
