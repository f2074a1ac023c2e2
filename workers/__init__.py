"""Cloud worker processes: wiring of a Temporal client, workflows and activities."""
