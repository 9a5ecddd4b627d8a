"""The one due-work engine: every clock in Tsunagu is a row here, swept by one beat task."""
