"""``modelreg``: the registry from a shell or a CI pipeline.

Configuration: ``MODELREG_URL`` (e.g. https://registry.example.com) and
``MODELREG_TOKEN`` (an API token), or ``--url`` and ``--token``.

Exit codes: 0 success (approved, deployment succeeded); 1 rejected or deployment
failed; 2 timed out waiting; 3 the registry refused the request or is unreachable;
4 bad usage or configuration. ``modelreg verify`` (offline, no registry): 0 valid,
1 invalid (digest or signature), 3 revoked, 4 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

from modelreg.client import ApiError, Client, dumps

OK, NEGATIVE, TIMEOUT, API_ERROR, USAGE = 0, 1, 2, 3, 4


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def _pairs(items: list[str] | None, *, parse_json: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"expected KEY=VALUE, got {item!r}")
        if parse_json:
            try:
                out[key] = json.loads(value)
            except ValueError:
                out[key] = value
        else:
            out[key] = value
    return out


def _json_file(path: str | None, what: str) -> Any:
    if path is None:
        return None
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {what} from {path}: {exc}") from exc


def _out(args: argparse.Namespace, value: Any, text: str | None = None) -> None:
    if args.output == "json":
        print(dumps(value))
    else:
        print(text if text is not None else dumps(value))


# --- groups ------------------------------------------------------------------------


def groups_create(c: Client, args: argparse.Namespace) -> int:
    group = c.post(
        "/model-groups/",
        {"name": args.name, "description": args.description, "tags": _pairs(args.tag)},
    )
    _out(args, group, group["name"])
    return OK


def groups_list(c: Client, args: argparse.Namespace) -> int:
    page = c.get("/model-groups/", q=args.q or None, page_size=args.limit)
    _out(
        args,
        page["results"],
        "\n".join(
            f"{g['name']}\tlatest={g['latest_version']}\tversions={g['version_count']}"
            for g in page["results"]
        ),
    )
    return OK


def groups_show(c: Client, args: argparse.Namespace) -> int:
    _out(args, c.get(f"/model-groups/{args.name}/"))
    return OK


# --- versions ------------------------------------------------------------------------


def versions_register(c: Client, args: argparse.Namespace) -> int:
    if not (os.path.isfile(args.file) or os.path.isdir(args.file)):
        raise UsageError(f"no such file or folder: {args.file}")
    if os.path.isdir(args.file) and (args.sha256 or args.signature):
        raise UsageError("--sha256 and --signature apply to a model file, not a folder")
    metrics = _json_file(args.metrics, "metrics") or {}
    metrics.update({k: float(v) for k, v in _pairs(args.metric).items()})
    params = _json_file(args.params, "hyperparameters") or {}
    params.update(_pairs(args.param, parse_json=True))
    fields = {
        "description": args.description or "",
        "metrics": json.dumps(metrics),
        "hyperparameters": json.dumps(params),
        "tags": json.dumps(_pairs(args.tag)),
        "lineage": json.dumps(_pairs(args.lineage)),
    }
    if args.sample_payload:
        fields["sample_payload"] = json.dumps(
            _json_file(args.sample_payload, "payload")
        )
    if args.model_card:
        with open(args.model_card) as handle:
            fields["model_card"] = handle.read()
    if args.sha256:
        fields["sha256"] = args.sha256
    files: dict[str, Any] = {}
    if args.signature:
        if not os.path.isfile(args.signature):
            raise UsageError(f"no such file: {args.signature}")
        with open(args.signature, "rb") as handle:
            files["model_signature"] = (
                os.path.basename(args.signature),
                handle.read(),
                "application/json",
            )
    version = c.upload(
        f"/model-groups/{args.group}/versions/",
        {**fields, **files},
        args.file,
        progress=not args.no_progress and sys.stderr.isatty(),
        idempotency_key=args.idempotency_key,
    )
    _out(args, version, str(version["version"]))
    return OK


def versions_list(c: Client, args: argparse.Namespace) -> int:
    params = {
        "page_size": args.limit,
        "approval_status": args.status,
        "metric": args.metric,
        "ordering": args.ordering,
    }
    page = c.get(
        f"/model-groups/{args.group}/versions/",
        **{k: v for k, v in params.items() if v},
    )
    _out(
        args,
        page["results"],
        "\n".join(
            f"{v['version']}\t{v['approval_status']}\t{json.dumps(v['metrics'])}"
            for v in page["results"]
        ),
    )
    return OK


def versions_show(c: Client, args: argparse.Namespace) -> int:
    _out(args, c.get(f"/model-groups/{args.group}/versions/{args.version}/"))
    return OK


def versions_review(c: Client, args: argparse.Namespace) -> int:
    result = c.post(
        f"/model-groups/{args.group}/versions/{args.version}/reviews/",
        {"decision": args.decision, "comment": args.comment or ""},
    )
    _out(args, result, result["approval_status"])
    return OK


def _poll(check: Callable[[], int | None], timeout: float, interval: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        outcome = check()
        if outcome is not None:
            return outcome
        if time.monotonic() >= deadline:
            return TIMEOUT
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def versions_wait(c: Client, args: argparse.Namespace) -> int:
    path = f"/model-groups/{args.group}/versions/{args.version}/"
    seen: dict[str, Any] = {}

    def check() -> int | None:
        version = c.get(path)
        seen["status"] = version["approval_status"]
        if version["approval_status"] == "Approved":
            return OK
        if version["approval_status"] == "Rejected":
            return NEGATIVE
        return None

    code = _poll(check, args.timeout, args.interval)
    status = seen.get("status", "unknown")
    message = {OK: "Approved", NEGATIVE: "Rejected"}.get(code, f"timed out ({status})")
    _out(args, {"approval_status": status, "outcome": message}, message)
    return code


# --- deployments and endpoints ----------------------------------------------------------


def _wait_deployment(c: Client, args: argparse.Namespace, deployment_id: int) -> int:
    seen: dict[str, Any] = {}

    def check() -> int | None:
        deployment = c.get(f"/deployments/{deployment_id}/")
        seen.update(deployment)
        if deployment["status"] == "Succeeded":
            return OK
        if deployment["status"] in {"Failed", "Superseded", "Cancelled"}:
            return NEGATIVE
        return None

    code = _poll(check, args.timeout, args.interval)
    text = f"deployment {deployment_id}: {seen.get('status', 'unknown')}"
    if seen.get("error"):
        text += f" ({seen['error']})"
    if code == TIMEOUT:
        text += " (timed out)"
    _out(args, seen, text)
    return code


def deployments_wait(c: Client, args: argparse.Namespace) -> int:
    return _wait_deployment(c, args, args.id)


def deployments_show(c: Client, args: argparse.Namespace) -> int:
    _out(args, c.get(f"/deployments/{args.id}/"))
    return OK


def endpoints_show(c: Client, args: argparse.Namespace) -> int:
    endpoint = c.get(f"/endpoints/{args.name}/")
    _out(args, endpoint, f"{endpoint['name']}\tlive={endpoint['live_version']}")
    return OK


def endpoints_deploy(c: Client, args: argparse.Namespace) -> int:
    deployment = c.post(
        f"/endpoints/{args.name}/deployments/", {"version": args.version}
    )
    if args.wait:
        return _wait_deployment(c, args, deployment["id"])
    _out(args, deployment, f"deployment {deployment['id']} {deployment['status']}")
    return OK


def endpoints_rollback(c: Client, args: argparse.Namespace) -> int:
    deployment = c.post(f"/endpoints/{args.name}/rollback")
    if args.wait:
        return _wait_deployment(c, args, deployment["id"])
    _out(args, deployment, f"deployment {deployment['id']} -> v{deployment['version']}")
    return OK


def endpoints_wait(c: Client, args: argparse.Namespace) -> int:
    """Wait until the endpoint serves ``--version`` (or its latest deployment ends)."""
    seen: dict[str, Any] = {}

    def check() -> int | None:
        rows = c.get(
            "/deployments/", endpoint=args.name, version=args.version, page_size=1
        )["results"]
        if not rows:
            return None
        seen.update(rows[0])
        if rows[0]["status"] == "Succeeded":
            return OK
        if rows[0]["status"] in {"Failed", "Cancelled", "Superseded"}:
            return NEGATIVE
        return None

    code = _poll(check, args.timeout, args.interval)
    text = f"{args.name} v{args.version}: {seen.get('status', 'no deployment yet')}"
    if seen.get("error"):
        text += f" ({seen['error']})"
    _out(args, seen, text)
    return code


def endpoints_invoke(c: Client, args: argparse.Namespace) -> int:
    body = _json_file(args.input, "input")
    if isinstance(body, list):
        body = {"inputs": body}
    result = c.post(f"/endpoints/{args.name}/invocations", body)
    _out(args, result)
    return OK


# --- wiring ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="modelreg",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default=os.environ.get("MODELREG_URL"))
    parser.add_argument("--token", default=os.environ.get("MODELREG_TOKEN"))
    parser.add_argument("--output", choices=["text", "json"], default="text")
    parser.add_argument(
        "--timeout-http", type=float, default=30.0, help=argparse.SUPPRESS
    )
    top = parser.add_subparsers(dest="noun", required=True, parser_class=Parser)

    groups = top.add_parser("groups").add_subparsers(dest="verb", required=True)
    p = groups.add_parser("create")
    p.add_argument("name")
    p.add_argument("--description", default="")
    p.add_argument("--tag", action="append", metavar="K=V")
    p.set_defaults(run=groups_create)
    p = groups.add_parser("list")
    p.add_argument("--q")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(run=groups_list)
    p = groups.add_parser("show")
    p.add_argument("name")
    p.set_defaults(run=groups_show)

    versions = top.add_parser("versions").add_subparsers(dest="verb", required=True)
    p = versions.add_parser(
        "register",
        help="upload a model file (or an MLflow model folder) as the next version",
    )
    p.add_argument("group")
    p.add_argument(
        "file", help="the model file, or an MLflow model folder (with MLmodel)"
    )
    p.add_argument("--metrics", metavar="FILE.json")
    p.add_argument("--metric", action="append", metavar="NAME=NUMBER")
    p.add_argument("--params", metavar="FILE.json")
    p.add_argument("--param", action="append", metavar="K=V")
    p.add_argument("--tag", action="append", metavar="K=V")
    p.add_argument(
        "--lineage",
        action="append",
        metavar="K=V",
        help="dataset_uri, code_repository, commit, pipeline_run, ...",
    )
    p.add_argument("--description")
    p.add_argument("--model-card", metavar="FILE.md")
    p.add_argument("--sample-payload", metavar="FILE.json")
    p.add_argument("--sha256")
    p.add_argument(
        "--signature",
        metavar="FILE.sig",
        help="an OpenSSF model-signing signature of the file (model_signing sign key)",
    )
    p.add_argument("--idempotency-key")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=versions_register)
    p = versions.add_parser("list")
    p.add_argument("group")
    p.add_argument("--status")
    p.add_argument("--metric", help="e.g. auc>=0.9")
    p.add_argument("--ordering")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(run=versions_list)
    p = versions.add_parser("show")
    p.add_argument("group")
    p.add_argument("version", type=int)
    p.set_defaults(run=versions_show)
    p = versions.add_parser("review")
    p.add_argument("group")
    p.add_argument("version", type=int)
    p.add_argument("decision", choices=["approve", "reject", "comment"])
    p.add_argument("--comment")
    p.set_defaults(run=versions_review)
    p = versions.add_parser("wait", help="exit 0 approved, 1 rejected, 2 timeout")
    p.add_argument("group")
    p.add_argument("version", type=int)
    p.add_argument("--until", choices=["approved"], default="approved")
    p.add_argument("--timeout", type=float, required=True)
    p.add_argument("--interval", type=float, default=2.0)
    p.set_defaults(run=versions_wait)

    deployments = top.add_parser("deployments").add_subparsers(
        dest="verb", required=True
    )
    p = deployments.add_parser("show")
    p.add_argument("id", type=int)
    p.set_defaults(run=deployments_show)
    p = deployments.add_parser("wait", help="exit 0 succeeded, 1 failed, 2 timeout")
    p.add_argument("id", type=int)
    p.add_argument("--timeout", type=float, required=True)
    p.add_argument("--interval", type=float, default=1.0)
    p.set_defaults(run=deployments_wait)

    endpoints = top.add_parser("endpoints").add_subparsers(dest="verb", required=True)
    p = endpoints.add_parser("show")
    p.add_argument("name")
    p.set_defaults(run=endpoints_show)
    for verb, run in (("deploy", endpoints_deploy), ("rollback", endpoints_rollback)):
        p = endpoints.add_parser(verb)
        p.add_argument("name")
        if verb == "deploy":
            p.add_argument("--version", type=int, required=True)
        p.add_argument("--wait", action="store_true")
        p.add_argument("--timeout", type=float, default=300)
        p.add_argument("--interval", type=float, default=1.0)
        p.set_defaults(run=run)
    p = endpoints.add_parser(
        "wait", help="until VERSION is live: 0 ok, 1 failed, 2 timeout"
    )
    p.add_argument("name")
    p.add_argument("--version", type=int, required=True)
    p.add_argument("--timeout", type=float, required=True)
    p.add_argument("--interval", type=float, default=1.0)
    p.set_defaults(run=endpoints_wait)
    p = endpoints.add_parser("invoke")
    p.add_argument("name")
    p.add_argument(
        "--input",
        required=True,
        metavar="FILE.json",
        help='{"inputs": [[...]]} or a list of rows',
    )
    p.set_defaults(run=endpoints_invoke)
    p = top.add_parser(
        "verify",
        help="check a signed approval attestation offline: "
        "0 valid, 1 invalid, 3 revoked",
    )
    p.add_argument("artifact", help="the model file")
    p.add_argument("--attestation", required=True, metavar="FILE")
    p.add_argument("--key", required=True, metavar="PEM_FILE")
    p.add_argument(
        "--revocations",
        metavar="FILE",
        help="signed revocations: GET /api/v1/revocations/, or an attestation "
        "answer that carries one",
    )
    p.set_defaults(run=None)
    return parser


def verify_command(args: argparse.Namespace) -> int:
    """``modelreg verify``: needs no registry, URL or token."""
    from modelreg import verify

    try:
        result = verify.verify(
            args.artifact, args.attestation, args.key, args.revocations
        )
    except verify.BadInput as exc:
        print(f"modelreg: {exc}", file=sys.stderr)
        return USAGE
    if args.output == "json":
        print(
            dumps(
                {
                    "valid": result.code == verify.VALID,
                    "revoked": result.code == verify.REVOKED,
                    "error": result.error,
                    "statement": result.statement,
                    "revocation": result.revocation,
                }
            )
        )
    else:
        print(verify.report(result))
    return result.code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.noun == "verify":
        return verify_command(args)
    if not args.url or not args.token:
        print(
            "modelreg: set MODELREG_URL and MODELREG_TOKEN (or --url and --token)",
            file=sys.stderr,
        )
        return USAGE
    try:
        return args.run(Client(args.url, args.token, args.timeout_http), args)
    except UsageError as exc:
        print(f"modelreg: {exc}", file=sys.stderr)
        return USAGE
    except ApiError as exc:
        where = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.fields.items())
        status = f"HTTP {exc.status}" if exc.status else "unreachable"
        print(
            f"modelreg: {status}: {exc.message}"
            + (f" [{where}]" if where and where not in exc.message else ""),
            file=sys.stderr,
        )
        return API_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
