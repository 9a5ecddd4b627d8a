"""What notifications tell the apps above them, without importing them.

`receiver_not_notified(handoff_ids=[...])`: a hop's arrival could not be announced to its
receiver (delivery failed for good, or the endpoint is gone); sent inside the delivery's
transaction, so a receiver's update commits or rolls back with it. The relay listens
(relay.apps) and lets escalation go over the receiver.
"""

from django.dispatch import Signal

receiver_not_notified = Signal()
