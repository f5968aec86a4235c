"""Fetch a layer's bytes from a URL or a local file, within firm limits.

A URL is fetched with ``requests``: connect and read timeouts, an overall deadline that
also stops a server dripping bytes slowly, a size cap applied to the *decoded* body (so a
gzip bomb stops at the cap), conditional headers (ETag / Last-Modified) and a
User-Agent naming the project. A path (or ``file://`` URL) is read from disk under the
same size cap.

A byte range (``byte_range=(first, last)``, inclusive) asks for part of a file: one HTTP
Range request answered ``206 Partial Content`` with exactly those bytes (its
Content-Range and length are checked; a server that ignores the Range and answers 200
is an error, never a 130 MB download), or those bytes of a local file.

Redirects are followed by hand (at most :data:`MAX_REDIRECTS`), each hop checked before it
is asked (:func:`check_redirect`): https only (plain http only when the configured source
is itself http on a local address or a ``localhost`` / ``.test`` name), and to a public
address only: never to loopback, private, link-local (the cloud metadata service at
169.254.169.254) or reserved addresses, unless the configured source is itself at such an
address (a local mirror, the tests' fake NASA server). The configured source is the
operator's choice and is not checked.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import requests

from dashboard import __version__
from dashboard.data.schema import source_label
from dashboard.settings import Settings

USER_AGENT = f"PerseveranceTracker/{__version__} (Mars 2020 rover dashboard) python-requests/{requests.__version__}"
_CHUNK = 64 * 1024
#: redirects followed for one request, each hop checked (:func:`check_redirect`)
MAX_REDIRECTS = 5
_LOCAL_NAMES = ("localhost",)
_LOCAL_SUFFIXES = (".localhost", ".test")


class FetchError(Exception):
    """A source could not be fetched. The message names the source (by its
    :func:`~dashboard.data.schema.source_label`) and the problem."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source_label(source)}: {problem}")
        self.source = source
        self.problem = problem


@dataclass(frozen=True)
class Fetched:
    source: str
    #: The body, or None when the server answered 304 Not Modified.
    body: bytes | None
    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None
    fetched_at: float = 0.0
    seconds: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.body is None

    def record(self, size: int) -> dict:
        """What a layer's metadata keeps of this fetch: its validators (for the next
        conditional GET), hash, ``size`` in bytes and when it was fetched (and checked)."""
        return {
            "etag": self.etag,
            "last_modified": self.last_modified,
            "sha256": self.sha256,
            "bytes": size,
            "fetched_at": iso(self.fetched_at),
            "checked_at": iso(self.fetched_at),
        }


def is_url(source: str) -> bool:
    return urlparse(source).scheme.lower() in ("http", "https")


def fetch(
    source: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    connect_timeout: float = Settings.connect_timeout,
    read_timeout: float = Settings.read_timeout,
    deadline: float = Settings.fetch_deadline,
    max_bytes: int = Settings.max_bytes,
    session: requests.Session | None = None,
    byte_range: tuple[int, int] | None = None,
) -> Fetched:
    """Return the bytes of ``source`` (URL or path); raise :class:`FetchError` otherwise.

    ``etag``/``last_modified`` are the validators of the copy we already hold; a server
    that honours them answers 304 and ``Fetched.body`` is None. ``byte_range``: only the
    bytes ``first..last`` (inclusive) of the source.
    """
    started = time.monotonic()
    if not source or not source.strip():
        raise FetchError(repr(source), "no source given (empty URL or path)")
    limits = {"connect_timeout": connect_timeout, "read_timeout": read_timeout, "deadline": deadline}
    if byte_range is not None:
        body, new_etag, new_lm = _fetch_range(
            source, byte_range, etag=etag, last_modified=last_modified, max_bytes=max_bytes, session=session, **limits
        )
    elif is_url(source):
        body, headers = _fetch_url(
            source,
            etag=etag,
            last_modified=last_modified,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            deadline=deadline,
            max_bytes=max_bytes,
            session=session,
        )
        new_etag = headers.get("ETag")
        new_lm = headers.get("Last-Modified")
        if body is None:  # 304: the validators we sent are still the right ones
            new_etag = new_etag or etag
            new_lm = new_lm or last_modified
    else:
        body = _read_file(source, max_bytes)
        new_etag = new_lm = None
    return Fetched(
        source=source,
        body=body,
        etag=new_etag,
        last_modified=new_lm,
        sha256=hashlib.sha256(body).hexdigest() if body is not None else None,
        fetched_at=time.time(),
        seconds=time.monotonic() - started,
    )


def _local_path(source: str) -> Path:
    parsed = urlparse(source)
    if parsed.scheme.lower() == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # a one-letter scheme is a Windows drive
        raise FetchError(source, f"unsupported URL scheme {parsed.scheme!r} (use http, https or a file path)")
    return Path(source).expanduser()


def _read_file(source: str, max_bytes: int, byte_range: tuple[int, int] | None = None) -> bytes:
    path = _local_path(source)
    first, last = byte_range if byte_range is not None else (0, max_bytes)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise FetchError(source, "not a regular file")
        if byte_range is None and size > max_bytes:
            raise FetchError(source, f"file is {size:,} bytes, over the {max_bytes:,}-byte cap")
        if byte_range is not None and last >= size:
            raise FetchError(source, f"file is {size:,} bytes: it has no bytes {first:,}-{last:,}")
        with path.open("rb") as fh:
            fh.seek(first)
            body = fh.read(last - first + 1 if byte_range is not None else max_bytes + 1)
    except FileNotFoundError:
        raise FetchError(source, "no such file") from None
    except PermissionError:
        raise FetchError(source, "permission denied") from None
    except IsADirectoryError:
        raise FetchError(source, "is a directory, not a file") from None
    except OSError as exc:
        raise FetchError(source, f"cannot read file: {exc.strerror or exc}") from None
    if len(body) > max_bytes:
        raise FetchError(source, f"file is over the {max_bytes:,}-byte cap")
    return body


def _fetch_url(
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    connect_timeout: float,
    read_timeout: float,
    deadline: float,
    max_bytes: int,
    session: requests.Session | None,
) -> tuple[bytes | None, requests.structures.CaseInsensitiveDict]:
    end = time.monotonic() + deadline
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/geo+json, application/json;q=0.9, */*;q=0.1",
        "Accept-Encoding": "gzip, deflate",
        **_validators(etag, last_modified),
    }
    resp = _request(url, headers, connect_timeout, read_timeout, deadline, session)
    with resp:
        if resp.status_code == 304:
            return None, resp.headers
        if resp.status_code != 200:
            reason = resp.reason or ""
            raise FetchError(url, f"HTTP {resp.status_code} {reason}".rstrip())
        declared = resp.headers.get("Content-Length")
        encoded = resp.headers.get("Content-Encoding", "identity").lower() != "identity"
        if declared and declared.isdigit() and not encoded and int(declared) > max_bytes:
            raise FetchError(url, f"body is {int(declared):,} bytes, over the {max_bytes:,}-byte cap")
        return _read_body(resp, url, end, deadline, read_timeout, max_bytes), resp.headers


def _validators(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _request(
    url: str,
    headers: dict[str, str],
    connect_timeout: float,
    read_timeout: float,
    deadline: float,
    session: requests.Session | None,
) -> requests.Response:
    """The streamed answer to a GET of ``url``; FetchError in words when there is none."""
    http = session or requests
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        resp = _get(http, url, current, headers, connect_timeout, read_timeout, deadline)
        if not resp.is_redirect:
            return resp
        location = urljoin(current, resp.headers["Location"])
        resp.close()
        check_redirect(url, location)
        current = location
    raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")


def _get(http, source: str, url: str, headers, connect_timeout: float, read_timeout: float, deadline: float):
    try:
        return http.get(
            url,
            headers=headers,
            stream=True,
            timeout=(min(connect_timeout, deadline), min(read_timeout, deadline)),
            allow_redirects=False,
        )
    except requests.exceptions.ConnectTimeout:
        raise FetchError(source, f"could not connect within {connect_timeout:g} s") from None
    except requests.exceptions.ReadTimeout:
        raise FetchError(source, f"no answer within {read_timeout:g} s") from None
    except requests.exceptions.SSLError as exc:
        raise FetchError(source, f"TLS error: {_short(exc)}") from None
    except requests.exceptions.ConnectionError as exc:
        raise FetchError(source, f"cannot connect: {_short(exc)}") from None
    except requests.exceptions.RequestException as exc:
        raise FetchError(source, f"request failed: {_short(exc)}") from None


#: the well-known NAT64 prefix (RFC 6052): its last 32 bits are an IPv4 address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _kinds(host: str) -> set[str] | None:
    """What the addresses of ``host`` are ("public", "loopback", "link-local", "private"),
    or None when it does not resolve."""
    try:
        found = {ipaddress.ip_address(host.strip("[]"))}
    except ValueError:
        try:
            found = {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in socket.getaddrinfo(host, None)}
        except (OSError, UnicodeError, ValueError):
            return None
    kinds = set()
    for ip in found:
        if isinstance(ip, ipaddress.IPv6Address):
            # an IPv4 address inside an IPv6 one (mapped, 6to4, NAT64's 64:ff9b::/96) is
            # judged as that IPv4 address: 64:ff9b::a9fe:a9fe counts as "global" otherwise
            embedded = ip.ipv4_mapped or ip.sixtofour
            if embedded is None and ip in NAT64:
                embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            ip = embedded or ip
        if ip.is_loopback:
            kinds.add("loopback")
        elif ip.is_link_local:
            kinds.add("link-local")
        elif ip.is_global:
            kinds.add("public")
        else:
            kinds.add("private")  # RFC 1918, unique-local, CGNAT, reserved, unspecified...
    return kinds


def check_redirect(source: str, location: str) -> None:
    """Refuse (FetchError, in words) a redirect of ``source`` (the configured URL) to
    ``location``: a scheme other than https (http only when ``source`` is itself http on a
    local host), or an address that is not public, unless ``source``'s own address is of
    that kind. (Between this check and the connection the name is resolved again: a DNS
    server that changes its answer in between is not caught here.)"""
    src, hop = urlparse(source), urlparse(location)
    src_host, host = (src.hostname or "").lower(), (hop.hostname or "").lower()
    if not host:
        raise FetchError(source, f"redirect to {location[:200]!r} refused: no host")
    src_kinds = _kinds(src_host) or {"public"}
    src_local = "public" not in src_kinds or src_host in _LOCAL_NAMES or src_host.endswith(_LOCAL_SUFFIXES)
    kinds = _kinds(host)
    if kinds is None:
        raise FetchError(source, f"redirect to {location[:200]} refused: {host} does not resolve")
    for kind in sorted(kinds - {"public"}):
        if kind not in src_kinds:
            raise FetchError(
                source, f"redirect to {location[:200]} refused: {host} is a {kind} address, not a public one"
            )
    scheme = hop.scheme.lower()
    if scheme != "https" and not (scheme == "http" and src.scheme.lower() == "http" and src_local):
        raise FetchError(source, f"redirect to {location[:200]} refused: only https may be followed")


def _fetch_range(
    source: str,
    byte_range: tuple[int, int],
    *,
    etag: str | None,
    last_modified: str | None,
    connect_timeout: float,
    read_timeout: float,
    deadline: float,
    max_bytes: int,
    session: requests.Session | None,
) -> tuple[bytes | None, str | None, str | None]:
    """Bytes ``first..last`` of ``source`` (None: not modified) and the validators."""
    first, last = byte_range
    if first < 0 or last < first:
        raise FetchError(source, f"bad byte range {first}-{last}")
    expected = last - first + 1
    if expected > max_bytes:
        raise FetchError(source, f"a range of {expected:,} bytes is over the {max_bytes:,}-byte cap")
    if not is_url(source):
        return _read_file(source, max_bytes, byte_range), None, None
    end = time.monotonic() + deadline
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "*/*",
        "Accept-Encoding": "identity",  # byte positions are of the file itself, never of a compressed copy
        "Range": f"bytes={first}-{last}",
        **_validators(etag, last_modified),
    }
    resp = _request(source, headers, connect_timeout, read_timeout, deadline, session)
    with resp:
        if resp.status_code == 304:
            return None, resp.headers.get("ETag") or etag, resp.headers.get("Last-Modified") or last_modified
        if resp.status_code == 200:
            raise FetchError(source, "the server ignored the Range request (answered 200 with the whole file)")
        if resp.status_code != 206:
            raise FetchError(source, f"HTTP {resp.status_code} {resp.reason or ''}".rstrip())
        answered = resp.headers.get("Content-Range", "")
        if not answered.startswith(f"bytes {first}-{last}/"):
            raise FetchError(source, f"asked for bytes {first}-{last}, got Content-Range {answered[:60]!r}")
        body = _read_body(resp, source, end, deadline, read_timeout, expected)
        if len(body) != expected:
            raise FetchError(source, f"range answer is {len(body):,} bytes, expected {expected:,}")
        return body, resp.headers.get("ETag"), resp.headers.get("Last-Modified")


def _read_body(resp, url: str, end: float, deadline: float, read_timeout: float, max_bytes: int) -> bytes:
    """Read the decoded body in small pieces, checking the deadline and the cap as we go."""
    raw = resp.raw  # urllib3 response; read1 returns after one socket read
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    parts: list[bytes] = []
    total = 0
    try:
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise FetchError(url, f"download did not finish within the {deadline:g} s deadline")
            if sock is not None:
                # Each socket read may wait no longer than the time left before the deadline.
                sock.settimeout(max(0.05, min(read_timeout, remaining)))
            chunk = raw.read1(_CHUNK, decode_content=True)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise FetchError(url, f"body is over the {max_bytes:,}-byte cap")
            parts.append(chunk)
    except FetchError:
        raise
    except TimeoutError:
        if time.monotonic() >= end:
            raise FetchError(url, f"download did not finish within the {deadline:g} s deadline") from None
        raise FetchError(url, f"no data for {read_timeout:g} s") from None
    except Exception as exc:  # urllib3 protocol/decode errors, reset connections, ...
        name = type(exc).__name__
        if "Timeout" in name:
            if time.monotonic() >= end:
                raise FetchError(url, f"download did not finish within the {deadline:g} s deadline") from None
            raise FetchError(url, f"no data for {read_timeout:g} s") from None
        raise FetchError(url, f"download failed: {_short(exc)}") from None
    return b"".join(parts)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def iso(ts: float) -> str:
    """A Unix time as ISO 8601 UTC to the second (``2024-05-01T12:00:00Z``)."""
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def fetch_layer(
    source: str, prev: dict | None, settings: Settings, byte_range: tuple[int, int] | None = None
) -> Fetched:
    """Fetch one layer (or ``byte_range`` of it) within the settings' limits; conditional on
    ``prev``'s validators (the stored copy's metadata) when given."""
    return fetch(
        source,
        byte_range=byte_range,
        etag=prev.get("etag") if prev else None,
        last_modified=prev.get("last_modified") if prev else None,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        deadline=settings.fetch_deadline,
        max_bytes=settings.max_bytes,
    )
