{# Rows that break the measured ranges: a dbt test passes when this returns none. #}
{% test within_schema_ranges(model) %}
select * from {{ model }} where not ({{ in_range_condition() }})
{% endtest %}

{# Duplicate keys: the dbt_utils test, written here because the container has no network. #}
{% test unique_key(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
