{# "col between lo and hi and ..." for every measured column, from var('ranges'). #}
{% macro in_range_condition(prefix='') -%}
  {%- for column, bounds in var('ranges').items() -%}
    {{ prefix }}{{ column }} between {{ bounds[0] }} and {{ bounds[1] }}{% if not loop.last %} and {% endif %}
  {%- endfor -%}
{%- endmacro %}

{% macro measurement_columns(prefix='') -%}
  {%- for column in var('ranges') -%}
    {{ prefix }}{{ column }}{% if not loop.last %}, {% endif %}
  {%- endfor -%}
{%- endmacro %}
