"""vtwin from Python: scenes, runs, a simulator handle and the CLI's methods.

The Rust library is the one implementation; this package is a thin layer
over it (``vtwin._vtwin``, built with PyO3 and maturin). Tables come back
as pandas DataFrames built through Arrow, fields as numpy arrays.

>>> import vtwin
>>> scene = vtwin.Scene.load("scenes/gray_scott.toml")
>>> run = scene.run(members=8, backend="cpu")
>>> run.observables.head()

See docs/python.md for a walkthrough.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

import numpy as np
import pandas as pd

from . import _vtwin
from ._commands import (
    Outputs,
    analyze,
    assimilate,
    calibrate,
    cli,
    cohort,
    design,
    merge,
    resume,
    run,
    score,
    sweep,
    twin,
)
from ._errors import SceneError, VtwinError
from ._tables import to_frame

__all__ = [
    "Scene",
    "Run",
    "Simulator",
    "SceneError",
    "VtwinError",
    "Outputs",
    "run",
    "design",
    "analyze",
    "sweep",
    "calibrate",
    "cohort",
    "twin",
    "assimilate",
    "score",
    "resume",
    "merge",
    "cli",
]
__version__ = _vtwin.__version__

Progress = Callable[[int, int], Any]
_BACKENDS = ("auto", "gpu", "cpu")


def _count(name: str, value: Any, minimum: int) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return int(value)


def _text(name: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    return value


def _backend(value: Any) -> str:
    if value not in _BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(_BACKENDS)}, not {value!r}")
    return value


def _callback(progress: Any) -> Optional[Progress]:
    if progress is not None and not callable(progress):
        raise TypeError("progress must be callable as progress(step, total_steps)")
    return progress


def _param_value(name: str, value: Any) -> Any:
    """A parameter override as JSON: a number (fixed) or a distribution table."""
    if isinstance(value, bool) or isinstance(value, str):
        raise TypeError(
            f"parameter {name!r}: expected a number or a distribution dict, "
            f"not {type(value).__name__}"
        )
    if isinstance(value, numbers.Real):
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"parameter {name!r}: {v} is not a finite number")
        return v
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    raise TypeError(
        f"parameter {name!r}: expected a number or a distribution dict, "
        f"not {type(value).__name__}"
    )


class Scene:
    """A validated scene (TOML), with optional run overrides.

    Create with :meth:`load` or :meth:`from_toml`; derive variants with
    :meth:`with_params`, :meth:`with_members`, :meth:`with_seed` and
    :meth:`with_arm` (each returns a new Scene). Errors raise
    :class:`SceneError` with ``file``, ``line`` and ``key``.
    """

    def __init__(self, handle: Any, file: Optional[str], overrides: Dict[str, Any]):
        self._h = handle
        # The file on disk holding exactly this scene's text, if any.
        self._file = file
        self._overrides = dict(overrides)
        self._info = json.loads(_vtwin.scene_info(handle))

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "Scene":
        """Reads and validates a scene file."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, not {type(path).__name__}")
        path = os.fspath(path)
        return cls(_vtwin.scene_load(path), os.path.abspath(path), {})

    @classmethod
    def from_toml(cls, text: str, name: str = "<string>.toml") -> "Scene":
        """Parses scene text; ``name`` stands for the file in messages."""
        _text("text", text)
        _text("name", name)
        return cls(_vtwin.scene_parse(name, text), None, {})

    # -- description -------------------------------------------------------
    @property
    def path(self) -> str:
        return self._info["path"]

    @property
    def source(self) -> str:
        """The TOML text (after parameter overrides)."""
        return _vtwin.scene_source(self._h)

    @property
    def model(self) -> str:
        return self._info["model"]

    @property
    def parameters(self) -> List[str]:
        """Parameter names in block order (scene's, then model defaults)."""
        return [p["name"] for p in self._info["parameters"]]

    @property
    def arms(self) -> List[str]:
        return list(self._info["arms"])

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self._overrides.items())
        return f"Scene({self.path!r}, model={self.model!r}{extra})"

    # -- overrides ---------------------------------------------------------
    def _derive(self, **changes: Any) -> "Scene":
        ov = dict(self._overrides)
        ov.update({k: v for k, v in changes.items()})
        return Scene(self._h, self._file, {k: v for k, v in ov.items() if v is not None})

    def with_params(self, values: Optional[Mapping[str, Any]] = None, **params: Any) -> "Scene":
        """A scene whose ``[parameters]`` entries are replaced: a number
        fixes a parameter, a dict is a distribution as in a scene file
        (``{"dist": "uniform", "low": 0.1, "high": 0.3}``)."""
        merged: Dict[str, Any] = {}
        if values is not None:
            if not isinstance(values, Mapping):
                raise TypeError("with_params takes a mapping and/or keyword arguments")
            merged.update(values)
        merged.update(params)
        body = {str(k): _param_value(str(k), v) for k, v in merged.items()}
        handle = _vtwin.scene_with_params(self._h, json.dumps(body))
        return Scene(handle, None, self._overrides)

    def with_members(self, members: int) -> "Scene":
        return self._derive(members=_count("members", members, 1))

    def with_seed(self, seed: int) -> "Scene":
        return self._derive(seed=_count("seed", seed, 0))

    def with_arm(self, arm: str) -> "Scene":
        return self._derive(arm=_text("arm", arm))

    def _opt(self, name: str, value: Any) -> Any:
        return self._overrides.get(name) if value is None else value

    # -- work --------------------------------------------------------------
    def check(
        self,
        members: Optional[int] = None,
        seed: Optional[int] = None,
        arm: Optional[str] = None,
        backend: str = "cpu",
    ) -> Dict[str, Any]:
        """The resolved plan as a dict (``vtwin check`` without running)."""
        return json.loads(
            _vtwin.scene_check(
                self._h,
                _count("members", self._opt("members", members), 1),
                _count("seed", self._opt("seed", seed), 0),
                _text("arm", self._opt("arm", arm)),
                _backend(backend),
            )
        )

    def run(
        self,
        members: Optional[int] = None,
        backend: str = "auto",
        seed: Optional[int] = None,
        arm: Optional[str] = None,
        save_fields: bool = False,
        batch_size: Optional[int] = None,
        progress: Optional[Progress] = None,
        every: Optional[int] = None,
        montage_field: Optional[str] = None,
        montage_scale: str = "shared",
    ) -> "Run":
        """Runs the ensemble to the end (the GIL is released meanwhile).

        ``arm="all"`` runs every arm of the scene, as ``vtwin run --arm
        all``: the tables gain a first column ``arm`` (fields are then not
        supported, as in the CLI). Fields are kept with ``save_fields`` or
        when the scene's ``[output] save_fields`` asks for them.
        ``progress(step, total_steps)`` is called at every observation
        (with ``arm="all"``, through each arm in turn); Ctrl-C raises
        KeyboardInterrupt at the next observation.

        As ``vtwin run --save-fields --every K``, ``every=K`` (with fields)
        also keeps the fields at every K-th observation (the first, every
        K-th after it and the last) as :attr:`Run.snapshots`, which
        :meth:`Run.save` writes as ``fields_t<step>.npy`` and
        ``montage_t<step>.png``. ``montage_field`` names the field the
        montages show (default: the model's first) and ``montage_scale`` is
        ``"shared"`` (one colour scale) or ``"per-panel"``.
        """
        if not isinstance(save_fields, bool):
            raise TypeError("save_fields must be a bool")
        if montage_scale not in ("shared", "per-panel"):
            raise ValueError(
                f'montage_scale must be "shared" or "per-panel", not {montage_scale!r}'
            )
        handle = _vtwin.run(
            self._h,
            _count("members", self._opt("members", members), 1),
            _count("seed", self._opt("seed", seed), 0),
            _text("arm", self._opt("arm", arm)),
            _backend(backend),
            save_fields,
            _count("batch_size", batch_size, 1),
            _callback(progress),
            _count("every", every, 1),
            _text("montage_field", montage_field),
            montage_scale,
        )
        return Run(handle)

    def simulator(
        self,
        backend: str = "auto",
        seed: Optional[int] = None,
        arm: Optional[str] = None,
        batch_size: Optional[int] = None,
    ) -> "Simulator":
        """A handle that runs parameter rows as one ensemble per call,
        reusing its engines across calls (see :class:`Simulator`)."""
        return Simulator(
            _vtwin.simulator_new(
                self._h,
                _backend(backend),
                _text("arm", self._opt("arm", arm)),
                _count("seed", self._opt("seed", seed), 0),
                _count("batch_size", batch_size, 1),
            )
        )

    def file(self, folder: Union[str, os.PathLike]) -> str:
        """A path holding this scene's text: the original file when the
        text is unchanged, else ``folder/scene.toml`` (written)."""
        if self._file is not None:
            return self._file
        path = os.path.join(os.fspath(folder), "scene.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.source)
        return path


class Run:
    """A finished run held in memory (``Scene.run``)."""

    def __init__(self, handle: Any):
        self._h = handle
        self._tables: Optional[Dict[str, pd.DataFrame]] = None

    def _frames(self) -> Dict[str, pd.DataFrame]:
        if self._tables is None:
            self._tables = {t[0]: to_frame(t) for t in _vtwin.run_tables(self._h)}
        return self._tables

    @property
    def params(self) -> pd.DataFrame:
        """member, then one column per parameter (as drawn)."""
        return self._frames()["params"]

    @property
    def observables(self) -> pd.DataFrame:
        """Long table: member, step, time, observable, value."""
        return self._frames()["observables"]

    @property
    def status(self) -> pd.DataFrame:
        """member, status (ok, diverged, saturated), step of failure."""
        return self._frames()["status"]

    @property
    def fields(self) -> Optional[np.ndarray]:
        """Final fields, members × fields × ny × nx (float32), when the run
        was made with ``save_fields=True``; else None."""
        got = _vtwin.run_fields(self._h)
        if got is None:
            return None
        data, shape = got
        return np.frombuffer(data, dtype="<f4").reshape(shape)

    @property
    def snapshots(self) -> Dict[int, np.ndarray]:
        """The time-lapse snapshots of a run made with ``every=K``: step →
        fields (members × fields × ny × nx, float32), in step order; empty
        otherwise."""
        return {
            int(step): np.frombuffer(data, dtype="<f4").reshape(shape)
            for step, data, shape in _vtwin.run_snapshots(self._h)
        }

    @property
    def manifest(self) -> Dict[str, Any]:
        return json.loads(_vtwin.run_manifest(self._h))

    def save(self, path: Union[str, os.PathLike], force: bool = False) -> str:
        """Writes the folder ``vtwin run`` writes for the same scene and
        options, file for file (tables in the scene's format; with fields,
        fields.npy, the agents table of an agent model and montage.png of
        the run's montage field, and with ``every`` the time-lapse
        ``fields_t<step>.npy`` and ``montage_t<step>.png``; manifest.json),
        atomically; an
        existing folder is replaced only with ``force`` and only if vtwin
        wrote it."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, not {type(path).__name__}")
        return _vtwin.run_save(self._h, os.fspath(path), bool(force))

    def __repr__(self) -> str:
        m = self.manifest
        return f"Run(members={m['members']}, arm={m['arm']!r}, failed={m['members_failed']})"


class Simulator:
    """``sim(params_df) -> observables DataFrame``: a scene as a model for
    custom loops (SALib, pyABC, scikit-learn). The plan is frozen and the
    backend opened once; row i of each call is member i.

    Columns name parameters; a parameter not given keeps its fixed value
    (one that varies in the scene must be given). The status of the last
    call's members is in :attr:`status`.

    Engines are reused: the first call with a given number of rows (and
    seed) builds one (on the GPU: buffers and compiled pipelines); later
    calls of that shape restart it with their rows (initial state,
    parameters, status, step 0), with results equal to a fresh engine's.
    The last four shapes are kept; :attr:`info` counts ``calls`` and
    ``engines_built``. Ctrl-C raises KeyboardInterrupt at the next
    observation; the handle stays usable.
    """

    def __init__(self, handle: Any):
        self._h = handle
        self.status: Optional[pd.DataFrame] = None

    @property
    def info(self) -> Dict[str, Any]:
        return json.loads(_vtwin.simulator_info(self._h))

    @property
    def parameters(self) -> List[str]:
        return [p["name"] for p in self.info["parameters"]]

    def __call__(
        self,
        params: Union[pd.DataFrame, Mapping[str, Any]],
        seed: Optional[int] = None,
        progress: Optional[Progress] = None,
    ) -> pd.DataFrame:
        if isinstance(params, Mapping):
            params = pd.DataFrame(dict(params))
        if not isinstance(params, pd.DataFrame):
            raise TypeError(
                f"params must be a pandas DataFrame (one column per parameter), "
                f"not {type(params).__name__}"
            )
        names = [str(c) for c in params.columns]
        for c in params.columns:
            col = params[c]
            if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
                raise TypeError(f"column {c!r} must be numeric, not {col.dtype}")
        values = params.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise ValueError(
                f"row {r}, parameter {names[c]!r}: {values[r, c]} is not a finite number"
            )
        obs, status = _vtwin.simulator_call(
            self._h,
            names,
            values.ravel().tolist(),
            int(values.shape[0]),
            _count("seed", seed, 0),
            _callback(progress),
        )
        self.status = to_frame(status)
        return to_frame(obs)
