"""airflow_impl."""
