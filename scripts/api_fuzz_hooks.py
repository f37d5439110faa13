"""schemathesis hooks of scripts/api-fuzz.sh."""
import schemathesis

FOLLOW = {"1", "true", "yes"}


@schemathesis.hook
def map_query(ctx, query):
    # `GET /v1/events?follow=1` streams until the client leaves: a request-response tester would wait on it until its
    # timeout. The refusal of other values of follow is still tested; scripts/flood.sh and the tests test the stream.
    if query and ctx.operation.path == "/v1/events" and str(query.get("follow", "")).lower() in FOLLOW:
        query = dict(query)
        del query["follow"]
    return query
