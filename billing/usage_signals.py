"""What billing announces about usage, for the layers above it (the dashboard's live feed)
without billing importing them."""

from django.dispatch import Signal

# Sent once the transaction that wrote them has committed, with `events`: the UsageEvents
# whose records that transaction inserted (a retried batch's already written ones are not
# sent again). It is sent from the usage writer's thread (or a command's): a receiver must
# return quickly and must not raise (it is sent robustly, so an error is only logged).
usage_written = Signal()
