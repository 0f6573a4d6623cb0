"""``paceline audit``: verify the chain, sign checkpoints of its head, export it to a SIEM.

``verify`` exits 1 when the chain or a checkpoint does not hold; ``export`` exits 1
when the target refused a batch (the cursor stays where the last good batch left it).
"""

from __future__ import annotations

from pathlib import Path

import typer

from paceline.cli.common import Fmt, handles_errors, open_workspace
from paceline.cli.output import emit_json, out, table
from paceline.services.access import operator

audit_app = typer.Typer(
    help="The tamper-evident audit log: verify, checkpoint, export.", no_args_is_help=True
)
FORMAT = typer.Option(Fmt.table, "--format", help="Output format.")


@audit_app.command("verify")
@handles_errors
def audit_verify(
    checkpoints: Path | None = typer.Option(
        None, "--checkpoints", help="Also check these signed checkpoints (JSON Lines)."
    ),
    public_key: Path | None = typer.Option(
        None, "--public-key", help="PEM public key the checkpoints were signed with."
    ),
    fmt: Fmt = FORMAT,
) -> None:
    """Check that no entry was changed, removed or reordered, and that no checkpointed head is gone."""
    ws = open_workspace()
    check = ws.verify_audit()
    doc = check.to_dict()
    ok = check.ok
    if checkpoints is not None or public_key is not None:
        if checkpoints is None or public_key is None:
            raise typer.BadParameter("--checkpoints and --public-key go together")
        cp_check = ws.audit_checkpoints().verify(operator(), checkpoints, public_key)
        doc["checkpoints"] = cp_check.to_dict()
        ok = ok and cp_check.ok
    if fmt is Fmt.json:
        emit_json(doc | {"ok": ok})
        raise typer.Exit(0 if ok else 1)
    if check.ok:
        out.print(f"Audit log intact: {check.entries:,} entries.")
    else:
        out.print(f"Audit log BROKEN at entry {check.first_bad}: {check.reason}")
    if "checkpoints" in doc:
        cps = doc["checkpoints"]
        for problem in cps["problems"]:
            where = f"Checkpoint line {problem['line']} ({problem['entries']} entries)"
            out.print(f"{where}: {problem['reason']}")
        if not cps["problems"]:
            out.print(f"All {cps['checked']} checkpoints hold.")
    raise typer.Exit(0 if ok else 1)


@audit_app.command("checkpoint")
@handles_errors
def audit_checkpoint(
    out_file: Path | None = typer.Option(
        None, "--out", help="Append to this file (default: <workspace>/audit/checkpoints.jsonl)."
    ),
    fmt: Fmt = FORMAT,
) -> None:
    """Sign the current chain head (entries, head hash, time) with the workspace's Ed25519 key."""
    service = open_workspace().audit_checkpoints()
    checkpoint = service.checkpoint(operator(), out_file)
    if fmt is Fmt.json:
        emit_json(checkpoint.to_dict())
        return
    target = out_file or service.default_file
    out.print(
        f"Signed {checkpoint.entries:,} entries, head {checkpoint.head_hash[:16]}…, "
        f"key {checkpoint.key_id}; appended to {target}"
    )


@audit_app.command("public-key")
@handles_errors
def audit_public_key(
    out_file: Path | None = typer.Option(None, "--out", help="Write the PEM here instead of stdout."),
) -> None:
    """Print (or write) the public key that verifies this workspace's checkpoints."""
    pem = open_workspace().audit_checkpoints().public_key(operator())
    if out_file is None:
        typer.echo(pem.decode("ascii"), nl=False)
        return
    out_file.write_bytes(pem)
    out.print(f"Wrote the public key to {out_file}")


@audit_app.command("export")
@handles_errors
def audit_export(
    to: str = typer.Option(
        ...,
        "--to",
        help="file:PATH, syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT, or an HTTP(S) HEC URL.",
    ),
    export_format: str = typer.Option("ocsf", "--as", help="ocsf (JSON Lines), cef or syslog (RFC 5424)."),
    name: str = typer.Option("default", "--name", help="The export's cursor: one per destination."),
    reset: bool = typer.Option(False, "--reset", help="Start this export over from the first entry."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Send at most this many entries."),
    fmt: Fmt = FORMAT,
) -> None:
    """Send the entries after the export's cursor; run it again later to send only what is new."""
    report = (
        open_workspace().audit_export().run(operator(), name, to, export_format, reset=reset, limit=limit)
    )
    if fmt is Fmt.json:
        emit_json(report.to_dict())
        return
    if report.repaired_bytes:
        out.print(f"Cut {report.repaired_bytes:,} bytes an interrupted run had left unconfirmed.")
    if report.sent:
        out.print(
            f"Sent entries {report.first_seq} to {report.last_seq} ({report.sent:,}) as "
            f"{report.format} to {report.target}."
        )
    else:
        out.print(f"Nothing new to send; export {report.name!r} is at entry {report.last_seq}.")


@audit_app.command("exports")
@handles_errors
def audit_exports(fmt: Fmt = FORMAT) -> None:
    """List the named exports and how far each got."""
    cursors = open_workspace().audit_export().cursors(operator())
    docs = [{"name": c.name, "target": c.target, "format": c.format, "last_seq": c.last_seq} for c in cursors]
    if fmt is Fmt.json:
        emit_json({"exports": docs})
        return
    table(
        "Audit exports",
        ["name", "target", "format", "last entry"],
        [[d["name"], d["target"], d["format"], d["last_seq"]] for d in docs],
    )
