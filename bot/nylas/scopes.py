"""The Google scopes the bot offers, for runs and for checking a new service account."""

GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"
GOOGLE_SCOPES = {
    GMAIL_READONLY: "Gmail: read",
    "https://www.googleapis.com/auth/gmail.modify": "Gmail: read and modify",
    "https://www.googleapis.com/auth/gmail.send": "Gmail: send",
    "https://www.googleapis.com/auth/gmail.compose": "Gmail: compose",
    "https://www.googleapis.com/auth/calendar": "Calendar: full",
    "https://www.googleapis.com/auth/calendar.readonly": "Calendar: read",
    "https://www.googleapis.com/auth/calendar.events": "Calendar: events",
    "https://www.googleapis.com/auth/contacts": "Contacts: full",
    "https://www.googleapis.com/auth/contacts.readonly": "Contacts: read",
    "https://www.googleapis.com/auth/directory.readonly": "Directory: read",
}
