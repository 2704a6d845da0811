"""The CLI's methods from Python: ``vtwin.sweep(scene, "saltelli", 64)``.

Each function runs the same library entry point as the command of the same
name (``vtwin::cli::<command>::run``, arguments parsed by the same clap
definitions), writing into a temporary folder (or ``out=``), and reads the
folder back: Parquet and CSV tables as pandas DataFrames through pyarrow,
``manifest.json`` as a dict, ``.npy`` arrays with numpy. Keyword arguments
map to flags: ``second_order=True`` → ``--second-order``,
``threshold=["u=0.5"]`` → ``--threshold u=0.5`` (repeated), DataFrames are
written to a temporary CSV file whose path is passed.

Ctrl-C while such a command runs (from the main thread, as in a notebook)
stops it before its next engine advance (within one observation interval)
and raises KeyboardInterrupt; its unfinished output folder is removed and
none appears. From another thread a command runs to its end (signals
reach only the main thread).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any, Dict, List, Optional, Union

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import _vtwin
from ._errors import VtwinError

PathLike = Union[str, os.PathLike]


class Outputs:
    """An output folder read back: ``out["indices"]`` is the DataFrame of
    ``indices.csv``; :attr:`tables`, :attr:`arrays`, :attr:`manifest`,
    :attr:`files` (other files, by name) and :attr:`path`."""

    def __init__(self, path: str, keep: Optional[tempfile.TemporaryDirectory] = None):
        self.path = path
        self._keep = keep
        self.tables: Dict[str, pd.DataFrame] = {}
        self.arrays: Dict[str, np.ndarray] = {}
        self.files: Dict[str, str] = {}
        self.manifest: Dict[str, Any] = {}
        self.exit_code = 0
        for root, _dirs, names in os.walk(path):
            for n in sorted(names):
                full = os.path.join(root, n)
                rel = os.path.relpath(full, path)
                key, ext = os.path.splitext(rel.replace(os.sep, "/"))
                if ext == ".parquet":
                    self.tables[key] = pq.read_table(full).to_pandas()
                elif ext == ".csv":
                    self.tables[key] = _read_csv(full)
                elif ext == ".npy":
                    self.arrays[key] = np.load(full)
                elif rel == "manifest.json":
                    with open(full, encoding="utf-8") as f:
                        self.manifest = json.load(f)
                else:
                    self.files[rel] = full

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def keys(self) -> List[str]:
        return list(self.tables)

    def save(self, path: PathLike) -> str:
        """Copies the folder to ``path`` (which must not exist), atomically."""
        path = os.fspath(path)
        if os.path.exists(path):
            raise FileExistsError(f"{path} exists; choose a new folder")
        parent = os.path.dirname(os.path.abspath(path))
        tmp = tempfile.mkdtemp(prefix=".vtwin-save-", dir=parent)
        os.rmdir(tmp)
        shutil.copytree(self.path, tmp)
        os.rename(tmp, path)
        return path

    def __repr__(self) -> str:
        return f"Outputs({self.path!r}, tables={self.keys()})"


def _read_csv(path: str) -> pd.DataFrame:
    try:
        return pacsv.read_csv(path).to_pandas()
    except Exception:
        # Files with a second block (e.g. analyze's stdout layout): pandas.
        return pd.read_csv(path)


def _flag(name: str) -> str:
    return ("-" if len(name) == 1 else "--") + name.replace("_", "-")


def _value(v: Any, tmp: str, name: str) -> str:
    from . import Scene  # circular at import time only

    if isinstance(v, Scene):
        return v.file(tmp)
    if isinstance(v, pd.DataFrame):
        path = os.path.join(tmp, f"{name}.csv")
        v.to_csv(path, index=False)
        return path
    if isinstance(v, bool):
        raise TypeError(f"{name}: a bool is a flag, not a value")
    if isinstance(v, (str, os.PathLike, int, float)):
        return os.fspath(v) if isinstance(v, os.PathLike) else str(v)
    raise TypeError(f"{name}: cannot pass a {type(v).__name__} to the command line")


def _argv(command: List[str], args: List[Any], flags: Dict[str, Any], tmp: str) -> List[str]:
    argv = ["vtwin", *command]
    for i, a in enumerate(args):
        argv.append(_value(a, tmp, f"arg{i}"))
    for k, v in flags.items():
        if v is None or v is False:
            continue
        if v is True:
            argv.append(_flag(k))
        elif isinstance(v, (list, tuple)):
            for item in v:
                argv += [_flag(k), _value(item, tmp, k)]
        else:
            argv += [_flag(k), _value(v, tmp, k)]
    return argv


def cli(*argv: Any, **flags: Any) -> int:
    """Runs one vtwin command exactly as the command line would
    (``vtwin.cli("sweep", scene, method="sobol", n=8, out="runs/s")``);
    returns its exit code. Files go where the flags say."""
    with tempfile.TemporaryDirectory(prefix="vtwin-args-") as tmp:
        return _vtwin.cli(_argv([str(argv[0])], list(argv[1:]), flags, tmp))


def _folder_command(
    command: str, args: List[Any], flags: Dict[str, Any], out: Optional[PathLike], force: bool
) -> Outputs:
    keep = tempfile.TemporaryDirectory(prefix=f"vtwin-{command}-")
    target = os.fspath(out) if out is not None else os.path.join(keep.name, "out")
    flags = dict(flags, out=target, force=force)
    code = _vtwin.cli(_argv([command], args, flags, keep.name))
    result = Outputs(target, keep)
    result.exit_code = code
    return result


def _file_command(
    command: List[str], args: List[Any], flags: Dict[str, Any], flag: str = "output"
) -> pd.DataFrame:
    with tempfile.TemporaryDirectory(prefix="vtwin-") as tmp:
        target = os.path.join(tmp, "result.csv")
        _vtwin.cli(_argv(command, args, dict(flags, **{flag: target}), tmp))
        return _read_csv(target)


def design(params: Any, method: str, n: int, **flags: Any) -> pd.DataFrame:
    """``vtwin design``: a design over a parameter file (or a Scene's
    ``[parameters]``) as a DataFrame."""
    return _file_command(["design"], [], dict(flags, params=params, method=method, n=n))


def analyze(
    method: str, params: Any, design: pd.DataFrame, outputs: pd.DataFrame, **flags: Any
) -> pd.DataFrame:
    """``vtwin analyze sobol|morris``: indices from a design and outputs of
    any simulator (DataFrames or CSV paths)."""
    return _file_command(
        ["analyze", method], [], dict(flags, params=params, design=design, outputs=outputs)
    )


def sweep(
    scene: Any, method: str, n: int, out: Optional[PathLike] = None, force: bool = False,
    **flags: Any,
) -> Outputs:
    """``vtwin sweep``: design, outputs and indices (``out["indices"]``)."""
    return _folder_command("sweep", [scene], dict(flags, method=method, n=n), out, force)


def calibrate(
    scene: Any, data: Any, out: Optional[PathLike] = None, force: bool = False, **flags: Any
) -> Outputs:
    """``vtwin calibrate``: a posterior fitted to ``data`` (DataFrame or CSV)."""
    return _folder_command("calibrate", [scene], dict(flags, data=data), out, force)


def cohort(scene: Any, out: Optional[PathLike] = None, force: bool = False, **flags: Any) -> Outputs:
    """``vtwin cohort``: a synthetic cohort under every arm."""
    return _folder_command("cohort", [scene], flags, out, force)


def twin(scene: Any, out: Optional[PathLike] = None, force: bool = False, **flags: Any) -> Outputs:
    """``vtwin twin``: a twin experiment (truth, observations, analyses, forecasts)."""
    return _folder_command("twin", [scene], flags, out, force)


def assimilate(
    scene: Any, obs: Any, out: Optional[PathLike] = None, force: bool = False, **flags: Any
) -> Outputs:
    """``vtwin assimilate``: observations (DataFrame with time, observable,
    location, value, sd, or a CSV path) into the scene's ensemble, then
    forecasts. Extra flags pass through (``forecast_at=…`` where the
    command has ``--forecast-at``)."""
    return _folder_command("assimilate", [scene], dict(flags, obs=obs), out, force)


def score(forecast: Any, truth: Any, obs: Any = None, **flags: Any) -> Dict[str, Any]:
    """``vtwin score``: scores a forecast table (the folder written by
    ``assimilate(..., forecast_at=...)``, its :class:`Outputs`, or a
    DataFrame with the same columns) against ``truth`` (a DataFrame or CSV
    with ``patient, time, observable, value``), with the last value carried
    forward from ``obs`` as the baseline. Returns the JSON report as a dict
    (``overall``, ``by_status``, ``per_patient_summary``, ``patients``, ...)."""
    with tempfile.TemporaryDirectory(prefix="vtwin-score-") as tmp:
        if isinstance(forecast, Outputs):
            forecast = forecast.path
        elif isinstance(forecast, pd.DataFrame):
            path = os.path.join(tmp, "forecast.csv")
            forecast.to_csv(path, index=False)
            forecast = path
        target = os.path.join(tmp, "score.json")
        flags = dict(flags, truth=truth, obs=obs, json=target)
        code = _vtwin.cli(_argv(["score"], [forecast], flags, tmp))
        if code != 0:
            raise VtwinError(f"vtwin score exited with {code}")
        with open(target, encoding="utf-8") as f:
            return json.load(f)
