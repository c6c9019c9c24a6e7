-- Model features for each station-hour of the range: the hour's weather, the
-- clock, and pollution one and 24 hours earlier. Hours without both lags (the
-- first day of history, the hour after a quarantined row) are left out: the
-- model cannot use them, and imputing would invent data.
with t as (
    select * from {{ ref('trusted_measurements') }}
)

select
    t.station_id,
    t.ts,
    t.date,
    {{ measurement_columns('t.') }},
    sin(2 * pi() * hour(t.ts) / 24) as hour_sin,
    cos(2 * pi() * hour(t.ts) / 24) as hour_cos,
    h1.pm25 as pm25_lag_1h,
    h24.pm25 as pm25_lag_24h,
    h1.pm10 as pm10_lag_1h,
    h1.no2 as no2_lag_1h,
    h1.o3 as o3_lag_1h
from t
join t as h1 on h1.station_id = t.station_id and h1.ts = t.ts - interval 1 hour
join t as h24 on h24.station_id = t.station_id and h24.ts = t.ts - interval 24 hour
where t.date between cast('{{ var("start_date") }}' as date)
                 and cast('{{ var("end_date") }}' as date)
