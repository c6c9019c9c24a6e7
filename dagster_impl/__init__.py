"""dagster_impl."""
