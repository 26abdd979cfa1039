"""Celery tasks of the Stripe seam (imported by billing.tasks so Celery finds them)."""
