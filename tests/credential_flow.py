"""Filling the credential registration modals as a person would."""

from __future__ import annotations

from typing import Any

from tests.conftest import AZURE_APP, AZURE_SECRET
from tests.slack_ui import Modal, Submission


def fill_google(
    modal: Modal,
    *,
    name: str = "acme.com",
    pasted: str | None = None,
    upload: dict[str, Any] | None = None,
) -> None:
    modal.type("Credential name", name)
    modal.type("…or paste the JSON key", pasted)
    if upload is not None:
        modal.attach("JSON key file", upload)


def fill_microsoft(
    modal: Modal,
    *,
    name: str = "contoso.com",
    tenant: str = "contoso.com",
    client_id: str = AZURE_APP,
    secret: str = AZURE_SECRET,
    connector_app: bool = False,
    expires: str | None = None,
) -> None:
    modal.type("Credential name", name)
    modal.type("Tenant", tenant)
    modal.type("Azure app client id", client_id)
    modal.type("Azure app client secret", secret)
    if connector_app:
        modal.tick("Or", "use_connector_app")
    modal.pick_date("Client secret expires on", expires)


async def registration_outcome(modal: Modal, marker: str) -> str:
    """The registration runs after the ack; wait for the modal to show `marker`."""
    return (await modal.wait_for(marker)).text()


async def submit_google(modal: Modal, **values: Any) -> Submission:
    fill_google(modal, **values)
    return await modal.submit()


async def submit_microsoft(modal: Modal, **values: Any) -> Submission:
    fill_microsoft(modal, **values)
    return await modal.submit()
