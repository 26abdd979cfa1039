"""Events accounts announces to the apps above it, which accounts may not import.

`organization_signed_up` (kwargs `organization`, `user`): a sign-up's own organization was
just created, inside the sign-up's transaction. billing grants the starting credit on it
(billing/signals.py), so accounts needs to know nothing of the ledger.
"""

from django.dispatch import Signal

organization_signed_up = Signal()
