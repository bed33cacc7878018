"""Simulation settings: one dataclass, validated against ``hese/schemas/simulate.schema.yaml``.

The same keys come from the ``simulate:`` section of a configuration file and from the options
of ``hese simulate`` (underscores as dashes). Problems raise
:class:`~hese.errors.HeseInputError` naming the source, the field, the bad value and what is
allowed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hese.config import load_yaml, schema, validate
from hese.errors import HeseInputError

SCHEMA = "simulate"
VISCOSITY_SCHEMA = "viscosity"  # the settings of hese viscosity (hese.md.viscosity)
#: Settings that may differ when a stopped run is continued (they do not change the physics).
RUNTIME = frozenset(
    {"platform", "precision", "device_index", "jobs_per_gpu", "checkpoint_every_min", "log_every_s",
     "max_equilibration_ps", "density_tolerance"}
)

#: Stage lengths that may be 0 (the stage is left out).
OPTIONAL_STAGE_TIMES = frozenset({"heating_ps", "anneal_ps", "anneal_cool_ps"})


@dataclass(frozen=True)
class Settings:
    """Settings of ``hese simulate``; the schema documents every field."""

    platform: str = "auto"
    precision: str = "mixed"
    device_index: int | None = None
    jobs_per_gpu: int = 1
    temperature_k: float = 298.15
    pressure_bar: float = 1.0
    timestep_fs: float | None = None
    hmr: bool = False
    hydrogen_mass_amu: float = 3.024
    friction_per_ps: float = 1.0
    minimize_tolerance_kj_mol_nm: float = 10.0
    minimize_max_iterations: int = 0
    heating_ps: float = 20.0
    heating_start_k: float = 50.0
    anneal_k: float | None = None
    anneal_ps: float = 0.0
    anneal_cool_ps: float = 0.0
    equilibration_ps: float = 500.0
    equilibration_extend_ps: float = 250.0
    max_equilibration_ps: float = 2000.0
    min_uncorrelated_samples: int = 20
    density_tolerance: float = 0.005
    production_ps: float = 5000.0
    ensemble: str = "nvt"
    save_every_ps: float = 10.0
    thermo_every_ps: float | None = None
    checkpoint_every_min: float = 10.0
    barostat_interval_steps: int = 5
    seed: int | None = None
    log_every_s: float = 60.0
    source: str = dataclasses.field(default="settings", compare=False, repr=False)

    def __post_init__(self) -> None:
        follows = self.thermo_every_ps is None
        if follows:  # the thermo interval follows the frames unless set
            object.__setattr__(self, "thermo_every_ps", thermo_interval_for(self.save_every_ps))
        self._check(thermo_follows_frames=follows)

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, source: str = "simulate") -> Settings:
        """Validate a mapping with the keys of the schema (missing keys take their defaults)."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise HeseInputError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
        values = validate(dict(data), SCHEMA, source)
        return cls(**values, source=source)

    @classmethod
    def load(cls, path: str | Path, overrides: Mapping[str, Any] | None = None) -> Settings:
        """Settings from the ``simulate:`` section of a YAML file, then ``overrides`` on top.

        A file without that section (a study that keeps every default) gives the defaults.
        """
        doc = load_yaml(path)
        if not isinstance(doc, Mapping):
            raise HeseInputError(f"{path}: expected a mapping with a 'simulate:' section, got {type(doc).__name__}")
        section = doc.get("simulate") or {}
        if not isinstance(section, Mapping):
            raise HeseInputError(f"{path}: simulate: expected a mapping of settings, got {section!r}")
        return cls.from_mapping({**section, **(overrides or {})}, f"{path}: simulate")

    def as_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready mapping (schema keys only)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "source"}

    def differences(self, other: Mapping[str, Any], ignore: frozenset[str] = RUNTIME) -> dict[str, tuple]:
        """Fields (not in ``ignore``) whose value differs from ``other``: field → (other, self)."""
        mine = self.as_dict()
        return {k: (other.get(k), v) for k, v in mine.items() if k not in ignore and other.get(k) != v}

    # --- derived quantities ------------------------------------------------------------------
    @property
    def dt_fs(self) -> float:
        """The time step (fs): ``timestep_fs``, or 2 fs (4 fs with ``hmr``) when it is null."""
        if self.timestep_fs is not None:
            return float(self.timestep_fs)
        return 4.0 if self.hmr else 2.0

    @property
    def dt_ps(self) -> float:
        """The time step (ps)."""
        return self.dt_fs / 1000.0

    def steps(self, field: str) -> int:
        """The value of a ``*_ps`` field as a whole number of time steps."""
        return round(getattr(self, field) / self.dt_ps)

    @property
    def thermo_steps(self) -> int:
        """Steps between thermodynamic rows."""
        return self.steps("thermo_every_ps")

    @property
    def save_steps(self) -> int:
        """Steps between trajectory frames."""
        return self.steps("save_every_ps")

    @property
    def n_frames(self) -> int:
        """Frames of the production trajectory."""
        return self.steps("production_ps") // self.save_steps

    # --- validation ----------------------------------------------------------------------------
    def _fail(self, field: str, message: str) -> None:
        raise HeseInputError(f"{self.source}: {field}: {message}")

    def _check(self, thermo_follows_frames: bool = False) -> None:
        props = schema(SCHEMA)["properties"]
        for name, spec in props.items():  # also when built directly, not through from_mapping
            allowed = spec.get("enum")
            if allowed and getattr(self, name) not in allowed:
                self._fail(name, f"{getattr(self, name)!r} is not one of {', '.join(allowed)}")
        thermo = self.thermo_every_ps
        # (field named in the error, its value, the interval it must be a multiple of, that interval's name)
        multiples = [("save_every_ps" if thermo_follows_frames else "thermo_every_ps", thermo, self.dt_ps,
                      "the time step")]
        multiples += [(f, getattr(self, f), thermo, "thermo_every_ps") for f in
                      ("save_every_ps", "heating_ps", "anneal_ps", "anneal_cool_ps", "equilibration_ps",
                       "equilibration_extend_ps", "max_equilibration_ps")]
        multiples.append(("production_ps", self.production_ps, self.save_every_ps, "save_every_ps"))
        for field, value, unit_ps, what in multiples:
            n = value / unit_ps
            if value <= 0 and field in OPTIONAL_STAGE_TIMES:
                continue
            if n < 0.5 or abs(n - round(n)) > 1e-6 * max(1.0, n):
                self._fail(field, f"{value:g} ps is not a whole positive multiple of {what} ({unit_ps:g} ps)")
        if self.max_equilibration_ps < self.equilibration_ps:
            self._fail("max_equilibration_ps", f"{self.max_equilibration_ps:g} ps is shorter than "
                       f"equilibration_ps ({self.equilibration_ps:g} ps)")
        if self.heating_start_k > self.temperature_k:
            self._fail("heating_start_k", f"{self.heating_start_k:g} K is above temperature_k "
                       f"({self.temperature_k:g} K)")
        self._check_anneal()
        if self.checkpoint_every_min <= 0 or self.log_every_s <= 0:
            field = "checkpoint_every_min" if self.checkpoint_every_min <= 0 else "log_every_s"
            self._fail(field, f"{getattr(self, field)!r} is not positive")

    def _check_anneal(self) -> None:
        if self.anneal_k is None:
            for field in ("anneal_ps", "anneal_cool_ps"):
                if getattr(self, field) > 0:
                    self._fail(field, f"{getattr(self, field):g} ps of annealing needs anneal_k (the annealing "
                               "temperature); set it, or leave annealing out with anneal_ps: 0")
            return
        if self.anneal_k <= self.temperature_k:
            self._fail("anneal_k", f"{self.anneal_k:g} K is not above temperature_k ({self.temperature_k:g} K)")
        if self.anneal_ps <= 0:
            self._fail("anneal_ps", f"{self.anneal_ps:g} ps: annealing at anneal_k ({self.anneal_k:g} K) needs a "
                       "positive time")


def thermo_interval_for(save_every_ps: float, preferred_ps: float = 1.0) -> float:
    """The thermo interval when none is set: ``preferred_ps`` if frames come at a whole multiple
    of it, otherwise the frame interval itself (which then is shorter, or has no common step)."""
    n = save_every_ps / preferred_ps
    return preferred_ps if n >= 1 and abs(n - round(n)) <= 1e-6 * n else float(save_every_ps)


def option_name(field: str) -> str:
    """The command-line option of a settings field (``temperature_k`` → ``--temperature-k``)."""
    return "--" + field.replace("_", "-")
