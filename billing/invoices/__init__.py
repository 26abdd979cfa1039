"""Invoices, one module per step of their life (STYLE.md, after Lago): periods and lines
built from rollups, the reconciliation check, review actions, rendering."""
