"""The report's sections, in page order: header, summary, setup, latency, failure,
policy, reproduce, all figures. Each returns blocks (benchmarks.report.document)."""
