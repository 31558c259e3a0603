"""Downloads are verified by SHA-256 and never leave a wrong or partial file behind."""

from __future__ import annotations

import hashlib

import pytest

from data_upload.download import download_dataset, load_downloads
from data_upload.errors import DataError


def config(tmp_path, source, sha):
    path = tmp_path / "downloads.yaml"
    path.write_text(f"datasets:\n  nsl-kdd:\n    - file: KDDTest+.txt\n      url: {source.as_uri()}\n"
                    f"      sha256: '{sha}'\n")
    return path


def test_repository_downloads_cover_the_nsl_kdd_files():
    names = {f.file for f in load_downloads("nsl-kdd")}
    assert {"KDDTrain+.txt", "KDDTest+.txt", "KDDTrain+_20Percent.txt"} <= names


def test_download_with_the_published_hash_lands_and_is_kept_on_rerun(tmp_path):
    source = tmp_path / "mirror.txt"
    source.write_bytes(b"0,tcp,http,SF,1\n")
    cfg = config(tmp_path, source, hashlib.sha256(source.read_bytes()).hexdigest())
    [path] = download_dataset("nsl-kdd", tmp_path / "data", cfg, say=lambda _: None)
    assert path.read_bytes() == source.read_bytes()
    source.write_bytes(b"changed")  # already present with the right hash: not fetched again
    assert download_dataset("nsl-kdd", tmp_path / "data", cfg, say=lambda _: None) == [path]


def test_download_with_another_hash_is_refused_and_deleted(tmp_path):
    source = tmp_path / "mirror.txt"
    source.write_bytes(b"tampered")
    cfg = config(tmp_path, source, "0" * 64)
    with pytest.raises(DataError, match="is not the published file's"):
        download_dataset("nsl-kdd", tmp_path / "data", cfg, say=lambda _: None)
    assert list((tmp_path / "data").iterdir()) == []


def test_unconfigured_data_set_says_to_use_a_local_folder(tmp_path):
    with pytest.raises(DataError, match="--data-dir"):
        load_downloads("unsw-nb15", tmp_path / "none.yaml")
