"""schemathesis hook of `npm run fuzz` (scripts/fuzz.ts, docs/fuzzing.md): the owner routes' replay as a peer.

schemathesis' own `object_level_authorization` check (on in the user role's run, through `[auth.wfc]` with
two peers) replays only reads (a GET that returned an object the owner created or listed), never a write,
and only for ids it saw the owner get. This check covers every route of the API that has an owner:
whenever the owner's answer shows that the request reached an object the owner owns, it sends the same
request again as the peer (the other user of the run, role `user` too) and fails unless the peer gets
what the contract promises another person:

- holds and bookings: 404 (docs/architecture.md, Decisions: "Other people's holds and bookings are 404"),
  and 403 for confirming someone else's hold (API.md);
- `GET /bookings`, `GET /users/me`: the peer's own list and account, never one of the owner's;
- `POST /auth/logout`: with the owner's live refresh token in the body, 204 (API.md: unknown and foreign
  tokens are ignored) and the owner's session still refreshes afterwards;
- `POST /auth/password/change`: with the owner's real current password, 401 `INVALID_CREDENTIALS` (the
  route judges the caller's own account, whoever's password is sent).

scripts/fuzz.ts passes the two users in FUZZ_OBJECT_AUTHORIZATION (JSON: `owner` with `authorization`,
`id`, `password`, `refreshToken`; `peer` with `authorization`, `id`; `log`, a file that gets one JSON line
per replay, which scripts/fuzz.ts sums up); without it the check does nothing. Replays are sent outside
schemathesis (`requests`), so they are not checked themselves; each distinct situation (operation,
object, the owner's status) is replayed once per run.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import requests

import schemathesis

PEERS: dict[str, Any] | None = json.loads(os.environ["FUZZ_OBJECT_AUTHORIZATION"]) if os.environ.get("FUZZ_OBJECT_AUTHORIZATION") else None

# Operation → (the owner's statuses that prove the request reached an object the owner owns, the peer's
# documented status). A 404 or 403 to the owner means the object is not the owner's (or does not exist);
# 400 and 422 may be answered before the owner is looked at (schema validation, a reused Idempotency-Key),
# so they prove nothing. 409 and 410 (already confirmed or cancelled, expired) and 402 (declined) come
# after the owner check (functions/seats/lua.ts), as do the successes.
OWNED_OBJECTS: dict[str, tuple[frozenset[int], int]] = {
    "GET /holds/{holdId}": (frozenset({200}), 404),
    "DELETE /holds/{holdId}": (frozenset({204, 409}), 404),
    "POST /holds/{holdId}/confirm": (frozenset({201, 402, 409, 410}), 403),
    "GET /bookings/{bookingId}": (frozenset({200}), 404),
    "DELETE /bookings/{bookingId}": (frozenset({200, 409}), 404),
}
# The routes whose object is the caller's own account or session, named by no id.
OWN_ACCOUNT = {"GET /users/me", "GET /bookings", "POST /auth/logout", "POST /auth/password/change"}

_replayed: set[tuple[Any, ...]] = set()
_lock = threading.Lock()


def _first_time(key: tuple[Any, ...]) -> bool:
    with _lock:
        if key in _replayed:
            return False
        _replayed.add(key)
        return True


def _log(case: Any, response: Any, peer: requests.Response, passed: bool) -> None:
    assert PEERS is not None
    line = {"operation": case.operation.label, "path": case.formatted_path, "owner": response.status_code, "peer": peer.status_code, "passed": passed}
    with _lock, open(PEERS["log"], "a", encoding="utf-8") as log:
        log.write(json.dumps(line) + "\n")


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _as_peer(case: Any, body: Any = None) -> tuple[dict[str, Any], requests.Response]:
    """The owner's request as schemathesis sent it, with the peer's token instead (and `body`, when given)."""
    assert PEERS is not None
    kwargs = case.as_transport_kwargs()
    kwargs["headers"] = {name: value for name, value in (kwargs.get("headers") or {}).items() if name.lower() != "authorization"}
    kwargs["headers"]["Authorization"] = PEERS["peer"]["authorization"]
    if body is not None:
        kwargs.pop("data", None)
        kwargs["json"] = body
    return kwargs, requests.request(**kwargs, timeout=10, allow_redirects=False)


def _story(case: Any, response: Any, kwargs: dict[str, Any], peer: requests.Response, expected: str) -> str:
    sent = kwargs.get("json", kwargs.get("data"))
    sent_text = json.dumps(sent) if isinstance(sent, (dict, list)) else (sent.decode(errors="replace") if isinstance(sent, bytes) else sent)
    return (
        f"the peer user reached the owner's object on {case.operation.label}\n\n"
        f"Owner: {case.method} {case.formatted_path} -> {response.status_code}\n"
        f"Peer:  {kwargs['method']} {kwargs['url']}{' ' + sent_text if sent_text else ''} -> {peer.status_code} "
        f"{peer.text[:300]}\n"
        f"Expected for the peer: {expected}"
    )


def _check_owned_object(case: Any, response: Any) -> None:
    proof, expected = OWNED_OBJECTS[case.operation.label]
    if response.status_code not in proof:
        return
    if not _first_time((case.operation.label, tuple(sorted((case.path_parameters or {}).items())), response.status_code)):
        return
    kwargs, peer = _as_peer(case)
    _log(case, response, peer, peer.status_code == expected)
    if peer.status_code != expected:
        raise AssertionError(_story(case, response, kwargs, peer, str(expected)))


def _check_own_account(case: Any, response: Any) -> None:
    assert PEERS is not None
    owner, peer_user = PEERS["owner"], PEERS["peer"]
    label = case.operation.label
    if label == "GET /users/me" and response.status_code == 200 and _first_time((label,)):
        kwargs, peer = _as_peer(case)
        passed = peer.status_code == 200 and (_json(peer) or {}).get("id") == peer_user["id"]
        _log(case, response, peer, passed)
        if not passed:
            raise AssertionError(_story(case, response, kwargs, peer, f"200 with the peer's own account ({peer_user['id']})"))
    elif label == "GET /bookings" and response.status_code == 200:
        owned = sorted(str(item.get("bookingId")) for item in (_json(response) or {}).get("items", []) if isinstance(item, dict))
        if not owned or not _first_time((label, tuple(owned))):
            return
        kwargs, peer = _as_peer(case)
        listed = {str(item.get("bookingId")) for item in (_json(peer) or {}).get("items", []) if isinstance(item, dict)}
        # The owner's cursor may be refused (400): it is signed, not the peer's page.
        passed = peer.status_code in (200, 400) and not listed & set(owned)
        _log(case, response, peer, passed)
        if not passed:
            raise AssertionError(_story(case, response, kwargs, peer, f"the peer's own bookings, none of the owner's {owned}"))
    elif label == "POST /auth/logout" and response.status_code == 204 and _first_time((label,)):
        # The fuzzer never holds a live refresh token of the owner's: the peer sends the one the script kept.
        kwargs, peer = _as_peer(case, {"refreshToken": owner["refreshToken"]})
        refreshed = requests.post(kwargs["url"].replace("/auth/logout", "/auth/refresh"), json={"refreshToken": owner["refreshToken"]}, timeout=10)
        passed = peer.status_code == 204 and refreshed.status_code == 200
        _log(case, response, peer, passed)
        if not passed:
            raise AssertionError(
                _story(case, response, kwargs, peer, "204, and the owner's session untouched")
                + f"\nThe owner's refresh token afterwards: POST /auth/refresh -> {refreshed.status_code} {refreshed.text[:200]}"
            )
    elif label == "POST /auth/password/change" and response.status_code in (204, 401, 429) and _first_time((label,)):
        # The owner's request got past validation; the peer sends the owner's real password as the current one.
        body = dict(case.body) if isinstance(case.body, dict) else {}
        kwargs, peer = _as_peer(case, {**body, "currentPassword": owner["password"]})
        _log(case, response, peer, peer.status_code == 401)
        if peer.status_code != 401:
            raise AssertionError(_story(case, response, kwargs, peer, "401 INVALID_CREDENTIALS (the peer's own password is checked)"))


@schemathesis.check
def owner_routes_refuse_peers(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every owner route, replayed as another user of the same role, answers as the contract says for other people's objects."""
    if PEERS is None or case.headers is None or case.headers.get("Authorization") != PEERS["owner"]["authorization"]:
        return None
    if case.operation.label in OWNED_OBJECTS:
        _check_owned_object(case, response)
    elif case.operation.label in OWN_ACCOUNT:
        _check_own_account(case, response)
    return None
