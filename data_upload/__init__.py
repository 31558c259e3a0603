"""The data layer: public intrusion-detection data sets -> validated party tables + manifest.

Modules, one job each: ``schema`` (column layouts), ``taxonomy`` (attack names -> classes),
``lines`` (line-number diagnostics), ``loaders`` (reading and checking files), ``config``
(conf/data.yaml), ``sources`` (finding files), ``stratify`` (seeded stratified assignment),
``partition`` (protocols and party splits), ``preprocess`` (per-party preprocessing),
``manifest`` (manifest.json), ``prepare`` (the whole run), ``cli`` (`fedids data ...`).
Every check raises ``errors.DataError`` naming file and line/column or key.
"""
