"""Small pydantic models that travel to Slack and back (view private_metadata, button values)."""

from __future__ import annotations

from pydantic import BaseModel

MAX_PRIVATE_METADATA = 3000


class ModalOrigin(BaseModel):
    """Where the modal was opened from, so results can be posted there."""

    channel_id: str = ""

    def dump(self) -> str:
        text = self.model_dump_json()
        if len(text) > MAX_PRIVATE_METADATA:
            raise ValueError("private_metadata is limited to 3000 characters")
        return text

    @classmethod
    def load(cls, text: str | None) -> ModalOrigin:
        return cls.model_validate_json(text) if text else cls()


class RetryToken(BaseModel):
    """Points at a submission kept in memory for a retry (never the secret itself)."""

    token: str
    channel_id: str = ""


class CredentialRef(BaseModel):
    """A button that acts on one registered credential (the bot's row id), or on none yet
    (the App Home's buttons: the modal then asks which)."""

    credential_id: int | None = None


class ConsentRef(BaseModel):
    """A button that acts on one consent request."""

    consent_id: int


class PlanRef(BaseModel):
    """A plan held in memory between the dry run and the requester's confirmation."""

    token: str


class RunRef(BaseModel):
    """A button or modal that acts on one bulk run."""

    run_id: int
    channel_id: str = ""
    message_ts: str = ""
