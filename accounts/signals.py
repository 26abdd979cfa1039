"""Events accounts announces to the apps above it, which accounts may not import.

`organization_signed_up` (kwargs `organization`, `user`): a sign-up's own organization was
just created, inside the sign-up's transaction. billing grants the starting credit on it
(billing/signals.py), so accounts needs to know nothing of the ledger.

`key_rotated` (kwargs `old`, `new`): a key was replaced by a new secret with its settings,
inside the rotation's transaction. billing carries what the old key spent over to the new
one, so that rotating a key never gives its budget a fresh start.
"""

from django.dispatch import Signal

organization_signed_up = Signal()
key_rotated = Signal()
