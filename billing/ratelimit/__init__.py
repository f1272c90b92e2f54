"""Rate limits: requests and tokens per minute per key, tenant and deployment, as token buckets
kept in the same counter store as budgets (so Redis shares them across processes)."""
