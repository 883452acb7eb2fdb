"""Message senders (console, webhook, Twilio) and the outbox worker."""
