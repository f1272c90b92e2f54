"""Celery tasks: thin wrappers that call plain functions of the packages below gateway/."""
