"""What the operator does, between the kopf handlers (controller/) and the API edge (kube/).

Each service takes a `KubeStore` and plain dicts, calls the pure decision functions of `reconcile/` and the
builders of `manifests/`, and performs the resulting API calls. No kopf here, so services are testable against
a real API server without running the operator.
"""
