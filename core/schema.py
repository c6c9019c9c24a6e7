"""The measurement schema, in one place.

Ingest validates against it, the generator writes it, the drift check and the
dbt models use the same column names (the dbt tests re-check the same ranges
inside the container, so the two must agree: tests/test_schema.py checks that).
"""

from __future__ import annotations

KEY_COLUMNS = ("station_id", "timestamp")

# column: (unit, physically plausible min, max). A value outside is a sensor or
# transmission fault, not weather, so the row is quarantined.
MEASUREMENTS: dict[str, tuple[str, float, float]] = {
    "pm25": ("µg/m³", 0.0, 1000.0),
    "pm10": ("µg/m³", 0.0, 2000.0),
    "no2": ("µg/m³", 0.0, 1000.0),
    "o3": ("µg/m³", 0.0, 1000.0),
    "temperature": ("°C", -60.0, 60.0),
    "humidity": ("%", 0.0, 100.0),
    "wind_speed": ("m/s", 0.0, 75.0),
    "pressure": ("hPa", 850.0, 1100.0),
    "precipitation": ("mm/h", 0.0, 300.0),
}

COLUMNS = (*KEY_COLUMNS, *MEASUREMENTS)

# What the model predicts, and what it sees. pm25 of the hour is the target;
# the model sees the weather of that hour and pollution one and 24 hours earlier.
TARGET = "pm25"
FEATURES = (
    "temperature",
    "humidity",
    "wind_speed",
    "pressure",
    "precipitation",
    "hour_sin",
    "hour_cos",
    "pm25_lag_1h",
    "pm25_lag_24h",
    "pm10_lag_1h",
    "no2_lag_1h",
    "o3_lag_1h",
)

# Columns the drift check compares: the measured quantities themselves. Lags
# repeat them an hour later (counting one shift several times) and hour_sin/cos
# are the clock, identical in every window, so neither says anything new.
DRIFT_COLUMNS = tuple(MEASUREMENTS)
