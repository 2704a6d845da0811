"""Tables from the native module to pandas through Arrow (no text round trip)."""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np
import pandas as pd
import pyarrow as pa

_DTYPES = {"float64": "<f8", "int64": "<i8", "bool": "?"}


def to_arrow(cols: List[Tuple[str, str, Any, Optional[bytes]]]) -> pa.Table:
    """Columns as sent by the native module: (name, type, data, null mask)."""
    arrays, names = [], []
    for name, kind, data, nulls in cols:
        if kind == "string":
            arr = pa.array(data, type=pa.string())
        else:
            values = np.frombuffer(data, dtype=_DTYPES[kind])
            mask = None if nulls is None else np.frombuffer(nulls, dtype=bool)
            arr = pa.array(values, mask=mask)
        arrays.append(arr)
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


def to_frame(table: Tuple[str, list]) -> pd.DataFrame:
    return to_arrow(table[1]).to_pandas()
