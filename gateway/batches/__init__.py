"""OpenAI's Files and Batches API, run by Celery workers through the gateway's own pipeline."""
