#!/usr/bin/env python3
"""Reads a vtwin cohort folder with pandas (pyarrow engine) and checks it
independently of vtwin's own readers:

- every table reads; text columns are str (not bytes), ids int64, flags bool;
- column types agree with data_dictionary.json;
- observations and outcomes refer only to patients of the patients table,
  outcomes hold one row per patient and arm;
- ro-crate-metadata.json lists every data file as a File entity whose sha256
  (recomputed here with hashlib) matches.

Usage: python3 tests/py/read_cohort.py COHORT_DIR
Needs: pip install pandas pyarrow
Prints "cohort ok: N patients" and exits 0 when every check passes.
"""
import hashlib
import json
import os
import sys

import pandas as pd

KINDS = {"int64": "i", "float64": "f", "bool": "b", "string": "O"}


def fail(msg):
    print("ERROR:", msg)
    sys.exit(1)


def main(d):
    ext = "parquet" if os.path.exists(os.path.join(d, "patients.parquet")) else "csv"
    read = pd.read_parquet if ext == "parquet" else pd.read_csv
    dictionary = json.load(open(os.path.join(d, "data_dictionary.json")))["columns"]
    tables = {}
    for name in ("patients", "observations", "outcomes"):
        path = os.path.join(d, f"{name}.{ext}")
        df = read(path) if ext == "csv" else pd.read_parquet(path, engine="pyarrow")
        tables[name] = df
        print(f"{name}: {len(df)} rows, columns {list(df.columns)}")
        for e in (e for e in dictionary if e["table"] == name):
            col = e["column"]
            if col not in df.columns:
                fail(f"{name}.{col} is in the dictionary but not in the file")
            s = df[col]
            values = s.dropna()
            if e["type"] == "string":
                kinds = {type(v).__name__ for v in values}
                if kinds - {"str"}:
                    fail(f"{name}.{col} reads as {kinds}, not str")
            elif ext == "parquet" and s.dtype.kind != KINDS[e["type"]]:
                fail(f"{name}.{col}: dtype {s.dtype} but dictionary says {e['type']}")
        extra = set(df.columns) - {e["column"] for e in dictionary if e["table"] == name}
        if extra:
            fail(f"{name}: undocumented columns {sorted(extra)}")
    p, o, u = tables["patients"], tables["observations"], tables["outcomes"]
    ids = set(p.patient_id)
    if not p.patient_id.is_unique:
        fail("patient ids repeat")
    if not set(o.patient_id) <= ids or not set(u.patient_id) <= ids:
        fail("observations or outcomes refer to unknown patients")
    arms = sorted(set(u.arm))
    if len(u) != len(p) * len(arms) or u.groupby(["patient_id", "arm"]).size().max() != 1:
        fail("outcomes do not hold one row per patient and arm")
    if not set(p.assigned_arm) <= set(arms):
        fail("an assigned arm is not a simulated arm")
    if (o.missing & o.value.notna()).any():
        fail("a missing measurement has a value")

    meta = json.load(open(os.path.join(d, "ro-crate-metadata.json")))
    graph = {e["@id"]: e for e in meta["@graph"]}
    action = next(e for e in meta["@graph"] if e["@type"] == "CreateAction")
    if graph[action["instrument"]["@id"]]["name"] != "vtwin":
        fail("the CreateAction's instrument is not vtwin")
    results = [r["@id"] for r in action["result"]]
    for f in [f"{t}.{ext}" for t in tables] + ["data_dictionary.json"]:
        if f not in results:
            fail(f"{f} is not a result of the CreateAction")
    for rid in results + [action["object"][0]["@id"]]:
        e = graph.get(rid)
        if e is None or e["@type"] != "File":
            fail(f"{rid} has no File entity")
        with open(os.path.join(d, rid), "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        if digest != e["sha256"]:
            fail(f"{rid}: sha256 {digest} != crate {e['sha256']}")
    print(f"cohort ok: {len(p)} patients, {len(arms)} arms, {len(o)} observations")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
