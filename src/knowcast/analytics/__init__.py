"""The analytics plane: event intake, live aggregates, review reports, channels and costs, profiles, forecasts,
experiments and the advisor. It learns everything from bus events and its own intake endpoint; nothing imports
it but the web routes for its pages. Every figure follows docs/metrics.md."""
