#!/usr/bin/env python3
"""Checks recorded Kinsta requests and answers against Kinsta's OpenAPI file.

usage: contract-check.py REQUESTS_JSON [--openapi FILE]

REQUESTS_JSON is what the simulator's GET /_sim/requests answers: a list of {method, path, body?, status, answer}.
For each entry the OpenAPI operation is found by method and path template (the /v2 prefix stripped); the request
body is validated against the operation's requestBody schema, and the answer body against the response schema for
its status, when the file has one (Draft 2020-12, with the file's components resolvable for $ref, formats checked).
Prints per operation: requests checked, answers checked, violations. Exits 1 on any request violation, and on any
answer violation for a 2xx.
"""
import argparse
import json
import os
import sys
import urllib.parse
from collections import defaultdict

try:
    import jsonschema
except ImportError:  # pragma: no cover
    sys.exit("contract-check: needs the PyPI package jsonschema (scripts/install-deps.sh installs it)")

DEFAULT_OPENAPI = os.environ.get(
    "KINSTA_OPENAPI",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "kinsta-openapi.json"),
)
METHODS = ("get", "post", "put", "delete", "patch")


def load_spec(path):
    with open(path) as f:
        return json.load(f)


def resolve(spec, node):
    """Follows a non-schema $ref (a requestBody or response object)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
        seen += 1
    return node


def templates(spec):
    """(method, segments, template) for every operation, most literal segments first."""
    out = []
    for template, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                segments = [s for s in template.split("/") if s]
                out.append((method.upper(), segments, template))
    out.sort(key=lambda t: -sum(1 for s in t[1] if not s.startswith("{")))
    return out


def find_operation(ops, method, path):
    raw = urllib.parse.urlsplit(path).path
    if raw.startswith("/v2"):
        raw = raw[3:]
    segments = [s for s in raw.split("/") if s]
    for op_method, op_segments, template in ops:
        if op_method != method or len(op_segments) != len(segments):
            continue
        if all(t.startswith("{") or t == s for t, s in zip(op_segments, segments)):
            return template
    return None


def validator(spec, schema):
    root = dict(schema)
    root["components"] = spec.get("components", {})
    cls = jsonschema.Draft202012Validator
    return cls(root, format_checker=cls.FORMAT_CHECKER)


def schema_of(spec, content_holder):
    content = (content_holder or {}).get("content", {})
    media = content.get("application/json")
    return media.get("schema") if media else None


def errors(spec, schema, instance):
    return sorted(validator(spec, schema).iter_errors(instance), key=lambda e: list(e.absolute_path))


def describe(error):
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests")
    parser.add_argument("--openapi", default=DEFAULT_OPENAPI)
    parser.add_argument("--quiet", action="store_true", help="only the summary")
    parser.add_argument(
        "--allow-refused",
        action="store_true",
        help="a request off the spec that was refused (4xx) is expected (a test of the refusal), not a failure",
    )
    parser.add_argument(
        "--chaos",
        action="store_true",
        help="answers that are not JSON (a chaos run's garbage bodies and proxy pages) are counted, not failed",
    )
    args = parser.parse_args()
    spec = load_spec(args.openapi)
    ops = templates(spec)
    with open(args.requests) as f:
        entries = json.load(f)

    counts = defaultdict(lambda: {"requests": 0, "answers": 0, "violations": 0, "refused": 0})
    failing = 0
    unmatched = 0
    problems = []
    for entry in entries:
        method, path = entry["method"], entry["path"]
        template = find_operation(ops, method, path)
        if template is None:
            unmatched += 1
            problems.append(f"{method} {path}: no operation in the OpenAPI file")
            continue
        key = f"{method} {template}"
        operation = spec["paths"][template][method.lower()]
        row = counts[key]
        # The request: its path parameters, then its body
        refused = 400 <= entry["status"] < 500
        request_problems = []
        segments = [s for s in urllib.parse.urlsplit(path).path[3:].split("/") if s]
        template_segments = [s for s in template.split("/") if s]
        for parameter in operation.get("parameters", []):
            parameter = resolve(spec, parameter)
            if parameter.get("in") != "path" or "schema" not in parameter:
                continue
            name = "{" + parameter["name"] + "}"
            if name not in template_segments:
                continue
            value = urllib.parse.unquote(segments[template_segments.index(name)])
            if resolve(spec, parameter["schema"]).get("type") in ("number", "integer"):
                try:
                    value = float(value) if "." in value else int(value)
                except ValueError:
                    pass
            for error in errors(spec, parameter["schema"], value):
                request_problems.append(f"path parameter {parameter['name']}: {error.message}")
        body_spec = resolve(spec, operation.get("requestBody"))
        schema = schema_of(spec, body_spec)
        if schema is not None and "body" in entry:
            request_problems += [describe(error) for error in errors(spec, schema, entry["body"])]
        elif schema is not None and body_spec.get("required") and not refused:
            request_problems.append("accepted without its required body")
        row["requests"] += 1
        for problem in request_problems:
            row["violations"] += 1
            if refused and args.allow_refused:
                row["refused"] += 1
                problems.append(f"refused as it should be: request {entry.get('seq')} {key} ({entry['status']}): {problem}")
            else:
                failing += 1
                problems.append(f"request {entry.get('seq')} {key} (answered {entry['status']}): {problem}")
        # The answer
        status = entry["status"]
        response = resolve(spec, operation.get("responses", {}).get(str(status)))
        answer_schema = schema_of(spec, response)
        if answer_schema is None:
            continue
        row["answers"] += 1
        try:
            answer = json.loads(entry.get("answer", ""))
        except ValueError:
            row["violations"] += 1
            if 200 <= status < 300 and not args.chaos:
                failing += 1
            problems.append(f"answer {entry.get('seq')} {key} {status}: not JSON")
            continue
        for error in errors(spec, answer_schema, answer):
            row["violations"] += 1
            if 200 <= status < 300:
                failing += 1
            problems.append(f"answer {entry.get('seq')} {key} {status}: {describe(error)}")

    if not args.quiet:
        for problem in problems:
            if problem.startswith("refused as it should be"):
                print("EXPECTED  " + problem)
            elif problem.endswith("OpenAPI file"):
                print("UNMATCHED " + problem)
            else:
                print("VIOLATION " + problem)
    width = max([len(k) for k in counts] + [9])
    print(f"{'operation':<{width}}  requests  answers  violations  (refused as expected)")
    for key in sorted(counts):
        row = counts[key]
        print(f"{key:<{width}}  {row['requests']:>8}  {row['answers']:>7}  {row['violations']:>10}  ({row['refused']})")
    total = {n: sum(r[n] for r in counts.values()) for n in ("requests", "answers", "violations", "refused")}
    print(
        f"operations: {len(counts)}; requests checked: {total['requests']}; answers checked: {total['answers']}; "
        f"violations: {total['violations']} ({total['refused']} refused as expected, {failing} failing); "
        f"unmatched paths: {unmatched}"
    )
    return 1 if failing or unmatched else 0


if __name__ == "__main__":
    sys.exit(main())
