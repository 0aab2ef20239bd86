"""Opt-in downloads that verify a SHA-256 checksum before a file is used.

Nothing in ``bpkit`` touches the network unless a caller asks for it. A download is
streamed to a temporary file next to its destination and only renamed into place
once its checksum matches, so an interrupted or corrupted transfer never leaves a
file that looks complete.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tarfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from bpkit import _validate

CHUNK_BYTES = 1 << 20


def sha256sum(path: str | os.PathLike) -> str:
    """Return the SHA-256 hex digest of the file at ``path``, read in chunks."""
    _validate.path("path", path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha256(sha256: object) -> str:
    if not isinstance(sha256, str):
        raise TypeError(f"sha256: expected a 64-character hex string, got {sha256!r}")
    value = sha256.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(f"sha256: expected a 64-character hex string, got {sha256!r}")
    return value


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str,
    progress: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` to ``dest`` and verify its SHA-256 checksum.

    If ``dest`` already exists with the right checksum nothing is fetched. Otherwise
    the body is streamed to a temporary file in the same directory, hashed on the way,
    and renamed to ``dest`` only when the checksum matches.

    Parameters
    ----------
    url : str
        Any URL that ``urllib`` opens: ``https://``, ``http://`` or ``file://``.
    dest : str or path-like
        Where the file goes; missing parent directories are created.
    sha256 : str
        Expected SHA-256 of the file as 64 hex digits. It is required on purpose:
        a download is only as trustworthy as the checksum it is compared with.
    progress : bool, default False
        Show a progress bar (``tqdm``) while streaming.
    timeout : float, default 60.0
        Seconds to wait for the server before giving up.

    Returns
    -------
    pathlib.Path
        The verified file, ``dest``.

    Raises
    ------
    ValueError
        The downloaded bytes do not match ``sha256``; the message gives the expected
        and the actual digest, and no file is left behind.
    OSError
        The URL could not be fetched (``urllib.error.URLError`` is an ``OSError``).
    """
    if not isinstance(url, str):
        raise TypeError(f"url: expected a str, got {_validate.describe(url)}")
    dest = Path(_validate.path("dest", dest))
    expected = _check_sha256(sha256)
    _validate.boolean("progress", progress)
    _validate.number("timeout", timeout, 0, low_open=True)
    if dest.is_file() and sha256sum(dest) == expected:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    # A unique sibling opened with "x" (never overwrites) rather than mkstemp, whose
    # 0600 mode would stick to the final file instead of the user's umask.
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        digest = hashlib.sha256()
        with (
            urllib.request.urlopen(url, timeout=timeout) as resp,
            open(tmp, "xb") as out,
            tqdm(
                total=_content_length(resp),
                unit="B",
                unit_scale=True,
                desc=dest.name,
                disable=not progress,
            ) as bar,
        ):
            for chunk in iter(lambda: resp.read(CHUNK_BYTES), b""):
                digest.update(chunk)
                out.write(chunk)
                bar.update(len(chunk))
        got = digest.hexdigest()
        if got != expected:
            raise ValueError(
                f"{url}: SHA-256 mismatch, expected {expected}, got {got}; "
                f"the download was discarded and {dest} was not written"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _content_length(resp) -> int | None:
    size = getattr(resp, "headers", {}).get("Content-Length")
    return int(size) if size and size.isdigit() else None


def download_first(
    urls: Sequence[str], dest: str | os.PathLike, sha256: str, progress: bool = False
) -> Path:
    """Like :func:`download`, trying mirrors in order until one answers.

    Only network failures move on to the next mirror; a checksum mismatch is raised
    at once, because a mirror serving different bytes is worth knowing about.
    """
    failures = []
    for url in urls:
        try:
            return download(url, dest, sha256, progress=progress)
        except OSError as err:
            failures.append(f"{url}: {err}")
    raise OSError(f"could not fetch {Path(dest).name} from any mirror:\n" + "\n".join(failures))


def extract_tar(archive: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Extract a tar archive into ``dest``, refusing members that would land outside it.

    Raises
    ------
    ValueError
        A member has an absolute path, climbs out with ``..``, or links outside ``dest``.
    """
    dest = Path(dest).resolve()
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            try:
                tar.extractall(dest, filter="data")
            except tarfile.FilterError as err:
                raise ValueError(f"{archive}: refusing to extract unsafe member ({err})") from err
            return
        # Older Pythons lack extraction filters: allow only plain files and folders
        # whose resolved path stays inside dest.
        for member in tar.getmembers():
            target = (dest / member.name).resolve()
            if not (member.isfile() or member.isdir()) or dest not in (target, *target.parents):
                raise ValueError(f"{archive}: refusing to extract unsafe member {member.name!r}")
        tar.extractall(dest)
