-- Model features for each station-hour of the range: the hour's weather, the
-- clock, and the lagged measurements var('lags') asks for (1 h and 24 h earlier).
-- A station-hour is kept only if the rows one and 24 hours earlier exist (the
-- first day of a history, the hour after a quarantined row are left out); their
-- values may be NULL (not measured), which the model imputes. The target's own
-- column is the label.
with t as (
    select * from {{ ref('trusted_measurements') }}
)

select
    t.station_id,
    t.ts,
    t.date,
    {{ measurement_columns('t.') }},
    sin(2 * pi() * hour(t.ts) / 24) as hour_sin,
    cos(2 * pi() * hour(t.ts) / 24) as hour_cos
    {{ lag_columns() }}
from t
join t as h1 on h1.station_id = t.station_id and h1.ts = t.ts - interval 1 hour
join t as h24 on h24.station_id = t.station_id and h24.ts = t.ts - interval 24 hour
where t.date between cast('{{ var("start_date") }}' as date)
                 and cast('{{ var("end_date") }}' as date)
