# Public API of the vtwin package (see __init__.py for docstrings).
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

import numpy as np
import pandas as pd

from ._commands import Outputs as Outputs
from ._commands import analyze as analyze
from ._commands import assimilate as assimilate
from ._commands import calibrate as calibrate
from ._commands import cli as cli
from ._commands import cohort as cohort
from ._commands import design as design
from ._commands import merge as merge
from ._commands import resume as resume
from ._commands import run as run
from ._commands import score as score
from ._commands import sweep as sweep
from ._commands import twin as twin
from ._errors import SceneError as SceneError
from ._errors import VtwinError as VtwinError

__version__: str
Progress = Callable[[int, int], Any]

class Scene:
    @classmethod
    def load(cls, path: Union[str, os.PathLike[str]]) -> Scene: ...
    @classmethod
    def from_toml(cls, text: str, name: str = ...) -> Scene: ...
    @property
    def path(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def parameters(self) -> List[str]: ...
    @property
    def arms(self) -> List[str]: ...
    def with_params(self, values: Optional[Mapping[str, Any]] = ..., **params: Any) -> Scene: ...
    def with_members(self, members: int) -> Scene: ...
    def with_seed(self, seed: int) -> Scene: ...
    def with_arm(self, arm: str) -> Scene: ...
    def check(
        self,
        members: Optional[int] = ...,
        seed: Optional[int] = ...,
        arm: Optional[str] = ...,
        backend: str = ...,
    ) -> Dict[str, Any]: ...
    def run(
        self,
        members: Optional[int] = ...,
        backend: str = ...,
        seed: Optional[int] = ...,
        arm: Optional[str] = ...,
        save_fields: bool = ...,
        batch_size: Optional[int] = ...,
        progress: Optional[Progress] = ...,
        every: Optional[int] = ...,
        montage_field: Optional[str] = ...,
        montage_scale: str = ...,
    ) -> Run: ...
    def simulator(
        self,
        backend: str = ...,
        seed: Optional[int] = ...,
        arm: Optional[str] = ...,
        batch_size: Optional[int] = ...,
    ) -> Simulator: ...
    def file(self, folder: Union[str, os.PathLike[str]]) -> str: ...

class Run:
    @property
    def params(self) -> pd.DataFrame: ...
    @property
    def observables(self) -> pd.DataFrame: ...
    @property
    def status(self) -> pd.DataFrame: ...
    @property
    def fields(self) -> Optional[np.ndarray]: ...
    @property
    def snapshots(self) -> Dict[int, np.ndarray]: ...
    @property
    def manifest(self) -> Dict[str, Any]: ...
    def save(self, path: Union[str, os.PathLike[str]], force: bool = ...) -> str: ...

class Simulator:
    status: Optional[pd.DataFrame]
    @property
    def info(self) -> Dict[str, Any]: ...
    @property
    def parameters(self) -> List[str]: ...
    def __call__(
        self,
        params: Union[pd.DataFrame, Mapping[str, Any]],
        seed: Optional[int] = ...,
        progress: Optional[Progress] = ...,
    ) -> pd.DataFrame: ...
