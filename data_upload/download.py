"""Download a public data set's files into a folder, each verified by SHA-256 (conf/downloads.yaml).

A file is written under a temporary name and renamed only after its hash matches, so a
broken or altered download never looks like data. Files already present with the right
hash are kept; present with another hash, they are refused (never silently replaced).
"""

from __future__ import annotations

import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

import yaml

from data_upload.errors import DataError
from data_upload.manifest import sha256_of

CHUNK = 1 << 20  # download block size


@dataclass(frozen=True)
class RemoteFile:
    file: str
    url: str
    sha256: str


def load_downloads(dataset: str, path: Optional[Path] = None) -> List[RemoteFile]:
    """The files of ``dataset`` in conf/downloads.yaml, validated (errors name the key)."""
    from fedids.paths import conf_dir

    path = Path(path) if path is not None else conf_dir() / "downloads.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    entries = (raw or {}).get("datasets", {}).get(dataset) if isinstance(raw, dict) else None
    if not entries:
        raise DataError(f"no download is configured for data set '{dataset}'", file=path, key=f"datasets.{dataset}",
                        hint="download the files yourself and give their folder with --data-dir")
    files = []
    for i, entry in enumerate(entries):
        key = f"datasets.{dataset}[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"file", "url", "sha256"}:
            raise DataError("needs exactly file, url and sha256", file=path, key=key)
        sha = str(entry["sha256"]).lower()
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise DataError("sha256 must be 64 hex digits", file=path, key=f"{key}.sha256")
        if Path(entry["file"]).name != entry["file"]:
            raise DataError("file must be a plain file name", file=path, key=f"{key}.file")
        files.append(RemoteFile(entry["file"], str(entry["url"]), sha))
    return files


def download_dataset(dataset: str, target: Path, config: Optional[Path] = None,
                     say: Callable[[str], None] = print, timeout: float = 60.0) -> List[Path]:
    """Fetch every configured file of ``dataset`` into ``target``; return their paths."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for remote in load_downloads(dataset, config):
        final = target / remote.file
        if final.is_file():
            if sha256_of(final) != remote.sha256:
                raise DataError(f"exists with a SHA-256 other than the published file's ({remote.sha256[:12]}...)",
                                file=final, hint="remove it to download it again, or use --data-dir for your copy")
            written.append(final)
            continue
        partial = final.with_name(final.name + ".partial")
        say(f"downloading {remote.url} -> {final}")
        try:
            with urllib.request.urlopen(remote.url, timeout=timeout) as response, open(partial, "wb") as out:
                shutil.copyfileobj(response, out, CHUNK)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise DataError(f"download failed: {exc}", file=remote.url,
                            hint="check the network, or download the file yourself and use --data-dir") from exc
        got = sha256_of(partial)
        if got != remote.sha256:
            partial.unlink(missing_ok=True)
            raise DataError(f"SHA-256 {got} is not the published file's {remote.sha256}; the download was deleted",
                            file=remote.url, hint="the mirror serves other bytes: fix `url` in conf/downloads.yaml")
        partial.replace(final)
        written.append(final)
    return written
