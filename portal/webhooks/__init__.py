"""Job webhooks: a job may carry a URL that the worker POSTs the job's final state to, signed
with its owner's secret, retried with backoff (docs/webhooks.md)."""
