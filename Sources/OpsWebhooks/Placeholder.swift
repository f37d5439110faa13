// Placeholder; the webhooks issue fills this in.
