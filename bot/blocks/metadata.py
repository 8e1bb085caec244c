"""Small pydantic models that travel to Slack and back (view private_metadata, button values)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, Field, ValidationError

from bot.errors import UserInputError

MAX_PRIVATE_METADATA = 3000
MAX_DB_ID = 2**31 - 1  # PostgreSQL's integer: a larger id cannot name a row
DbId = Annotated[int, Field(ge=1, le=MAX_DB_ID)]
DAMAGED = "This button or form carries data bulkauth did not make, so nothing was done."


class Ref(BaseModel):
    """Data the bot put in a button value or private_metadata, read back with `parse`: what
    comes back is checked like any user input (a damaged value is a clear refusal)."""

    @classmethod
    def parse(cls, raw: str | None) -> Self:
        try:
            return cls.model_validate_json(raw or "")
        except ValidationError:
            raise UserInputError(DAMAGED) from None


class ModalOrigin(Ref):
    """Where the modal was opened from, so results can be posted there."""

    channel_id: str = ""

    def dump(self) -> str:
        text = self.model_dump_json()
        if len(text) > MAX_PRIVATE_METADATA:
            raise ValueError("private_metadata is limited to 3000 characters")
        return text

    @classmethod
    def load(cls, text: str | None) -> ModalOrigin:
        return cls.parse(text) if text else cls()


class RetryToken(Ref):
    """Points at a submission kept in memory for a retry (never the secret itself)."""

    token: str
    channel_id: str = ""


class CredentialRef(Ref):
    """A button that acts on one registered credential (the bot's row id), or on none yet
    (the App Home's buttons: the modal then asks which)."""

    credential_id: DbId | None = None


class RotationOrigin(Ref):
    """A rotation modal: which credential (the bot's row id) and where it was opened from."""

    credential_id: DbId
    channel_id: str = ""


class ConsentRef(Ref):
    """A button that acts on one consent request."""

    consent_id: DbId


class PlanRef(Ref):
    """A plan held in memory between the dry run and the requester's confirmation."""

    token: str


class RunRef(Ref):
    """A button or modal that acts on one bulk run."""

    run_id: DbId
    channel_id: str = ""
    message_ts: str = ""


class RevokeOrigin(Ref):
    """The revoke modal's origin; `undo_run_id`: it revokes the grants that run created."""

    channel_id: str = ""
    undo_run_id: DbId | None = None


class DeletionRef(Ref):
    """The credential-deletion modal: which credential, what depends on it, where it started."""

    credential_id: DbId
    at_nylas: int = Field(default=0, ge=0)
    by_bot: int = Field(default=0, ge=0)
    channel_id: str = ""
