"""Notifications: the outbox, delivery (e-mail, signed webhooks), webhook endpoints, in-app."""
