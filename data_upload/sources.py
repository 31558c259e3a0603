"""Find a data set's files under a data directory, by the names conf/data.yaml lists.

Users keep data sets in different places: the files directly in --data-dir, or in a
sub-folder per data set (../shared/datasets/nsl-kdd/). Both are searched, plain and .gz. A file
that is not found is reported with every place that was searched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Union

from data_upload.config import DatasetSettings
from data_upload.errors import DataError
from data_upload.schema import schema_for

PathLike = Union[str, Path]
FOLDER_DATASETS = ("cic-ids2017", "cse-cic-ids2018")  # one CSV per capture day


@dataclass(frozen=True)
class SourceFiles:
    """The inputs of one preparation: a training source and, for the official protocol, a test source."""

    train: Path
    test: Optional[Path] = None


def search_dirs(data_dir: Path, settings: DatasetSettings) -> List[Path]:
    """--data-dir itself, then its sub-folders named in the data set's ``folders``."""
    return [data_dir] + [data_dir / name for name in settings.folders]


def _find_file(names: Sequence[str], dirs: Sequence[Path]) -> Optional[Path]:
    for name in names:
        for folder in dirs:
            for candidate in (folder / name, folder / f"{name}.gz"):
                if candidate.is_file():
                    return candidate
    return None


def _has_csv(folder: Path) -> bool:
    return folder.is_dir() and (any(folder.glob("*.csv")) or any(folder.glob("*.csv.gz")))


def _explicit(path: PathLike, dirs: Sequence[Path], what: str) -> Path:
    """A --train-file/--test-file value: a path, or a name looked up like the configured names."""
    given = Path(path)
    if given.exists():
        return given
    found = _find_file([str(given)], dirs) if not given.is_absolute() else None
    if found is None:
        raise DataError(
            f"{what} not found (also looked in {', '.join(str(d) for d in dirs)})",
            file=given,
            hint="give an existing path, or a file name inside --data-dir",
        )
    return found


def locate_sources(
    settings: DatasetSettings,
    data_dir: PathLike,
    protocol: str,
    train_file: Optional[PathLike] = None,
    test_file: Optional[PathLike] = None,
) -> SourceFiles:
    """The files a protocol reads: official -> train and test; split/paper -> the training source only."""
    data_dir = Path(data_dir)
    title = schema_for(settings.dataset).title
    if not data_dir.is_dir():
        raise DataError(
            "data directory not found", file=data_dir, hint=f"give the folder that holds the {title} files"
        )
    dirs = search_dirs(data_dir, settings)
    shown_dirs = ", ".join(str(d) for d in dirs)
    if test_file is not None and protocol != "official":
        raise DataError(
            f"a test file is only read by --protocol official (protocol '{protocol}' splits the training data)",
            hint="drop --test-file or use --protocol official",
        )

    if settings.dataset in FOLDER_DATASETS:
        if train_file is not None:
            train = _explicit(train_file, dirs, "training data")
        else:
            folder = next((d for d in dirs if _has_csv(d)), None)
            if folder is None:
                raise DataError(
                    f"no {title} CSV files in {shown_dirs}",
                    file=data_dir,
                    hint=f"put the per-day {title} CSVs in one folder and give it as --data-dir",
                )
            train = folder
        if protocol == "official" and test_file is None:
            raise DataError(
                f"{title} has no official train/test split",
                file=data_dir,
                hint="use --protocol split (stratified 80/20) or --protocol paper, or give your own "
                "--train-file and --test-file (files or folders of day CSVs)",
            )
        return SourceFiles(train, _explicit(test_file, dirs, "test data") if test_file is not None else None)

    if train_file is not None:
        train = _explicit(train_file, dirs, "training file")
    else:
        found = _find_file(settings.official_train, dirs)
        if found is None:
            names = ", ".join(f"{n}[.gz]" for n in settings.official_train)
            raise DataError(
                f"no {title} training file: looked for {names} in {shown_dirs}",
                file=data_dir,
                hint=f"download {title} there, or give the file with --train-file",
            )
        train = found
    if protocol != "official":
        return SourceFiles(train)
    if test_file is not None:
        return SourceFiles(train, _explicit(test_file, dirs, "test file"))
    test = _find_file(settings.official_test, dirs)
    if test is None:
        names = ", ".join(f"{n}[.gz]" for n in settings.official_test) or "(none configured)"
        raise DataError(
            f"protocol 'official' needs the {title} test file, which is not here: looked for {names} "
            f"in {shown_dirs} (this folder has only the training file {train.name})",
            file=data_dir,
            hint="use --protocol split for a stratified 80/20 split of the training file, "
            "or give the test file with --test-file",
        )
    return SourceFiles(train, test)
