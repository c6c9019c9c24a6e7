{# "(col is null or col between lo and hi) and ..." for every measured column, from
   var('ranges'). A missing value (NULL) is data, not a range violation: ingest keeps
   it, and the model imputes it. #}
{% macro in_range_condition(prefix='') -%}
  {%- for column, bounds in var('ranges').items() -%}
    ({{ prefix }}{{ column }} is null or {{ prefix }}{{ column }} between {{ bounds[0] }} and {{ bounds[1] }}){% if not loop.last %} and {% endif %}
  {%- endfor -%}
{%- endmacro %}

{% macro measurement_columns(prefix='') -%}
  {%- for column in var('ranges') -%}
    {{ prefix }}{{ column }}{% if not loop.last %}, {% endif %}
  {%- endfor -%}
{%- endmacro %}

{# ", h1.pm25 as pm25_lag_1h, h24.pm25 as pm25_lag_24h, ..." from var('lags'), {column:
   [hours]}. Only 1 and 24 hours exist (features.sql joins the hour before and the day
   before); transform.py refuses other vars before dbt starts. #}
{% macro lag_columns() -%}
  {%- for column, hours in var('lags').items() -%}
    {%- for h in hours -%}
      , h{{ h }}.{{ column }} as {{ column }}_lag_{{ h }}h
    {%- endfor -%}
  {%- endfor -%}
{%- endmacro %}
