"""Where pods run on AKS: task pods on spot nodes, everything long-lived on the system pool."""

SPOT_TAINT_KEY = "kubernetes.azure.com/scalesetpriority"
SPOT_TAINT = {"key": SPOT_TAINT_KEY, "operator": "Equal", "value": "spot", "effect": "NoSchedule"}
# AKS labels every node of a System-mode pool with this.
SYSTEM_POOL_SELECTOR = {"kubernetes.azure.com/mode": "system"}
