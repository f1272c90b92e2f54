"""Budgets: durable definitions in SQL, hot counters in a store (Redis or in-process) that
reserves worst-case cost atomically before a call and settles to the actual cost after it."""
