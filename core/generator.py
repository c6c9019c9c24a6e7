"""Seeded synthetic hourly air-quality measurements, with a drift knob.

Each (seed, station, date) has its own random stream, so generating one date
alone gives the same rows as generating it inside a range: a backfill and a
daily run see identical data, which the parity tests rely on.

The weather has a daily cycle, a slow seasonal swing and day-to-day regimes,
and pollution follows traffic and weather, so the data has the structure that
makes naive drift tests cry wolf (hourly autocorrelation, daily cycles).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING

from core.config import DataConfig
from core.schema import CATALOGUE, COLUMNS, SYNTHETIC

if TYPE_CHECKING:
    import pandas as pd

# Which columns shift, and by how much (in units of the column's typical spread).
DRIFT_SHIFTS: dict[str, dict[str, float]] = {
    "none": {},
    "mild": {"no2": 1.5, "o3": -1.5},
    "strong": {"pm25": 2.0, "pm10": 2.0, "temperature": 2.0, "humidity": -2.0},
}

# Typical spread of each column in this generator, used to size drift shifts.
SPREAD = {
    "pm25": 8.0,
    "pm10": 13.0,
    "no2": 10.0,
    "o3": 14.0,
    "temperature": 4.5,
    "humidity": 12.0,
    "wind_speed": 1.8,
    "pressure": 5.0,
    "precipitation": 0.6,
}

_RAMP_DAYS = 2  # drift grows over this many days, as a real sensor or climate shift would


def generate_day(cfg: DataConfig, day: dt.date) -> pd.DataFrame:
    """All stations' hourly rows for one date, as a DataFrame in schema column order."""
    import numpy as np
    import pandas as pd

    frames = []
    hours = np.arange(24)
    for station in range(cfg.stations):
        rng = np.random.default_rng([cfg.seed, station, day.toordinal()])
        season = np.sin(2 * np.pi * (day.timetuple().tm_yday - 110) / 365.25)
        regime = rng.normal(size=3) * 0.5  # the day's weather regime: warm/cold, windy, wet
        diurnal = np.sin(2 * np.pi * (hours - 9) / 24)
        rush = np.exp(-((hours - 8) ** 2) / 4) + np.exp(-((hours - 18) ** 2) / 5)

        temperature = 11 + 5 * season + 4 * diurnal + 2 * regime[0] + _ar(rng, 0.8, 0.6)
        wind = np.clip(2.5 + 0.6 * regime[1] + 0.5 * diurnal + _ar(rng, 0.7, 0.8), 0.1, None)
        humidity = np.clip(72 - 2.2 * (temperature - 11) + 4 * regime[2] + _ar(rng, 0.7, 4), 5, 100)
        pressure = 1013 + 3 * regime[1] - 2 * regime[2] + _ar(rng, 0.95, 0.6)
        wet = rng.random(24) < 0.08 + 0.08 * max(regime[2], 0)
        precipitation = np.where(wet, rng.gamma(1.5, 0.6, 24), 0.0)
        no2 = np.clip(18 + 3 * station + 16 * rush - 2.5 * wind + _ar(rng, 0.7, 3.5), 0, None)
        o3 = np.clip(
            45 + 18 * diurnal + 1.2 * (temperature - 11) - 0.3 * no2 + _ar(rng, 0.7, 4), 0, None
        )
        pm25 = np.clip(
            9
            + 2 * station
            + 10 * rush
            - 2.0 * wind
            - 3 * precipitation
            + 0.06 * (humidity - 70)
            + _ar(rng, 0.85, 2.5),
            0.5,
            None,
        )
        pm10 = np.clip(1.6 * pm25 + 3 + _ar(rng, 0.6, 3), 0.5, None)

        frame = pd.DataFrame(
            {
                "station_id": f"ST{station + 1:02d}",
                "timestamp": [dt.datetime.combine(day, dt.time(h)) for h in hours],
                "pm25": pm25,
                "pm10": pm10,
                "no2": no2,
                "o3": o3,
                "temperature": temperature,
                "humidity": humidity,
                "wind_speed": wind,
                "pressure": pressure,
                "precipitation": precipitation,
            }
        )
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    _apply_drift(out, cfg, day)
    for column in SYNTHETIC:
        out[column] = out[column].clip(CATALOGUE[column].low, CATALOGUE[column].high).round(2)
    return out[list(COLUMNS)]


def generate_csv(cfg: DataConfig, day: dt.date) -> str:
    """The day's rows as the CSV a station network would deliver, bad rows included."""
    frame = generate_day(cfg, day)
    text = frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S", float_format="%.2f")
    if cfg.bad_row_rate > 0:
        text = _spoil(text, cfg, day)
    return text


def drift_factor(cfg: DataConfig, day: dt.date) -> float:
    """0 before the drift starts, ramping to 1 over _RAMP_DAYS."""
    start = cfg.drift_start_date
    if cfg.drift == "none" or start is None or day < start:
        return 0.0
    return min(1.0, ((day - start).days + 1) / _RAMP_DAYS)


def _apply_drift(frame: pd.DataFrame, cfg: DataConfig, day: dt.date) -> None:
    factor = drift_factor(cfg, day)
    for column, shift in DRIFT_SHIFTS[cfg.drift].items():
        frame[column] = frame[column] + factor * shift * SPREAD[column]


def _ar(rng, phi: float, sigma: float):
    """An AR(1) series of 24 hours: measurements an hour apart are correlated."""
    import numpy as np

    noise = rng.normal(scale=sigma, size=24)
    out = np.empty(24)
    out[0] = noise[0] / np.sqrt(1 - phi**2)
    for i in range(1, 24):
        out[i] = phi * out[i - 1] + noise[i]
    return out


def _spoil(text: str, cfg: DataConfig, day: dt.date) -> str:
    """Make a seeded share of rows invalid in the ways real feeds are: the test of quarantine."""
    import numpy as np

    rng = np.random.default_rng([cfg.seed, 10_000, day.toordinal()])
    lines = text.splitlines()
    header, rows = lines[0], lines[1:]
    n_bad = max(1, round(len(rows) * cfg.bad_row_rate))
    picks = rng.choice(len(rows), size=min(n_bad, len(rows)), replace=False)
    kinds = ("missing", "type", "range", "duplicate")
    out = list(rows)
    extra = []
    for i, pick in enumerate(sorted(picks)):
        cells = rows[pick].split(",")
        kind = kinds[i % len(kinds)]
        if kind == "missing":
            cells[0] = ""  # a key: an empty measurement is data (NULL), not a reject
        elif kind == "type":
            cells[6] = "n/a"
        elif kind == "range":
            cells[7] = "140.00"  # humidity above 100 %
        else:
            extra.append(rows[pick])
            continue
        out[pick] = ",".join(cells)
    buf = io.StringIO()
    buf.write("\n".join([header, *out, *extra]) + "\n")
    return buf.getvalue()
