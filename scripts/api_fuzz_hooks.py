"""schemathesis hooks of scripts/api-fuzz.sh."""
import schemathesis

FOLLOW = {"1", "true", "yes"}


@schemathesis.hook
def before_call(ctx, case, kwargs):
    # `GET /v1/events?follow=1` streams until the client leaves: a request-response tester would wait on it until its
    # timeout. The refusal of values follow does not take is still tested; scripts/flood.sh and the tests test the
    # stream itself.
    query = case.query
    if case.operation.path == "/v1/events" and query and str(query.get("follow", "")).lower() in FOLLOW:
        del query["follow"]
