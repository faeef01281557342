"""Pure building blocks of the airflow-on-k8s Pulumi program.

Nothing in this package creates a Pulumi resource: it parses and validates configuration,
derives names and renders Helm values, so that all of it can be tested without a runtime.
"""
