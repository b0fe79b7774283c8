"""`modelmonitor operator`: runs the kopf operator with the handlers of `modelmonitor.controller.handlers`.

Several replicas may run: with `--leader-election` (the chart's default when replicas > 1) only the holder of
a coordination.k8s.io Lease works, the others wait and take over when it stops renewing. kopf's own peering is
not used: with equal priorities it pauses every replica.
"""

from __future__ import annotations

import argparse
import http.server
import logging
import os
import signal
import sys
import threading
import urllib.parse
from typing import Any

import kopf
from prometheus_client import start_http_server

from modelmonitor.alerts import ChannelSettings
from modelmonitor.alerts.outbound import parse_allow_flags
from modelmonitor.api.model import DEFAULT_EVALUATOR_SERVICE_ACCOUNT
from modelmonitor.controller import fencing
from modelmonitor.controller.settings import OperatorSettings
from modelmonitor.kube.client import load_api_client
from modelmonitor.kube.store import KubeStore


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="modelmonitor operator", description=__doc__)
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--namespace", "-n", action="append", default=[],
                       help="watch this namespace (repeatable); default: all namespaces")
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace (default)")
    parser.add_argument("--evaluator-image", default=os.environ.get("MODELMONITOR_EVALUATOR_IMAGE",
                                                                     "modelmonitor:0.1.0"))
    parser.add_argument("--evaluator-service-account", default=DEFAULT_EVALUATOR_SERVICE_ACCOUNT,
                        help="ServiceAccount of evaluation pods whose spec.evaluation.serviceAccountName is unset")
    parser.add_argument("--liveness", default="http://0.0.0.0:8080/healthz", help="kopf liveness endpoint")
    parser.add_argument("--metrics-port", type=int, default=9090, help="Prometheus metrics port (0: off)")
    parser.add_argument("--leader-election-lease", metavar="NAME", default="",
                        help="work only while holding this coordination.k8s.io Lease (in $POD_NAMESPACE)")
    parser.add_argument("--lease-namespace", default=os.environ.get("POD_NAMESPACE", "default"))
    parser.add_argument("--identity", default=os.environ.get("POD_NAME") or os.uname().nodename)
    parser.add_argument("--max-workers", type=int, default=20)
    parser.add_argument("--allow-outbound", action="append", default=[], metavar="KIND:WHAT=VALUE",
                        help="a destination tenants' channels may reach, e.g. webhook:host=hooks.slack.com, "
                             "email:cidr=10.20.0.0/16, sms:scheme=http (KIND: email, webhook, sms); "
                             "none given: every outbound call is refused")
    parser.add_argument("--cloud-identity-namespace", action="append", default=[], metavar="NAMESPACE",
                        help="a namespace whose channels may use the operator's own cloud identity (SNS)")
    parser.add_argument("--webhook-allowed-host", action="append", default=[],
                        help="same as --allow-outbound=webhook:host=HOST")
    parser.add_argument("--delivery-claim-seconds", type=float, default=300.0,
                        help="how long a claim on an alert delivery holds before the retry timer may take it over")
    parser.add_argument("--registry-webhook-port", type=int, default=0,
                        help="port of the MLflow registry webhook endpoint POST /mlflow/<namespace>/<monitor> "
                             "(0: off)")
    parser.add_argument("--log-format", choices=["json", "plain"], default="json")
    parser.add_argument("--verbose", "-v", action="store_true")
    return parser.parse_args(argv)


class _StandbyLiveness:
    """A bare `/healthz` on the liveness address while a standby replica waits for the Lease."""

    def __init__(self, url: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        path = parsed.path or "/healthz"

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == path else 404)
                self.end_headers()
                self.wfile.write(b'{"standby": true}')

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((parsed.hostname or "0.0.0.0", parsed.port or 80), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="standby-liveness", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    try:  # deny by default: with no --allow-outbound every tenant destination is refused
        outbound = parse_allow_flags([*args.allow_outbound, *(f"webhook:host={host}" for host in
                                                              args.webhook_allowed_host)],
                                     args.cloud_identity_namespace)
    except ValueError as error:
        print(f"modelmonitor operator: {error}", file=sys.stderr)
        return 2
    kopf.configure(verbose=args.verbose,
                   log_format=kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.PLAIN)
    import modelmonitor.controller.handlers  # noqa: F401 - registers the handlers
    from modelmonitor.controller import sharding_handlers  # noqa: F401 - registers the sharded-run handler

    operator_settings = OperatorSettings(
        evaluator_image=args.evaluator_image, evaluator_service_account=args.evaluator_service_account,
        namespaces=tuple(args.namespace), all_namespaces=not args.namespace, metrics_port=args.metrics_port,
        webhook_allowed_hosts=tuple(args.webhook_allowed_host), max_workers=args.max_workers,
        delivery_claim_seconds=args.delivery_claim_seconds)
    api_client = load_api_client(max_connections=args.max_workers + 2)
    if args.metrics_port:
        start_http_server(args.metrics_port)
    lost_lease = threading.Event()

    def lose_lease() -> None:
        lost_lease.set()
        signal.raise_signal(signal.SIGTERM)  # kopf then stops the way it does on any SIGTERM

    if args.leader_election_lease:
        from modelmonitor.controller.leader import LeaderElector

        elector = LeaderElector(api_client, args.lease_namespace, args.leader_election_lease, args.identity,
                                on_lost=lose_lease)
        # A standby is alive while it waits: answer the liveness probe until kopf takes the port over.
        standby = _StandbyLiveness(args.liveness) if args.liveness else None
        try:
            elector.acquire()  # blocks until this replica leads
        finally:
            if standby is not None:
                standby.stop()
        elector.keep_renewing()
        fencing.install(elector.holds)
    channel_settings = ChannelSettings(outbound=outbound)
    memo: Any = kopf.Memo(store=KubeStore(api_client), operator_settings=operator_settings,
                          channel_settings=channel_settings)
    if args.registry_webhook_port:  # an alias move announced by MLflow starts an evaluation at once
        from modelmonitor.controller.registry_webhook import RegistryWebhookServer

        RegistryWebhookServer(memo.store, "0.0.0.0", args.registry_webhook_port).start()
    kopf.run(
        clusterwide=not args.namespace, namespaces=args.namespace, standalone=True, memo=memo,
        liveness_endpoint=args.liveness or None,
    )
    if lost_lease.is_set():
        logging.getLogger("modelmonitor.operator").error("lost the leader Lease; exiting so a standby takes over")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
