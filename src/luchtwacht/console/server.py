"""The operator console's server: a REST API and a WebSocket of the air picture, for people.

It plugs into the node core's two ports and nothing else (``luchtwacht.node``):
- the **picture** comes from a bounded :class:`~luchtwacht.node.ports.Subscription`; the server
  keeps the newest update (for REST), a short trail per track, and fans each update out to every
  WebSocket client through a small queue of its own. A client that cannot keep up is closed with
  a reason (code 1013, "too slow") and never slows the node or the other clients;
- every **state-changing** call is a :class:`~luchtwacht.node.commands.Command` submitted to the
  node's command port, which checks the session's role at the next cycle boundary and audits
  who, when and what. The server itself changes nothing in the node.

It runs in a thread of its own with its own event loop (uvicorn), for the demo and the live node
alike; everything it shares with the node is thread-safe (the subscription, the command queue,
the :class:`~luchtwacht.counter.authority.Authority`).

Sessions: ``POST /api/login`` checks the password off the loop (argon2 takes ~0.2 s), backs off
per client address, and sets an HttpOnly, SameSite=Strict session cookie (Secure under TLS) and
returns a CSRF token that every state-changing request made with the cookie must echo in the
``X-CSRF-Token`` header. Machine clients ask for a bearer token instead (``"bearer": true``) and
send ``Authorization: Bearer …``; no cookie, so no CSRF. Errors are uniform and carry no detail
an attacker could use. The OpenAPI schema is at ``/api/openapi.json``.
"""

import asyncio
import contextlib
import dataclasses
import enum
import hmac
import json
import logging
import math
import operator
import secrets
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request, Response, WebSocket
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketDisconnect, WebSocketState

from luchtwacht import __version__
from luchtwacht.console.replay import Recordings, replay_router
from luchtwacht.console.schema import json_schema, ok
from luchtwacht.console.static import WEB_DIST, mount_web
from luchtwacht.counter.authority import (
    AuthError,
    Authority,
    LoginBackoffError,
    Permission,
    PermissionDenied,
    Session,
)
from luchtwacht.model.picture import (
    AlertSnapshot,
    EffectorSnapshot,
    EngagementSnapshot,
    FeedSnapshot,
    NodeSnapshot,
    PendingApprovalSnapshot,
    PictureUpdate,
    RecommendationSnapshot,
    SwarmSnapshot,
)
from luchtwacht.model.track import TrackView
from luchtwacht.node.clock import Clock
from luchtwacht.node.commands import Command, CommandKind, CommandResult
from luchtwacht.node.core import NodeCore
from luchtwacht.node.ports import Subscription
from luchtwacht.texts import TEMPLATES, say
from luchtwacht.threat.zones import ZoneGeometry

log = logging.getLogger(__name__)

SESSION_COOKIE = "lw_session"
CSRF_HEADER = "X-CSRF-Token"
CLIENT_QUEUE = 8  # picture updates waiting for one WebSocket client; beyond, it is too slow
MAX_CLIENTS = 64  # WebSocket clients at once
TRAIL_POINTS = 120  # positions kept per track for its history trail
MAX_TRAILS = 2000  # tracks with a trail (the oldest-updated are forgotten first)
COMMAND_WAIT_S = 5.0  # how long a request waits for the node to apply its command
SEND_TIMEOUT_S = 2.0  # a WebSocket send that takes longer drops the client
MAX_BODY_BYTES = 64 * 1024  # a request body larger than this is refused (413) unread
LOGINS_AT_ONCE = 2  # password checks running at once (each takes ~0.2 s of a core)
LOGINS_WAITING = 16  # more waiting than this are told to come back (503)
RECHECK_S = 5.0  # a WebSocket client's session is checked again this often
CLIENT_MESSAGES = 64  # messages a WebSocket client may send; it has nothing to say
MIN_RATE_HZ, MAX_RATE_HZ = 0.2, 50.0  # the picture rates a client may ask for (?rate=)


class BodyLimit:
    """ASGI middleware: refuse a request whose body is larger than ``max_bytes`` (413).

    Checked on the declared length and again on what actually arrives (chunked bodies), so a
    client cannot make the server hold gigabytes on its way to the JSON parser.
    """

    def __init__(self, app: Any, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve the request unless its body is too large."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLargeError
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLargeError:
            await _too_large(send)


class _BodyTooLargeError(Exception):
    """A request body went past the limit while it arrived."""


async def _too_large(send: Any) -> None:
    body = b'{"detail":"request body too large"}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def jsonable(obj: object) -> object:
    """A picture object as plain JSON values: dataclasses as objects, enums by name, NaN as null."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.name.lower()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list | frozenset | set):
        items = sorted(obj) if isinstance(obj, frozenset | set) else obj
        return [jsonable(v) for v in items]
    return obj


_TRACK_FIELDS = tuple(f.name for f in dataclasses.fields(TrackView))
_STREAM_SECTIONS = (
    "new_tracks",
    "dropped_tracks",
    "alerts",
    "alert_changes",
    "recommendations",
    "engagements",
    "feeds",
    "nodes",
    "effectors",
    "counters",
    "pending_approvals",
    "remote_ids",
    "swarms",
)


def _number(decimals: int) -> Callable[[Any], object]:
    """A converter of an optional float to JSON, rounded (non-finite as null)."""

    def convert(v: Any) -> object:
        if v is None or not math.isfinite(v):
            return None
        return round(v, decimals)

    return convert


def _numbers(decimals: int) -> Callable[[Any], object]:
    """A converter of an optional tuple of floats to a JSON list, rounded."""
    one = _number(decimals)

    def convert(v: Any) -> object:
        return None if v is None else [one(x) for x in v]

    return convert


def _probs(v: Any) -> object:
    return [[label, round(p, 3)] for label, p in v]


def _plain(v: Any) -> object:
    return v


# How each field of a track goes into JSON. Floats are rounded finer than any sensor measures
# (7 decimals of a degree are 1 cm): short numbers make the stream half as long.
_CONVERT: dict[str, Callable[[Any], object]] = {
    "t_s": _number(3),
    "lat_deg": _number(7),
    "lon_deg": _number(7),
    "class_prob": _number(3),
    "heading_deg": _number(1),
    "threat": lambda v: v.name.lower(),
    "zones_inside": list,
    "sensors": list,
    "class_reasons": list,
    "make_evidence": list,
    "class_probs": _probs,
    "rf_band_mhz": _numbers(1),
    "ellipse_m": _numbers(1),
    "pilot_lat_deg": _number(7),
    "pilot_lon_deg": _number(7),
    "pilot_err_m": _number(1),
    "pilot_ellipse_m": _numbers(1),
    "pilot_age_s": _number(1),
    "course_std_deg": _number(1),
    **{
        name: _number(2)
        for name in ("alt_m", "east_m", "north_m", "up_m", "speed_ms", "climb_ms", "pos_std_m")
    },
    "time_to_breach_s": _number(1),
}
_TRACK_CONVERT = tuple((name, _CONVERT.get(name, _plain)) for name in _TRACK_FIELDS)
_TRACK_VALUES = operator.attrgetter(*_TRACK_FIELDS)  # every field of a track, in one C call
_COMPARED = tuple(i for i, name in enumerate(_TRACK_FIELDS) if name != "t_s")


def _track_dict(values: tuple[Any, ...]) -> dict[str, object]:
    return {name: convert(v) for (name, convert), v in zip(_TRACK_CONVERT, values, strict=True)}


def track_json(t: TrackView) -> dict[str, object]:
    """One track as JSON values (rounded; the enum by name; tuples as lists)."""
    return _track_dict(_TRACK_VALUES(t))


class LoginRequest(BaseModel):
    """A login: a username and password; ``bearer`` asks for a token instead of a cookie."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    bearer: bool = False


class HealthAnswer(BaseModel):
    """Whether the node publishes (``GET /api/health``, no login)."""

    site: str
    seq: int | None
    age_s: float | None


class MeAnswer(BaseModel):
    """Who is logged in (``GET /api/me``)."""

    username: str
    role: str
    expires_t_s: float


class LoginAnswer(MeAnswer):
    """A session opened: ``csrf`` for a cookie session, ``token`` for a bearer one."""

    csrf: str | None = None
    token: str | None = None


class CommandAnswer(BaseModel):
    """What the node made of a command (200 applied, 202 still queued, 403/409 refused)."""

    kind: str
    target: int
    applied: bool
    ok: bool
    operator: str | None
    error: str
    status: str | None = None
    eng_id: int | None = None
    approval: dict[str, Any] | None = None


class RecordingAnswer(BaseModel):
    """Where the run is recorded (null: not recorded) and the store's counters."""

    path: str | None
    store: dict[str, Any] | None = None


class OperatorAnswer(BaseModel):
    """An account as the administrator sees it (never its hash)."""

    username: str
    role: str
    disabled: bool


class DisabledAnswer(BaseModel):
    """An account disabled."""

    username: str
    disabled: bool


_ZONE = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "polygon": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
        "floor_m": {"type": "number"},
        "ceiling_m": {"type": "number"},
    },
    "required": ["name", "polygon", "floor_m", "ceiling_m"],
}
_TRAIL_POINT = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in, or the session ended"},
    403: {"description": "The role may not do this (or the CSRF token is missing)"},
    503: {"description": "No picture yet (the node has not finished its first cycle)"},
}


def _answers(tp: Any, description: str = "OK") -> dict[int | str, dict[str, Any]]:
    """The documented answers of a picture endpoint: ``tp``'s schema for 200, and the errors."""
    return {**ok(json_schema(tp), description), **_ERRORS}


class CommandRequest(BaseModel):
    """An operator command (see ``luchtwacht.node.commands``)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["approve", "confirm", "reject", "cease", "acknowledge", "cue"]
    target: int = Field(ge=0, le=2**31)
    effector: str = Field(default="", max_length=128)
    camera: str = Field(default="", max_length=64)
    reason: str = Field(default="", max_length=500)


class _Frame:
    """One picture update as the stream sends it: the delta from ``base_seq``, or whole.

    In a delta, a new track comes whole and a changed one as its id and the fields that
    changed (its time is the picture's); sections come only when they changed. The delta is
    worked out and serialised once per update for every client: a client that has been sent
    ``base_seq`` gets ``delta``; any other (a new one) gets the whole picture, made on demand.
    """

    def __init__(
        self,
        update: PictureUpdate,
        base_seq: int | None,
        delta: str,
        sections: dict[str, object],
    ) -> None:
        self.seq = update.seq
        self.base_seq = base_seq
        self.delta = delta
        self.update = update
        self.sections = sections
        self._whole: str | None = None

    def whole(self) -> dict[str, object]:
        """The whole picture as JSON values (the stream's first message to a client)."""
        u = self.update
        return {
            "type": "picture",
            "seq": u.seq,
            "t_s": u.t_s,
            "site": u.site,
            "tracks": [track_json(t) for t in u.tracks],
            **self.sections,
        }

    def whole_text(self) -> str:
        """:meth:`whole` serialised, once."""
        if self._whole is None:
            self._whole = json.dumps(self.whole(), allow_nan=False)
        return self._whole


class _Client:
    """One WebSocket client: its own bounded queue of updates to send."""

    def __init__(self, ws: WebSocket, username: str, period_s: float = 0.0) -> None:
        self.ws = ws
        self.username = username
        self.period_s = period_s  # at least this long between two pictures sent (0: each one)
        self.queue: asyncio.Queue[_Frame] = asyncio.Queue(CLIENT_QUEUE)
        self.dropped_reason = ""
        self.sent_seq: int | None = None  # the picture this client holds now


class Console:
    """The console's web application over one node core (build it before the node runs)."""

    def __init__(
        self,
        core: NodeCore,
        authority: Authority,
        clock: Clock,
        *,
        secure: bool = False,
        zones: list[dict[str, object]] | None = None,
        accounts_file: Path | None = None,
        radars: list[dict[str, object]] | None = None,
        basemap: Path | None = None,
        recordings_dir: Path | None = None,
    ) -> None:
        self.core = core
        self.basemap = basemap  # an operator-supplied PMTiles file, served at /api/basemap.pmtiles
        self.recordings_dir = recordings_dir
        self.accounts_file = accounts_file  # where a disabled account is written back
        self.authority = authority
        self.clock = clock
        self.secure = secure
        self.zones = zones if zones is not None else _zones_json(core.zones)
        self.site = _site_of(core, self.zones, radars or [], basemap is not None)
        self.subscription: Subscription = core.subscribe("console", maxsize=16)
        self.latest: PictureUpdate | None = None
        self.frame: _Frame | None = None  # the newest update, as the stream sends it
        self._sent_tracks: dict[int, tuple[Any, ...]] = {}  # the last frame's tracks' values
        self._sent_sections: dict[str, object] = {}
        self.trails: OrderedDict[int, deque[tuple[float, float, float, float]]] = OrderedDict()
        self.clients: set[_Client] = set()
        self.clients_dropped: dict[str, int] = {}
        self._csrf: dict[str, str] = {}  # session token → its CSRF token
        self._lock = threading.Lock()
        self._logins: asyncio.Semaphore | None = None  # made on the console's own loop
        self._logins_waiting = 0
        self.logins_refused_busy = 0
        live = getattr(core.recorder, "path", None)
        self.recordings = Recordings(
            live=Path(live) if isinstance(live, str | Path) and str(live) else None,
            folder=recordings_dir,
        )
        self.app = self._build()
        # The web client at / once ``make web`` has built it (after the API, which keeps /api).
        mount_web(self.app, WEB_DIST)

    # --- the picture ----------------------------------------------------------------------------

    def absorb(self, update: PictureUpdate) -> None:
        """Keep an update for REST and its tracks' trails (called on the console's loop)."""
        self.latest = update
        for t in update.tracks:
            trail = self.trails.get(t.track_id)
            if trail is None:
                trail = self.trails[t.track_id] = deque(maxlen=TRAIL_POINTS)
                if len(self.trails) > MAX_TRAILS:
                    self.trails.popitem(last=False)
            else:
                self.trails.move_to_end(t.track_id)
            if not trail or trail[-1][0] != t.t_s:
                trail.append((t.t_s, t.lat_deg, t.lon_deg, t.alt_m))
        for gone in update.dropped_tracks:
            self.trails.pop(gone, None)

    async def pump(self) -> None:
        """Take the node's updates as they come and hand each to every client (never blocks)."""
        while True:
            update = await self.subscription.next()
            if update is None:
                return
            # Behind the node (a burst, a busy machine)? Every queued update feeds the trails,
            # but only the newest goes out, with all their alert events: the picture stays
            # current, and the clients' tasks get the loop between frames.
            changes = list(update.alert_changes)
            for later in self.subscription.take():
                self.absorb(update)
                update = later
                changes.extend(later.alert_changes)
            self.absorb(update)
            if len(changes) != len(update.alert_changes):
                update = dataclasses.replace(update, alert_changes=tuple(changes))
            frame = self.frame = self._frame(update)
            for client in list(self.clients):
                try:
                    client.queue.put_nowait(frame)
                except asyncio.QueueFull:
                    self._drop(client, "too slow: picture updates piled up")
            await asyncio.sleep(0)

    def _frame(self, update: PictureUpdate) -> _Frame:
        """The update as a delta from the previous one (the whole of it is made on demand).

        Tracks are compared on their raw values, field by field, and only what changed is
        converted: at a thousand tracks ten times a second this is the console's hot loop.
        """
        base = self.frame.seq if self.frame is not None else None
        changed: list[dict[str, object]] = []
        sent: dict[int, tuple[Any, ...]] = {}
        before_all = self._sent_tracks
        for view in update.tracks:
            values = _TRACK_VALUES(view)
            tid = view.track_id
            sent[tid] = values
            before = before_all.get(tid)
            if before is None:
                changed.append(_track_dict(values))  # new: whole
                continue
            fields: dict[str, object] = {}
            for i in _COMPARED:
                v = values[i]
                if v != before[i]:
                    name, convert = _TRACK_CONVERT[i]
                    fields[name] = convert(v)
            if fields:
                fields["track_id"] = tid
                changed.append(fields)
        removed = sorted(set(before_all) - set(sent))
        self._sent_tracks = sent
        delta: dict[str, object] = {
            "type": "delta",
            "seq": update.seq,
            "t_s": update.t_s,
            "site": update.site,
            "tracks": changed,
            "removed": removed,
        }
        sections: dict[str, object] = {}
        for name in _STREAM_SECTIONS:
            value = sections[name] = jsonable(getattr(update, name))
            if name == "alert_changes":
                delta[name] = value
            elif self._sent_sections.get(name) != value:
                delta[name] = value
                self._sent_sections[name] = value
        return _Frame(update, base, json.dumps(delta, allow_nan=False), sections)

    def stats(self) -> dict[str, object]:
        """Clients connected now, and those dropped by reason (for ``--stats-json``)."""
        return {"clients": len(self.clients), "dropped": dict(self.clients_dropped)}

    def _drop(self, client: _Client, reason: str) -> None:
        if not client.dropped_reason:
            client.dropped_reason = reason
            self.clients_dropped[reason] = self.clients_dropped.get(reason, 0) + 1
            log.warning("console client %s dropped: %s", client.username, reason)
        self.clients.discard(client)

    # --- sessions -------------------------------------------------------------------------------

    def _token(self, request: Request | WebSocket) -> tuple[str | None, bool]:
        """The session token of a request and whether it came in a cookie."""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), False
        return request.cookies.get(SESSION_COOKIE), True

    def _session(self, request: Request, permission: Permission) -> Session:
        """The request's live session with ``permission``; 401/403 with a uniform message."""
        token, via_cookie = self._token(request)
        if not token:
            raise HTTPException(401, say("web.log_in"))
        try:
            session = self.authority.check(token, permission, self.clock.now())
        except PermissionDenied:
            raise HTTPException(403, say("web.role", permission=permission)) from None
        except AuthError:
            raise HTTPException(401, say("web.session")) from None
        if via_cookie and request.method not in ("GET", "HEAD"):
            with self._lock:
                expected = self._csrf.get(token, "")
            given = request.headers.get(CSRF_HEADER, "")
            if not (expected and hmac.compare_digest(expected, given)):
                raise HTTPException(403, say("web.csrf"))
        return session

    def viewer(self, request: Request) -> Session:
        """FastAPI dependency: any logged-in person."""
        return self._session(request, Permission.VIEW)

    # --- the application ------------------------------------------------------------------------

    def _build(self) -> FastAPI:
        app = FastAPI(
            title="Luchtwacht console",
            version=__version__,
            openapi_url="/api/openapi.json",
            docs_url=None,  # its page loads from a CDN: nothing may come from outside the node
            redoc_url=None,
        )
        Viewer = Annotated[Session, Depends(self.viewer)]  # noqa: N806 - a type alias

        app.add_middleware(BodyLimit)

        @app.middleware("http")
        async def _headers(request: Request, call_next: Any) -> Response:
            response: Response = await call_next(request)
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["Referrer-Policy"] = "no-referrer"
            # The API's answers are never kept; the client's files are checked again each load.
            default = "no-store" if request.url.path.startswith("/api/") else "no-cache"
            response.headers.setdefault("Cache-Control", default)
            return response

        @app.get("/api/health", response_model=HealthAnswer)
        def health() -> dict[str, object]:
            """Whether the node publishes: the newest picture's sequence and age (no login)."""
            latest = self.latest
            return {
                "site": self.core.name,
                "seq": latest.seq if latest else None,
                "age_s": round(self.clock.now() - latest.t_s, 2) if latest else None,
            }

        @app.get("/api/texts")
        def texts() -> dict[str, str]:
            """The templates of the sentences the node writes, by code (no login needed).

            The page shows each sentence in the operator's language; the login page words its
            refusals with them too.
            """
            return dict(TEMPLATES)

        @app.post(
            "/api/login",
            response_model=LoginAnswer,
            response_model_exclude_none=True,
            responses={
                401: {"description": "Wrong user name or password (one message for both)"},
                429: {"description": "Too many failures from here: wait Retry-After seconds"},
                503: {"description": "Too many logins at once: try again"},
            },
        )
        async def login(body: LoginRequest, request: Request, response: Response) -> object:
            """Open a session (cookie and CSRF token, or a bearer token for machines)."""
            source = request.client.host if request.client else ""
            now = self.clock.now()
            if self._logins is None:
                self._logins = asyncio.Semaphore(LOGINS_AT_ONCE)
            if self._logins_waiting >= LOGINS_WAITING:
                # A login flood must not become a CPU flood: each check costs ~0.2 s of a core.
                self.logins_refused_busy += 1
                return JSONResponse(
                    {"detail": "too many logins at once: try again"},
                    status_code=503,
                    headers={"Retry-After": "1"},
                )
            self._logins_waiting += 1
            try:
                async with self._logins:
                    session = await anyio.to_thread.run_sync(
                        lambda: self.authority.authenticate(
                            body.username, body.password, now, source=source
                        )
                    )
            except LoginBackoffError as exc:
                retry = max(1, math.ceil(exc.retry_t_s - now))
                return JSONResponse(
                    {"detail": exc.reason}, status_code=429, headers={"Retry-After": str(retry)}
                )
            except AuthError as exc:
                raise HTTPException(401, exc.reason) from None
            finally:
                self._logins_waiting -= 1
            csrf = secrets.token_urlsafe(24)
            with self._lock:
                self._csrf[session.token] = csrf
                if len(self._csrf) > 4 * max(16, self.authority.active_sessions):
                    self._csrf.pop(next(iter(self._csrf)))
            out: dict[str, object] = {
                "username": session.username,
                "role": session.role,
                "expires_t_s": session.expires_t_s,
            }
            if body.bearer:
                out["token"] = session.token
            else:
                response.set_cookie(
                    SESSION_COOKIE,
                    session.token,
                    httponly=True,
                    samesite="strict",
                    secure=self.secure,
                    path="/",
                    max_age=int(session.expires_t_s - now),
                )
                out["csrf"] = csrf
            return out

        @app.post("/api/logout")
        def logout(request: Request, response: Response, who: Viewer) -> dict[str, str]:
            """End the session."""
            token, _ = self._token(request)
            with contextlib.suppress(AuthError):
                self.authority.logout(token or "", self.clock.now())
            with self._lock:
                self._csrf.pop(token or "", None)
            response.delete_cookie(SESSION_COOKIE, path="/")
            return {"username": who.username}

        @app.get("/api/me", response_model=MeAnswer, responses=_ERRORS)
        def me(who: Viewer) -> dict[str, object]:
            """Who is logged in, with which role."""
            return {"username": who.username, "role": who.role, "expires_t_s": who.expires_t_s}

        @app.get("/api/picture", responses=_answers(PictureUpdate))
        def picture(who: Viewer) -> object:
            """The newest air picture, whole."""
            return jsonable(self._latest())

        @app.get("/api/tracks", responses=_answers(tuple[TrackView, ...]))
        def tracks(who: Viewer) -> object:
            """Every confirmed track, most threatening first."""
            return jsonable(self._latest().tracks)

        @app.get(
            "/api/tracks/{track_id}",
            responses={
                **ok(
                    {
                        "type": "object",
                        "properties": {
                            "track": json_schema(TrackView),
                            "trail": {"type": "array", "items": _TRAIL_POINT},
                        },
                        "required": ["track", "trail"],
                    },
                    "The track now and its trail (time, lat, lon, alt), oldest first",
                ),
                **_ERRORS,
                404: {"description": "No such track now"},
            },
        )
        def track(track_id: int, who: Viewer) -> object:
            """One track now, with its trail (time, lat, lon, alt), oldest first."""
            view = self._latest().track(track_id)
            if view is None:
                raise HTTPException(404, say("web.no_track", track=track_id))
            return {"track": jsonable(view), "trail": list(self.trails.get(track_id, ()))}

        @app.get("/api/swarms", responses=_answers(tuple[SwarmSnapshot, ...]))
        def swarms(who: Viewer) -> object:
            """The swarms: tracks flying together, each one threat entry with its members."""
            return jsonable(self._latest().swarms)

        @app.get("/api/alerts", responses=_answers(tuple[AlertSnapshot, ...]))
        def alerts(who: Viewer) -> object:
            """The open alerts."""
            return jsonable(self._latest().alerts)

        @app.get("/api/zones", responses={**ok({"type": "array", "items": _ZONE}), **_ERRORS})
        def zones(who: Viewer) -> object:
            """The protected zones (WGS84 vertices and height bands)."""
            return self.zones

        @app.get("/api/site", responses={**ok({"type": "object"}), **_ERRORS})
        def site(who: Viewer) -> object:
            """The site: origin, zones, no-fire areas, effectors and their reach, fixed radars."""
            return self.site

        @app.get("/api/basemap.pmtiles", response_model=None)
        def basemap(who: Viewer) -> FileResponse | JSONResponse:
            """The operator's PMTiles basemap named in the site file (read in HTTP ranges)."""
            if self.basemap is None:
                return JSONResponse({"detail": "this site has no basemap file"}, status_code=404)
            return FileResponse(
                self.basemap,
                media_type="application/vnd.pmtiles",
                headers={"Cache-Control": "private, max-age=3600"},
            )

        @app.get(
            "/api/sensors",
            responses={
                **ok(
                    {
                        "type": "object",
                        "properties": {
                            "feeds": json_schema(tuple[FeedSnapshot, ...]),
                            "nodes": json_schema(tuple[NodeSnapshot, ...]),
                        },
                        "required": ["feeds", "nodes"],
                    }
                ),
                **_ERRORS,
            },
        )
        def sensors(who: Viewer) -> object:
            """The feeds and their health, and the SAPIENT nodes heard from."""
            p = self._latest()
            return {"feeds": jsonable(p.feeds), "nodes": jsonable(p.nodes)}

        @app.get("/api/effectors", responses=_answers(tuple[EffectorSnapshot, ...]))
        def effectors(who: Viewer) -> object:
            """The effectors on site and their state."""
            return jsonable(self._latest().effectors)

        @app.get(
            "/api/recommendations",
            responses={
                **ok(
                    {
                        "type": "object",
                        "properties": {
                            "recommendations": json_schema(tuple[RecommendationSnapshot, ...]),
                            "pending_approvals": json_schema(tuple[PendingApprovalSnapshot, ...]),
                        },
                        "required": ["recommendations", "pending_approvals"],
                    }
                ),
                **_ERRORS,
            },
        )
        def recommendations(who: Viewer) -> object:
            """Countermeasure recommendations and the approvals awaiting a second person."""
            p = self._latest()
            return {
                "recommendations": jsonable(p.recommendations),
                "pending_approvals": jsonable(p.pending_approvals),
            }

        @app.get("/api/engagements", responses=_answers(tuple[EngagementSnapshot, ...]))
        def engagements(who: Viewer) -> object:
            """Engagements: approved countermeasures and how they went."""
            return jsonable(self._latest().engagements)

        @app.post(
            "/api/commands",
            responses={
                200: {
                    "description": "Applied (ok says whether it did what was asked)",
                    "content": {"application/json": {"schema": CommandAnswer.model_json_schema()}},
                },
                202: {"description": "Queued, not yet applied by the node"},
                **_ERRORS,
                409: {"description": "Applied and refused by the node (the error says why)"},
            },
        )
        async def command(body: CommandRequest, request: Request) -> object:
            """Submit a command to the node; it is role-checked and audited there."""
            token, _ = self._token(request)
            # The node checks the role; here only that the caller is a live session (and CSRF).
            self._session(request, Permission.VIEW)
            try:
                kind = CommandKind(body.kind)
            except ValueError:
                raise HTTPException(422, f"this node does not take {body.kind!r}") from None
            cmd = Command(
                kind,
                token or "",
                body.target,
                effector=body.effector,
                camera=body.camera,
                reason=body.reason,
            )
            result = self.core.submit(cmd)
            deadline = time.monotonic() + COMMAND_WAIT_S
            while not result.applied and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            status = 200 if result.applied else 202
            if result.applied and not result.ok:
                status = 403 if "may not" in result.error else 409
            return JSONResponse(_result(result), status_code=status)

        @app.get("/api/recording", response_model=RecordingAnswer, responses=_ERRORS)
        def recording(who: Viewer) -> dict[str, object]:
            """Where this run is recorded and how the store keeps up (null: not recorded)."""
            rec = self.core.recorder
            if rec is None:
                return {"path": None}
            out: dict[str, object] = {"path": str(getattr(rec, "path", ""))}
            stats = getattr(rec, "stats", None)
            if callable(stats):
                out["store"] = stats()
            return out

        @app.get("/api/operators", response_model=list[OperatorAnswer], responses=_ERRORS)
        def operators(request: Request) -> object:
            """The accounts: name, role, disabled (administrators only; never a hash)."""
            self._session(request, Permission.MANAGE_OPERATORS)
            return [
                {"username": a.username, "role": a.role, "disabled": a.disabled}
                for a in self.authority.accounts
            ]

        @app.post(
            "/api/operators/{username}/disable",
            response_model=DisabledAnswer,
            responses={**_ERRORS, 404: {"description": "No such operator"}},
        )
        def disable(username: str, request: Request) -> dict[str, object]:
            """Disable an account at once (its sessions end); audited with who did it."""
            admin = self._session(request, Permission.MANAGE_OPERATORS)
            try:
                self.authority.disable(username, self.clock.now(), by=admin.username)
            except ValueError:
                raise HTTPException(404, f"no operator {username!r}") from None
            if self.accounts_file is not None:
                from luchtwacht.counter.authority import save_accounts

                save_accounts(self.accounts_file, self.authority.accounts)
            return {"username": username, "disabled": True}

        # Replay of recordings, read-only: the node's own and the site's folder.
        app.include_router(replay_router(self.viewer, self.recordings))

        @app.websocket("/api/stream")
        async def stream(ws: WebSocket) -> None:
            """The picture, one JSON message per node cycle; a slow client is dropped."""
            await self._stream(ws)

        return app

    def _latest(self) -> PictureUpdate:
        latest = self.latest
        if latest is None:
            raise HTTPException(503, say("web.no_picture"))
        return latest

    async def _stream(self, ws: WebSocket) -> None:
        origin = ws.headers.get("origin")
        host = ws.headers.get("host", "")
        if origin is not None and origin.split("://", 1)[-1] != host:
            await ws.close(code=1008, reason="cross-site WebSocket refused")
            return
        token, _ = self._token(ws)
        try:
            session = self.authority.check(token or "", Permission.VIEW, self.clock.now())
        except AuthError:
            await ws.close(code=1008, reason="log in first")
            return
        if len(self.clients) >= MAX_CLIENTS:
            await ws.close(code=1013, reason="too many console clients")
            return
        period_s = _period_of(ws.query_params.get("rate"))
        if period_s is None:  # accepted first, so the client reads why (not a bare 403)
            await ws.accept()
            await ws.close(
                code=1008, reason=f"rate must be {MIN_RATE_HZ:g} to {MAX_RATE_HZ:g} pictures/s"
            )
            return
        await ws.accept()
        client = _Client(ws, session.username, period_s)
        self.clients.add(client)
        reader = asyncio.create_task(self._listen(client))
        checked = time.monotonic()
        try:
            if self.frame is not None:
                await self._send(client, self.frame)
            # A client that asked for a lower rate (a tablet on a thin radio link) gets the
            # newest picture once per period; the ones between are skipped, never queued, so
            # it is never dropped for the node's pace. Its next message is then whole.
            pending: _Frame | None = None
            due = time.monotonic()
            while not client.dropped_reason and not reader.done():
                if time.monotonic() - checked > RECHECK_S:  # a disabled account stops at once
                    checked = time.monotonic()
                    try:
                        self.authority.check(token or "", Permission.VIEW, self.clock.now())
                    except AuthError:
                        self._drop(client, "session ended")
                        break
                wait_s = 1.0 if pending is None else max(due - time.monotonic(), 0.0)
                getter = asyncio.ensure_future(client.queue.get())
                done, _ = await asyncio.wait({getter}, timeout=wait_s)
                if done:
                    pending = getter.result()
                    while not client.queue.empty():
                        pending = client.queue.get_nowait()
                else:
                    getter.cancel()
                if pending is not None and time.monotonic() >= due:
                    await self._send(client, pending)
                    pending = None
                    due = time.monotonic() + client.period_s
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            pass
        finally:
            reader.cancel()
            self.clients.discard(client)
            if client.dropped_reason and ws.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await ws.close(code=1013, reason=client.dropped_reason[:120])

    async def _send(self, client: _Client, frame: _Frame) -> None:
        """Send a frame as a delta if the client holds its base, else whole; drop if too slow."""
        if client.sent_seq is not None and frame.seq <= client.sent_seq:
            return  # already sent (the whole picture a new client started with)
        if client.sent_seq is not None and frame.base_seq == client.sent_seq:
            text = frame.delta
        else:
            text = frame.whole_text()
        try:
            await asyncio.wait_for(client.ws.send_text(text), SEND_TIMEOUT_S)
        except TimeoutError:
            self._drop(client, "too slow: a send timed out")
            return
        client.sent_seq = frame.seq

    async def _listen(self, client: _Client) -> None:
        """Read what a client sends (it has nothing to say) so it cannot pile up unread."""
        n = 0
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, ConnectionError):
            while True:
                await client.ws.receive()
                n += 1
                if n > CLIENT_MESSAGES:
                    self._drop(client, "the client sends messages: it only listens")
                    return


def _period_of(rate: str | None) -> float | None:
    """The least time between two pictures for a client's ``?rate=`` (None: a bad rate)."""
    if rate is None:
        return 0.0
    try:
        hz = float(rate)
    except ValueError:
        return None
    if not MIN_RATE_HZ <= hz <= MAX_RATE_HZ:  # also refuses nan
        return None
    return 1.0 / hz


class NodeTime:
    """The node core's own time (its last tick), for a console of a simulated node.

    The demo runs on simulated time; sessions expire and commands are stamped on it.
    """

    def __init__(self, core: NodeCore) -> None:
        self.core = core

    def now(self) -> float:
        """The node's time now: its last tick (UTC seconds)."""
        return self.core.now_s

    async def sleep_until(self, t_s: float) -> None:
        """Not for waiting on: the node's time moves only as the simulation runs."""
        raise NotImplementedError("the console never sleeps on node time")


def _result(result: CommandResult) -> dict[str, object]:
    out: dict[str, object] = {
        "kind": str(result.command.kind),
        "target": result.command.target,
        "applied": result.applied,
        "ok": result.ok,
        "operator": result.operator,
        "error": result.error,
    }
    if result.status is not None:
        out["status"] = str(result.status)
    if result.eng_id is not None:
        out["eng_id"] = result.eng_id
    if result.approval is not None:
        out["approval"] = jsonable(result.approval)
    return out


def _zones_json(zones: Iterable[ZoneGeometry]) -> list[dict[str, object]]:
    return [
        {
            "name": z.zone.name,
            "polygon": [list(v) for v in z.zone.vertices_deg],
            "floor_m": z.zone.floor_m,
            "ceiling_m": z.zone.ceiling_m,
        }
        for z in zones
    ]


def _site_of(
    core: NodeCore, zones: list[dict[str, object]], radars: list[dict[str, object]], basemap: bool
) -> dict[str, object]:
    """The site as the console draws it: static for the run (``GET /api/site``)."""
    origin = core.origin
    effectors: list[dict[str, object]] = []
    no_fire: list[dict[str, object]] = []
    counter = core.counter
    if counter is not None:
        for e in counter.effectors:
            lat, lon, alt = (float(v) for v in origin.to_geodetic(e.enu_m))
            effectors.append(
                {
                    "name": e.name,
                    "kind": str(e.kind),
                    "node_id": e.node_id,
                    "lat_deg": lat,
                    "lon_deg": lon,
                    "alt_m": alt,
                    "max_range_m": e.max_range_m,
                    "min_range_m": e.min_range_m,
                    "beamwidth_deg": e.beamwidth_deg,
                }
            )
        no_fire = _zones_json(counter.no_fire)
    return {
        "name": core.name,
        "lat_deg": origin.lat_deg,
        "lon_deg": origin.lon_deg,
        "alt_m": origin.alt_m,
        "zones": zones,
        "no_fire": no_fire,
        "effectors": effectors,
        "radars": radars,
        "basemap": "/api/basemap.pmtiles" if basemap else None,
        "two_person": sorted(str(k) for k in core.approvals.kinds),
        "confirm_window_s": core.approvals.window_s,
    }


class ConsoleServer:
    """The console on its own thread and event loop (uvicorn), until :meth:`stop`."""

    def __init__(
        self,
        console: Console,
        sock: socket.socket,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.console = console
        self.sock = sock
        config = uvicorn.Config(
            console.app,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
            ws_max_size=64 * 1024,
            limit_concurrency=256,
            timeout_keep_alive=10,
            access_log=False,
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="console", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        host, port = sock.getsockname()[:2]
        self.url = f"{'https' if tls else 'http'}://{host}:{port}/"

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        pump = asyncio.create_task(self.console.pump())
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    def start(self) -> None:
        """Serve in the background; returns at once."""
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close the clients and the listener; wait for the thread."""
        self.server.should_exit = True
        self.console.subscription.close()
        self._thread.join(timeout_s)
        self.console.core.unsubscribe(self.console.subscription)
