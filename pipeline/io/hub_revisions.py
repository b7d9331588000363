"""The commit a hub dataset's revision points at now: the one network call of `curate lock`.

A hub dataset read at no revision, or at a branch or tag, is read at whatever that name
points at on the day: two runs of one config can read different rows. `resolve_commit`
asks the hub which commit that is (one GET of `/api/datasets/{id}` or
`/api/datasets/{id}/revision/{revision}`: the repository's metadata, never a data file),
so the lock can pin it. Only a full 40-hex commit sha names fixed content; anything
else moves (`is_commit`).

The endpoint is read from `HF_ENDPOINT` at call time and passed explicitly, since
huggingface_hub reads its constants once, at import; the offline switches are checked here
(`retry.hub_offline`) for the same reason. Every failure is a `HubRevisionError` whose message
is one line that names the dataset and says what to do next.
"""

from __future__ import annotations

import os
import re

from pipeline.io.retry import hub_offline

DEFAULT_ENDPOINT = "https://huggingface.co"
_COMMIT = re.compile(r"[0-9a-f]{40}")


class HubRevisionError(ValueError):
    """A revision that could not be resolved; the message is one line."""


def is_commit(revision: str | None) -> bool:
    """True for a full commit sha: the only revision whose content cannot move."""
    return revision is not None and _COMMIT.fullmatch(revision) is not None


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or DEFAULT_ENDPOINT


def resolve_commit(repo_id: str, revision: str | None = None, timeout_s: float = 30.0) -> str:
    """The commit sha `revision` (None: the default branch) of dataset `repo_id` points at now."""
    endpoint = hub_endpoint()
    if hub_offline():
        raise HubRevisionError(
            f"{repo_id}: the hub is offline (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is set): unset it to ask the hub"
        )
    from huggingface_hub import HfApi  # imported here: the runs that never lock need not pay for it
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        info = HfApi(endpoint=endpoint).dataset_info(repo_id, revision=revision, timeout=timeout_s)
    except GatedRepoError:
        raise HubRevisionError(
            f"{repo_id}: gated on {endpoint}: accept its terms on the hub and log in (`hf auth login`)"
        ) from None
    except RepositoryNotFoundError:
        raise HubRevisionError(
            f"{repo_id}: no such dataset on {endpoint} (or it is private: log in with `hf auth login`)"
        ) from None
    except RevisionNotFoundError:
        raise HubRevisionError(f"{repo_id}: no revision {revision!r} on {endpoint}") from None
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", "an error")
        raise HubRevisionError(f"{repo_id}: {endpoint} answered {status}: try again later") from None
    except HFValidationError as exc:
        raise HubRevisionError(f"{repo_id}: not a hub dataset id ({_first_line(exc)})") from None
    except OfflineModeIsEnabled:  # HF_HUB_OFFLINE was set when huggingface_hub was imported
        raise HubRevisionError(f"{repo_id}: huggingface_hub is in offline mode (HF_HUB_OFFLINE): unset it") from None
    except Exception as exc:  # noqa: BLE001 - connection refused, DNS, timeouts: the transport's own errors
        raise HubRevisionError(
            f"{repo_id}: cannot reach {endpoint} ({type(exc).__name__}: {_first_line(exc)}): "
            "check the network or HF_ENDPOINT"
        ) from None
    if not is_commit(info.sha):
        raise HubRevisionError(f"{repo_id}: {endpoint} returned no commit sha (got {info.sha!r})")
    return info.sha


def _first_line(exc: BaseException) -> str:
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
