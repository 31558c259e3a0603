"""Upload a prepared data set (its manifest.json) to FATE Flow under FedIDS's table names.

Naming convention (documented in docs/data.md):
    namespace  fedids_<dataset>                      e.g. fedids_nsl_kdd
    name       <layout>_<protocol>_<party>_<split>_<sha8>
               e.g. vertical_official_A_train_3f2a9c1d
where <sha8> is the first 8 hex digits of the table file's sha256. The same file always gets
the same name, so uploading it again is a no-op, and a changed file never overwrites the
table a trained model was built from.

After a complete upload, `fate_tables.json` beside the manifest records every table (party,
split, namespace, name, rows, FATE job id); pipelines read it. It is written only when every
table of the set is in FATE with the right row count.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional

from data_upload.errors import DataError
from data_upload.fate_upload import FlowTables, TableRef, TableUpload, UploadReport, table_meta, upload_tables
from data_upload.manifest import MANIFEST_NAME, load_manifest

TABLES_FILE = "fate_tables.json"


def table_ref(manifest: Dict[str, Any], party: str, split: str) -> TableRef:
    """The FATE table of one party's split, by FedIDS's naming convention."""
    info = manifest["parties"][party]["splits"][split]
    dataset = re.sub(r"[^a-z0-9]+", "_", str(manifest["dataset"]).lower()).strip("_")
    name = f"{manifest['layout']}_{manifest['protocol']}_{party}_{split}_{str(info['sha256'])[:8]}"
    return TableRef(f"fedids_{dataset}", name)


def manifest_uploads(
    manifest_path: Path, manifest: Dict[str, Any], parties: Optional[Iterable[str]] = None
) -> List[TableUpload]:
    """One TableUpload per party table; the label column is declared only where the table holds it."""
    all_parties: Dict[str, Any] = manifest["parties"]
    chosen = list(all_parties) if parties is None else list(parties)
    unknown = [p for p in chosen if p not in all_parties]
    if unknown:
        raise DataError(
            f"party {', '.join(unknown)} holds no table in this manifest",
            file=manifest_path,
            key="parties",
            hint=f"choose among the parties with data: {', '.join(all_parties)}",
        )
    uploads: List[TableUpload] = []
    for party in chosen:
        for split, info in all_parties[party]["splits"].items():
            has_label = manifest["label_column"] in info["columns"]
            weight = manifest.get("weight_column")
            uploads.append(
                TableUpload(
                    file=str(manifest_path.parent / info["file"]),
                    table=table_ref(manifest, party, split),
                    meta=table_meta(manifest["id_column"], manifest["label_column"] if has_label else None,
                                    weight if weight in info["columns"] else None),
                    expected_rows=int(info["rows"]),
                )
            )
    return uploads


def upload_manifest(
    manifest_path: Path,
    tables: FlowTables,
    parties: Optional[Iterable[str]] = None,
    force: bool = False,
    on_progress: Optional[Callable[[str], None]] = None,
) -> Dict[str, Any]:
    """Upload every table of the manifest (or of some parties), all or nothing; record them.

    The files are checked against the manifest's SHA-256 first: a table edited after
    `fedids data prepare` is refused rather than uploaded under a name that says otherwise.
    """
    manifest_path = Path(manifest_path)
    if manifest_path.is_dir():
        manifest_path = manifest_path / MANIFEST_NAME
    manifest = load_manifest(manifest_path, verify_files=True)
    uploads = manifest_uploads(manifest_path, manifest, parties)
    report: UploadReport = upload_tables(tables, uploads, force=force, on_progress=on_progress)
    record = _tables_record(manifest, uploads, report, manifest_path)
    _write_json_atomically(manifest_path.parent / TABLES_FILE, record)
    return record


def _tables_record(
    manifest: Dict[str, Any], uploads: List[TableUpload], report: UploadReport, manifest_path: Path
) -> Dict[str, Any]:
    existing_path = manifest_path.parent / TABLES_FILE
    record: Dict[str, Any] = {"manifest": manifest_path.name, "parties": {}}
    if existing_path.is_file():
        record = json.loads(existing_path.read_text(encoding="utf-8"))
    by_table = {str(u.table): u for u in uploads}
    for party, info in manifest["parties"].items():
        for split in info["splits"]:
            ref = table_ref(manifest, party, split)
            upload = by_table.get(str(ref))
            if upload is None:
                continue
            record.setdefault("parties", {}).setdefault(party, {})[split] = {
                "namespace": ref.namespace,
                "name": ref.name,
                "rows": upload.expected_rows,
                "job_id": report.job_ids.get(str(ref)),
            }
    return record


def _write_json_atomically(path: Path, content: Dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=str(path.parent))
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2)
    os.replace(tmp, path)
