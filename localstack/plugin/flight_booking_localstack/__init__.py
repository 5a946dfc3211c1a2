"""LocalStack plugins for running the flight-booking stack without Docker (test infrastructure)."""
