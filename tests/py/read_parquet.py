#!/usr/bin/env python3
"""Reads Parquet files written by vtwin with pandas (pyarrow engine) and prints
each column's dtype, null count and the row count, to check compatibility.

Usage: python3 tests/py/read_parquet.py FILE.parquet [FILE.parquet ...]
Needs: pip install pandas pyarrow
Exits non-zero if a text column comes back as bytes instead of str.
"""
import sys

import pandas as pd
import pyarrow.parquet as pq


def check(path):
    df = pd.read_parquet(path)
    meta = pq.ParquetFile(path).metadata
    print(f"{path}: {len(df)} rows, {meta.num_row_groups} row group(s), "
          f"compression {meta.row_group(0).column(0).compression if meta.num_row_groups else '-'}")
    ok = True
    for name in df.columns:
        col = df[name]
        kinds = sorted({type(v).__name__ for v in col.dropna()})
        print(f"  {name:>8}: dtype={col.dtype!s:<8} nulls={int(col.isna().sum())} python types={kinds}")
        if "bytes" in kinds:
            ok = False
            print(f"  ERROR: column {name} reads as bytes, not text")
    if len(df) <= 20:
        print(df.to_string())
    return ok


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    results = [check(p) for p in sys.argv[1:]]
    sys.exit(0 if all(results) else 1)
