"""A name for this process's worker, unique among the replicas sharing a database."""

from __future__ import annotations

import os
import socket
import uuid

WORKER_ID_LENGTH = 64  # RunItem.claimed_by


def new_worker_id() -> str:
    """host-pid-random, cut to fit the claim column: a Kubernetes pod's host name alone can be
    longer than the column, and the pid and random part are what keep ids apart."""
    suffix = f"-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    return socket.gethostname()[: WORKER_ID_LENGTH - len(suffix)] + suffix
