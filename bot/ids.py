"""Every Slack identifier the bot uses: commands, subcommands, action, callback and block ids.

Handlers register against these members and builders emit the same members, so an id is never
typed twice. A test checks the manifest's commands against `CommandName`.
"""

from enum import StrEnum


class CommandName(StrEnum):
    BULKAUTH = "/bulkauth"


class Subcommand(StrEnum):
    HELP = "help"
    CREDENTIAL = "credential"
    CREDENTIALS = "credentials"
    CONSENT = "consent"
    GRANTS = "grants"
    AUDIT = "audit"
    STATUS = "status"
    DOCTOR = "doctor"
    REVOKE = "revoke"
    HEALTH = "health"


class ActionId(StrEnum):
    INPUT = "input"  # the one input element of an input block
    OPEN_URL = "open_url"  # link buttons still send block_actions; acked and ignored
    OPEN_GOOGLE_CREDENTIAL_MODAL = "open_google_credential_modal"
    OPEN_MICROSOFT_CREDENTIAL_MODAL = "open_microsoft_credential_modal"
    RETRY_REGISTRATION = "retry_registration"
    ROTATE_CREDENTIAL = "rotate_credential"  # "Rotate now" on an expiry reminder
    OPEN_CONSENT_MODAL = "open_consent_modal"
    CONSENT_CREDENTIAL_CHOSEN = "consent_credential_chosen"
    CONSENT_GRANTED_MANUALLY = "consent_granted_manually"
    OPEN_GRANTS_MODAL = "open_grants_modal"
    GRANTS_CREDENTIAL_CHOSEN = "grants_credential_chosen"
    CONFIRM_PLAN = "confirm_plan"
    APPROVE_RUN = "approve_run"
    REJECT_RUN = "reject_run"
    CANCEL_RUN = "cancel_run"
    RESUME_RUN = "resume_run"
    SEND_RUN_CSV = "send_run_csv"
    EXPORT_AUDIT = "export_audit"
    UNDO_RUN = "undo_run"  # a finished run's "Revoke the grants this run created"
    REAUTHENTICATE_INVALID = "reauthenticate_invalid"  # health, App Home, alerts
    REAUTHENTICATE_ALERT = "reauthenticate_alert"
    SHOW_ALERT_LIST = "show_alert_list"
    MUTE_ALERTS = "mute_alerts"


class CallbackId(StrEnum):
    GOOGLE_CREDENTIAL = "credential_google"
    MICROSOFT_CREDENTIAL = "credential_microsoft"
    ROTATE_GOOGLE = "rotate_google"
    ROTATE_MICROSOFT = "rotate_microsoft"
    CONSENT_LINK = "consent_link"
    GRANTS_REQUEST = "grants_request"
    REJECT_REASON = "reject_reason"
    REVOKE_REQUEST = "revoke_request"
    DELETE_CREDENTIAL = "delete_credential"
    REAUTH_PLAN = "reauth_plan"


class BlockId(StrEnum):
    CREDENTIAL_NAME = "credential_name"
    KEY_FILE = "key_file"
    KEY_JSON = "key_json"
    TEST_MAILBOX = "test_mailbox"
    TEST_SCOPES = "test_scopes"
    REGISTER_ANYWAY = "register_anyway"
    TENANT = "tenant"
    CLIENT_ID = "client_id"
    CLIENT_SECRET = "client_secret"
    USE_CONNECTOR_APP = "use_connector_app"
    SECRET_EXPIRES_ON = "secret_expires_on"
    CONSENT_CREDENTIAL = "consent_credential"
    CONSENT_SCOPES = "consent_scopes"
    GRANTS_CREDENTIAL = "grants_credential"
    GRANTS_USERS_TEXT = "grants_users_text"
    GRANTS_USERS_FILE = "grants_users_file"
    GRANTS_SCOPES = "grants_scopes"
    GRANTS_EXTRA_SCOPES = "grants_extra_scopes"
    GRANTS_OPTIONS = "grants_options"
    GRANTS_REASON = "grants_reason"
    REJECT_REASON = "reject_reason"
    REVOKE_CREDENTIAL = "revoke_credential"
    CONFIRM_NAME = "confirm_name"
    DELETE_REASON = "delete_reason"
    REAUTH_REASON = "reauth_reason"


# The bot scopes app.manifest.yml asks for (a test keeps the two equal); `doctor` checks that the
# installed token has them.
# The revoke modal's credential option for every credential the bot knows (credential options
# carry the credential's numeric id, so this never collides).
ALL_CREDENTIALS_OPTION = "all"

BOT_SCOPES = (
    "commands",
    "chat:write",
    "files:read",
    "files:write",
    "users:read",
    "im:write",
    "mpim:write",  # a destructive request's approval in a group DM with the other approvers
    "channels:history",
    "groups:history",
    "usergroups:read",
)
