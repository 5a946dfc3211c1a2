#!/bin/sh
# Runs inside LocalStack once it is ready: nothing needs creating by hand (the stack creates its own
# tables, roles and API), so this only says so in LocalStack's log, where `docker compose logs` shows it.
echo "flight-booking: LocalStack is ready; deploy with: npx sls deploy --stage local"
