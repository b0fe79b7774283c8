"""ModelMonitor Operator: keeps deployed machine-learning models honest.

The package is layered so that each folder has one job (see README "Architecture"):

- ``api``        the ModelMonitor spec model, conditions and the result schema (the single source of the CRD)
- ``controller`` kopf handlers only, thin
- ``reconcile``  pure decisions: verdict, status, alert and rollback policy
- ``manifests``  pure builders of CronJob / Job / ConfigMap objects
- ``kube``       the only code that calls the Kubernetes API
- ``evaluator``  runs inside the evaluation Job: data -> accumulators -> metrics / drift -> report
- ``alerts``     notification channels behind one interface
- ``rollback``   rollback targets behind one interface
"""

__version__ = "0.1.0"
