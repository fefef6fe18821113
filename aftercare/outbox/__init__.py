"""The outbox: every email the app sends is a Reminder row first, planned, claimed
and sent by reminders (docs/reminders.md); emails writes each kind of message."""
