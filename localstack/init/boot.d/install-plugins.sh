#!/bin/sh
# Runs inside the LocalStack container before LocalStack starts (boot.d): installs this repository's
# LocalStack plugins (../../plugin, mounted read-only at /opt/flight-booking-plugin) into LocalStack's
# own virtualenv, from a copy (pip builds in the source folder). Only the entry points that need no
# opt-in take effect: the authorizer's CloudFormation provider, the Lambda authorizer executor, the
# gateway responses and the WebSocket API (the apigatewayv2 provider, its CloudFormation resources, the
# data plane). The container keeps its own DynamoDB Local and Docker Lambdas.
set -e
rm -rf /tmp/flight-booking-plugin
cp -r /opt/flight-booking-plugin /tmp/flight-booking-plugin
/opt/code/localstack/.venv/bin/pip install --quiet --no-deps /tmp/flight-booking-plugin
echo "flight-booking: LocalStack plugins installed"
