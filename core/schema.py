"""The catalogue of canonical measurements, in one place.

A dataset (core/dataset.py) measures a subset of these quantities, under its own
column names and units; ingest converts every value to the canonical unit here
and checks it against the plausible range, the generator writes all of them,
and the dbt models, the drift check and the model read the names. The dbt tests
re-check the same ranges inside the container (passed as vars), so the two
sides cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

KEY_COLUMNS = ("station_id", "timestamp")

# Molar volume of an ideal gas at 0 °C and 1013.25 hPa, L/mol (CODATA: R·T/p).
_MOLAR_VOLUME_0C = 22.414


@dataclass(frozen=True)
class Quantity:
    """One canonical measurement: its unit, the plausible range, and its kind.

    `low`/`high` are physically plausible limits in `unit`: a value outside is a
    sensor or transmission fault, not weather, so the row is quarantined.
    `kind` decides how the model uses it (core/features.py): weather of the hour
    is a feature, a pollutant is seen only one hour earlier (at forecast time this
    hour's pollution is not known). `molar_mass` (g/mol) converts a gas's ppb/ppm
    to a mass concentration.
    """

    unit: str
    low: float
    high: float
    kind: str  # "pollutant" | "weather"
    molar_mass: float | None = None


CATALOGUE: dict[str, Quantity] = {
    "pm25": Quantity("µg/m³", 0.0, 1000.0, "pollutant"),
    "pm10": Quantity("µg/m³", 0.0, 2000.0, "pollutant"),
    "no2": Quantity("µg/m³", 0.0, 1000.0, "pollutant", 46.0055),
    "o3": Quantity("µg/m³", 0.0, 1000.0, "pollutant", 47.9982),
    "so2": Quantity("µg/m³", 0.0, 2000.0, "pollutant", 64.066),
    "co": Quantity("mg/m³", 0.0, 100.0, "pollutant", 28.010),
    "temperature": Quantity("°C", -60.0, 60.0, "weather"),
    "dew_point": Quantity("°C", -70.0, 40.0, "weather"),
    "humidity": Quantity("%", 0.0, 100.0, "weather"),
    "wind_speed": Quantity("m/s", 0.0, 75.0, "weather"),
    "pressure": Quantity("hPa", 850.0, 1100.0, "weather"),
    "precipitation": Quantity("mm/h", 0.0, 300.0, "weather"),
}

# The generator's nine quantities: the synthetic dataset's measured columns.
SYNTHETIC = ("pm25", "pm10", "no2", "o3", "temperature", "humidity", "wind_speed",
             "pressure", "precipitation")
# The canonical CSV layout: what the generator writes and `[data] source = "csv"` reads.
COLUMNS = (*KEY_COLUMNS, *SYNTHETIC)

# Other spellings of a unit, as files write them.
UNIT_ALIASES = {
    "ug/m3": "µg/m³", "µg/m3": "µg/m³", "μg/m³": "µg/m³", "ug m-3": "µg/m³",
    "mg/m3": "mg/m³", "degc": "°C", "c": "°C", "deg c": "°C", "celsius": "°C",
    "degf": "°F", "f": "°F", "deg f": "°F", "fahrenheit": "°F", "kelvin": "K",
    "kmh": "km/h", "kph": "km/h", "kt": "knots", "kn": "knots", "mbar": "hPa",
    "millibar": "hPa", "mm": "mm/h", "percent": "%",
}


def canonical_unit(unit: str) -> str:
    """The catalogue's spelling of a unit (aliases folded, case-insensitive where safe)."""
    return UNIT_ALIASES.get(unit.strip().lower(), unit.strip())


def converter(quantity: str, unit: str, gas_temperature_c: float = 25.0
              ) -> Callable[[float], float] | None:
    """A function from `unit` to the quantity's canonical unit, or None if none is known.

    Works on floats and on numpy/pandas arrays alike. Gas volume ratios (ppb, ppm)
    become mass concentrations at `gas_temperature_c` and 1013.25 hPa:
    µg/m³ = ppb × M / Vm with Vm = 22.414 L/mol × (273.15 + T) / 273.15
    (24.45 L/mol at 25 °C, the EU and US EPA reference; 24.04 at 20 °C).
    """
    q = CATALOGUE[quantity]
    unit = canonical_unit(unit)
    if unit == q.unit:
        return lambda x: x
    if q.molar_mass is not None and unit in ("ppb", "ppm"):
        vm = _MOLAR_VOLUME_0C * (273.15 + gas_temperature_c) / 273.15
        per_ppb = q.molar_mass / vm  # µg/m³ per ppb
        factor = per_ppb * (1000.0 if unit == "ppm" else 1.0)
        if q.unit == "mg/m³":
            factor /= 1000.0
        return lambda x: x * factor
    factor = _LINEAR.get((unit, q.unit))
    if factor is not None:
        return lambda x: x * factor
    if (unit, q.unit) == ("°F", "°C"):
        return lambda x: (x - 32.0) * 5.0 / 9.0
    if (unit, q.unit) == ("K", "°C"):
        return lambda x: x - 273.15
    return None


# (from, to): multiply by. Exact by definition (mph, knots, inch) or by convention.
_LINEAR: dict[tuple[str, str], float] = {
    ("mph", "m/s"): 0.44704,
    ("km/h", "m/s"): 1 / 3.6,
    ("knots", "m/s"): 1852 / 3600,
    ("kPa", "hPa"): 10.0,
    ("Pa", "hPa"): 0.01,
    ("inHg", "hPa"): 33.8639,
    ("mmHg", "hPa"): 1.333224,
    ("in/h", "mm/h"): 25.4,
    ("mg/m³", "µg/m³"): 1000.0,
    ("µg/m³", "mg/m³"): 0.001,
}


def ranges(columns: tuple[str, ...] | list[str]) -> dict[str, list[float]]:
    """{column: [low, high]} for the given canonical columns: what dbt re-checks."""
    return {c: [CATALOGUE[c].low, CATALOGUE[c].high] for c in columns}
