"""The CLI's methods from Python: ``vtwin.sweep(scene, "saltelli", 64)``.

Each function runs the same library entry point as the command of the same
name (``vtwin::cli::<command>::run``, arguments parsed by the same clap
definitions), writing into a temporary folder (or ``out=``), and reads the
folder back: Parquet and CSV tables as pandas DataFrames through pyarrow,
``manifest.json`` as a dict, ``.npy`` arrays with numpy. Keyword arguments
map to flags: ``second_order=True`` → ``--second-order``,
``threshold=["u=0.5"]`` → ``--threshold u=0.5`` (repeated), DataFrames are
written to a temporary CSV file whose path is passed (with
``checkpoint_every=`` the run keeps a copy in its folder for
:func:`resume`). The command records the same command line as ``vtwin``
would (manifest, resume record), so ``vtwin resume`` in a shell continues
a run started here. ``progress=callable`` on every command calls
``progress(done, total)`` as the command's progress bar moves (tqdm:
``progress=lambda d, t: (setattr(bar, "total", t), bar.update(d - bar.n))``).

Ctrl-C while such a command runs (from the main thread, as in a notebook)
stops it before its next engine advance (within one observation interval)
and raises KeyboardInterrupt; its unfinished output folder is removed and
none appears. Only that call stops: a command running on another thread
goes on, and the next call starts afresh. From another thread a command
runs to its end (signals reach only the main thread); an exception raised
by its ``progress`` callback stops it the same way.
"""

from __future__ import annotations

import json
import numbers
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
    if isinstance(v, Outputs):
        return v.path
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


def _progress(flags: Dict[str, Any]) -> Any:
    """Takes ``progress=`` out of the flags: a callable
    ``progress(done, total)``."""
    progress = flags.pop("progress", None)
    if progress is not None and not callable(progress):
        raise TypeError("progress must be callable as progress(done, total)")
    return progress


def cli(*argv: Any, progress: Any = None, **flags: Any) -> int:
    """Runs one vtwin command exactly as the command line would
    (``vtwin.cli("sweep", scene, method="sobol", n=8, out="runs/s")``);
    returns its exit code. Files go where the flags say.
    ``progress(done, total)`` is called as the command's progress bar
    moves (steps, cycles, generations, … as the command counts them)."""
    progress = _progress(dict(progress=progress))
    with tempfile.TemporaryDirectory(prefix="vtwin-args-") as tmp:
        argv_ = _argv([str(argv[0])], list(argv[1:]), flags, tmp)
        return _vtwin.cli(argv_, tmp, progress)


def _folder_command(
    command: str, args: List[Any], flags: Dict[str, Any], out: Optional[PathLike], force: bool
) -> Outputs:
    flags = dict(flags)
    progress = _progress(flags)
    keep = tempfile.TemporaryDirectory(prefix=f"vtwin-{command}-")
    target = os.fspath(out) if out is not None else os.path.join(keep.name, "out")
    flags = dict(flags, out=target, force=force)
    argv = _argv([command], args, flags, keep.name)
    try:
        # The command records `argv` as its command line (manifest, resume
        # record), as `vtwin` would, and a checkpointed one copies the
        # files written into `keep` into its kept folder, naming the
        # copies: `vtwin resume` continues it even after this process died.
        code = _vtwin.cli(argv, keep.name, progress)
    finally:
        if flags.get("checkpoint_every") is not None:
            _release_kept(target)
    result = Outputs(target, keep)
    result.exit_code = code
    return result


# Inside a run's temporary folder (`.<name>.tmp-<pid>-<nanos>`): the resume
# record the library writes for `vtwin resume` (see src/drivers/checkpoint.rs).
_RESUME_DIR = ".vtwin-resume"
_RUN_RECORD = "run.json"
# The marker naming the process that owns a temporary run folder (src/output/io/stale.rs).
_MARKER = ".vtwin-temp"


def _release_kept(target: str) -> None:
    """Lets an interrupted checkpointed command's kept folder beside
    ``target`` be continued from this same process.

    Its marker names this process, which lives on (a notebook): ``vtwin
    resume`` leaves alone a folder whose process is alive, as it may still
    be writing it. This call has ended, so nothing writes it any more: the
    marker goes (``vtwin resume`` writes its own). The resume record
    itself is the library's, the same as the command line's (see
    :func:`_folder_command`)."""
    target = os.path.abspath(target)
    parent, name = os.path.split(target)
    prefix = f".{name}.tmp-{os.getpid()}-"
    try:
        kept = [e for e in os.listdir(parent) if e.startswith(prefix)]
    except OSError:
        return
    for folder in kept:
        if not os.path.isfile(os.path.join(parent, folder, _RESUME_DIR, _RUN_RECORD)):
            continue
        marker = os.path.join(parent, folder, _MARKER)
        try:
            with open(marker, encoding="utf-8") as f:
                mine = f"pid={os.getpid()}" in f.read().splitlines()
            if mine:
                os.remove(marker)
        except OSError:
            pass


def _file_command(
    command: List[str], args: List[Any], flags: Dict[str, Any], flag: str = "output"
) -> pd.DataFrame:
    with tempfile.TemporaryDirectory(prefix="vtwin-") as tmp:
        target = os.path.join(tmp, "result.csv")
        flags = dict(flags)
        progress = _progress(flags)
        _vtwin.cli(_argv(command, args, dict(flags, **{flag: target}), tmp), tmp, progress)
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


def _checkpointed(
    checkpoint_every: Any, out: Optional[PathLike], flags: Dict[str, Any]
) -> Dict[str, Any]:
    """``checkpoint_every=N`` → ``--checkpoint-every N``; checkpoints only
    serve to continue the run in its folder, so ``out=`` is required."""
    if checkpoint_every is None:
        return flags
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, numbers.Integral):
        raise TypeError(
            f"checkpoint_every must be an integer, not {type(checkpoint_every).__name__}"
        )
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be at least 1, not {checkpoint_every}")
    if out is None:
        raise ValueError(
            "checkpoint_every needs out=: the checkpoints are kept beside that folder "
            "so that vtwin.resume(out) can continue an interrupted run"
        )
    return dict(flags, checkpoint_every=int(checkpoint_every))


def _shard(shard: Any) -> Optional[str]:
    """``"1/4"`` or ``(1, 4)`` → ``--shard 1/4``."""
    if shard is None or isinstance(shard, str):
        return shard
    if isinstance(shard, tuple) and len(shard) == 2:
        i, k = shard
        if all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in (i, k)):
            return f"{int(i)}/{int(k)}"
    raise TypeError(f"shard must be \"I/K\" or a tuple (I, K), not {shard!r}")


def run(
    scene: Any,
    out: Optional[PathLike] = None,
    force: bool = False,
    *,
    checkpoint_every: Optional[int] = None,
    shard: Any = None,
    **flags: Any,
) -> Outputs:
    """``vtwin run``: the run folder the command writes, read back (for a
    run held in memory see :meth:`Scene.run`). Every flag of the command
    is a keyword (``save_fields=True, every=5, montage_field="v"``,
    ``posterior=dir``, ``fused=8``); ``shard="0/2"`` or ``(0, 2)`` runs one
    shard; ``checkpoint_every=N`` (with ``out=``) saves a checkpoint every
    N steps so that :func:`resume` can continue an interrupted run, and
    keeps the last one as ``checkpoint.vtc``."""
    flags = _checkpointed(checkpoint_every, out, dict(flags, shard=_shard(shard)))
    return _folder_command("run", [scene], flags, out, force)


def sweep(
    scene: Any, method: str, n: int, out: Optional[PathLike] = None, force: bool = False,
    *, checkpoint_every: Optional[int] = None, shard: Any = None, **flags: Any,
) -> Outputs:
    """``vtwin sweep``: design, outputs and indices (``out["indices"]``).
    ``checkpoint_every=N`` (with ``out=``) saves a checkpoint every N steps
    for :func:`resume`; ``shard="I/K"`` runs one shard of the design rows."""
    flags = dict(flags, method=method, n=n, shard=_shard(shard))
    return _folder_command(
        "sweep", [scene], _checkpointed(checkpoint_every, out, flags), out, force
    )


def calibrate(
    scene: Any, data: Any, out: Optional[PathLike] = None, force: bool = False, **flags: Any
) -> Outputs:
    """``vtwin calibrate``: a posterior fitted to ``data`` (DataFrame or CSV)."""
    return _folder_command("calibrate", [scene], dict(flags, data=data), out, force)


def cohort(
    scene: Any, out: Optional[PathLike] = None, force: bool = False,
    *, checkpoint_every: Optional[int] = None, shard: Any = None, **flags: Any,
) -> Outputs:
    """``vtwin cohort``: a synthetic cohort under every arm.
    ``checkpoint_every=N`` (with ``out=``) saves a checkpoint every N steps
    of each simulation for :func:`resume`; ``shard="I/K"`` writes one shard."""
    flags = _checkpointed(checkpoint_every, out, dict(flags, shard=_shard(shard)))
    return _folder_command("cohort", [scene], flags, out, force)


def twin(
    scene: Any, out: Optional[PathLike] = None, force: bool = False,
    *, checkpoint_every: Optional[int] = None, **flags: Any,
) -> Outputs:
    """``vtwin twin``: a twin experiment (truth, observations, analyses,
    forecasts). ``checkpoint_every=N`` (with ``out=``) saves a checkpoint
    every N analyses for :func:`resume`."""
    return _folder_command("twin", [scene], _checkpointed(checkpoint_every, out, flags), out, force)


_PRIORS = ("none", "pooled", "leave-one-out")


def assimilate(
    scene: Any,
    obs: Any,
    out: Optional[PathLike] = None,
    force: bool = False,
    *,
    forecast_at: Any = None,
    population_prior: str = "none",
    events: Any = None,
    shard: Any = None,
    checkpoint_every: Optional[int] = None,
    **flags: Any,
) -> Outputs:
    """``vtwin assimilate``: observations (DataFrame with time, observable,
    location, value, sd and optionally patient, or a CSV path) into the
    scene's ensemble, then forecasts.

    Patient runs (a ``patient`` column, an empty ``sd`` or ``forecast_at``;
    docs/patients.md): ``forecast_at`` (DataFrame or CSV with patient,
    time[, observable]) asks for the wide ``forecast`` table;
    ``population_prior`` is ``"none"`` (the scene's prior), ``"pooled"``
    or ``"leave-one-out"`` (learned from a first pass over every / every
    other patient); ``events`` (DataFrame or CSV with patient, time,
    species, amount) gives treatment events; ``shard="I/K"`` or ``(I, K)``
    assimilates one shard of the patients (no population prior then).
    Single-ensemble runs: ``checkpoint_every=N`` (with ``out=``) saves a
    checkpoint every N analyses for :func:`resume`. Other flags pass
    through (``quantiles=[0.025, 0.975]``, ``members_out=True``, ...)."""
    if population_prior not in _PRIORS:
        raise ValueError(
            f"population_prior must be one of {', '.join(_PRIORS)}, not {population_prior!r}"
        )
    flags = dict(
        flags,
        obs=obs,
        forecast_at=forecast_at,
        # The command's default is left implicit, so that a shard (which
        # refuses any --population-prior) runs with it.
        population_prior=None if population_prior == "none" else population_prior,
        events=events,
        shard=_shard(shard),
    )
    flags = _checkpointed(checkpoint_every, out, flags)
    return _folder_command("assimilate", [scene], flags, out, force)


def resume(dir: PathLike, progress: Any = None) -> Outputs:
    """``vtwin resume DIR``: continues the interrupted run whose ``out``
    was ``dir`` (started with ``checkpoint_every``, from Python or the
    command line) from its last checkpoint, and returns the finished
    folder; a finished ``dir`` is returned as it is.

    The run may be continued from the same Python process after Ctrl-C or
    an error, from a restarted kernel, or with ``vtwin resume DIR`` in a
    shell. The command runs in the folder the run was started in; the
    working folder is restored afterwards. ``progress(done, total)`` as
    for the other commands."""
    if not isinstance(dir, (str, os.PathLike)):
        raise TypeError(f"dir must be a str or os.PathLike, not {type(dir).__name__}")
    path = os.path.abspath(os.fspath(dir))
    cwd = os.getcwd()
    try:
        code = _vtwin.cli(["vtwin", "resume", path], None, _progress(dict(progress=progress)))
    finally:
        os.chdir(cwd)
    result = Outputs(path)
    result.exit_code = code
    return result


def merge(dirs: List[Any], out: Optional[PathLike] = None, force: bool = False) -> Outputs:
    """``vtwin merge``: joins the shard folders (paths or :class:`Outputs`)
    of a run, sweep, cohort or patient assimilation made with ``shard=``
    into the unsharded result."""
    if isinstance(dirs, (str, os.PathLike, Outputs)):
        raise TypeError("dirs must be a list of shard folders")
    return _folder_command("merge", list(dirs), {}, out, force)


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
        code = _vtwin.cli(_argv(["score"], [forecast], flags, tmp), tmp, None)
        if code != 0:
            raise VtwinError(f"vtwin score exited with {code}")
        with open(target, encoding="utf-8") as f:
            return json.load(f)
