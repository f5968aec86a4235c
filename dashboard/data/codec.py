"""The frame codec of the stored dataset: columnar JSON, missing values as null.

No pickle: what Redis holds is data, never code. ``columns`` maps each column to its dtype
(:mod:`.schema`); a column missing from an older stored version decodes as all missing.
Dates (``datetime64[s]``) are stored as whole seconds since 1970 (null: NaT).
"""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd

__all__ = ["decode_frame", "encode_frame"]


def encode_frame(frame: pd.DataFrame, columns: dict[str, str]) -> bytes:
    data = {}
    for name, dtype in columns.items():
        col = frame[name]
        if dtype in ("float64", "int64", "bool"):
            data[name] = col.to_numpy(dtype=dtype)
        elif dtype == "datetime64[s]":
            seconds = col.to_numpy(dtype="datetime64[s]")
            gone = np.isnat(seconds).tolist()
            data[name] = [None if g else v for v, g in zip(seconds.astype("int64").tolist(), gone, strict=True)]
        else:  # str, Int64: lists with None for missing
            data[name] = [None if pd.isna(v) else v for v in col.tolist()]
    return orjson.dumps({"rows": len(frame), "columns": data}, option=orjson.OPT_SERIALIZE_NUMPY)


def decode_frame(raw: bytes, columns: dict[str, str]) -> pd.DataFrame:
    doc = orjson.loads(raw)
    data = doc["columns"]
    out = {}
    for name, dtype in columns.items():
        values = data.get(name, [None] * doc["rows"])
        if dtype == "float64":
            out[name] = np.array(values, dtype=np.float64)  # None -> NaN
        elif dtype in ("int64", "bool"):
            out[name] = np.array(values, dtype=dtype)
        elif dtype == "Int64":
            out[name] = pd.array(values, dtype="Int64")
        elif dtype == "datetime64[s]":
            seconds = np.array([np.iinfo(np.int64).min if v is None else v for v in values], dtype=np.int64)
            out[name] = seconds.astype("datetime64[s]")  # int64's minimum is NaT
        else:
            out[name] = pd.array(values, dtype="str")
    return pd.DataFrame(out)
