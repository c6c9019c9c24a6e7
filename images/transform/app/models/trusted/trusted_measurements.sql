-- Typed, deduplicated, range-checked measurements. Ingest already quarantined
-- bad rows of each file; this layer guards what no single file can see (the
-- same station-hour delivered on two days: the later delivery wins) and what a
-- hand-edited raw file could break.
with source as (
    select *
    from read_parquet('{{ var("raw_glob") }}', union_by_name = true)
    -- the day before the range too: features need yesterday's values for lags
    where cast(date as date) between cast('{{ var("start_date") }}' as date) - interval 1 day
                                 and cast('{{ var("end_date") }}' as date)
),

typed as (
    select
        cast(station_id as varchar) as station_id,
        cast("timestamp" as timestamp) as ts,
        cast(cast("timestamp" as timestamp) as date) as date,
        {% for column in var('ranges') -%}
        cast({{ column }} as double) as {{ column }},
        {% endfor -%}
        cast(date as date) as delivered_on,
        source_file
    from source
),

deduplicated as (
    select *
    from typed
    qualify row_number() over (
        partition by station_id, ts order by delivered_on desc, source_file desc
    ) = 1
)

select station_id, ts, date, {{ measurement_columns() }}
from deduplicated
where {{ in_range_condition() }}
