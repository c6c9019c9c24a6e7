-- Typed, deduplicated, range-checked measurements. Ingest already quarantined
-- bad rows of each file; this layer guards what no single file can see (the
-- same station-hour delivered on two days: the later delivery wins) and what a
-- hand-edited raw file could break. A measurement may be NULL (not measured):
-- that is data, kept, and passes the range check.
--
-- `date` is the raw partition's logical date: the local calendar date of the
-- dataset's time zone, which may differ from the UTC date of `ts`.
with source as (
    select *
    from read_parquet('{{ var("raw_glob") }}', union_by_name = true)
    -- two days before the range too: features need the values 24 h earlier, and
    -- after a 23-hour local day (DST starts) those lie two logical dates back
    where cast(date as date) between cast('{{ var("start_date") }}' as date) - interval 2 day
                                 and cast('{{ var("end_date") }}' as date)
),

typed as (
    select
        cast(station_id as varchar) as station_id,
        cast("timestamp" as timestamp) as ts,
        cast(date as date) as date,
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
