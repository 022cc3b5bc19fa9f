"""KPIs, readings ingestion, alert rules and the breach lifecycle."""
