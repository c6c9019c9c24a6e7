"""prefect_impl."""
