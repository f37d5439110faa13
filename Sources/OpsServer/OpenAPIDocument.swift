public import Foundation
import HTTPTypes
import Hummingbird
public import OpsCore
import OpsProtocol
import OpsStore

/// `GET /v1/openapi.json`: the socket API as an OpenAPI 3.1 document, so a deploy script or a chat bot can generate
/// its client from it.
///
/// Built from what the routes use: the route table below (``routes(metrics:)``, which a test checks against the
/// router's own list both ways), the job catalog (one request schema per kind, each parameter typed from its
/// ``ParamSpec``), ``ErrorCode``, ``JobState`` and the configuration's parameter defaults (a parameter the
/// configuration fills in is not `required`). A new kind needs no change here.
public enum OpenAPIDocument {
    /// One documented operation: a method on a path as the router spells it (`/v1/jobs/{id}`).
    public struct Route: Sendable, Hashable {
        public var method: String
        public var path: String
        var operationID: String
        var summary: String
        var parameters: [JSONValue] = []
        var requestBody: JSONValue?
        var responses: [String: JSONValue]
        /// Whether the route sits behind the peer check and the connection cap (every route does).
        var common = true

        var operation: JSONValue {
            var responses = self.responses
            if common {
                responses["403"] = responses["403"] ?? OpenAPIDocument.error("the peer's uid may not use the daemon")
                responses["503"] =
                    responses["503"]
                    ?? OpenAPIDocument.error(
                        "too_many_connections (the socket's connection cap), storage_unavailable, or a Kinsta "
                            + "read-through that cannot be answered now"
                    )
            }
            var operation: [String: JSONValue] = [
                "operationId": .string(operationID),
                "summary": .string(summary),
                "responses": .object(responses),
            ]
            if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
            if let requestBody { operation["requestBody"] = requestBody }
            return .object(operation)
        }
    }

    /// The document as the socket serves it: canonical JSON (sorted keys), the same bytes for the same daemon.
    public static func data(version: String, defaults: ParamDefaults, metrics: Bool) -> Data {
        let document = document(version: version, defaults: defaults, metrics: metrics)
        return (try? CanonicalJSON.encoder().encode(document)) ?? Data("{}".utf8)
    }

    /// The document.
    public static func document(version: String, defaults: ParamDefaults, metrics: Bool) -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for route in routes(metrics: metrics) {
            paths[route.path, default: [:]][route.method.lowercased()] = route.operation
        }
        var schemas = viewSchemas
        for spec in JobCatalog.specs {
            schemas[schemaName(spec.name)] = submitSchema(spec, defaults: defaults)
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "kinsta-opsd socket API",
                "version": .string(version),
                "description": .string(
                    "HTTP/1.1 and JSON over the daemon's Unix socket (default /run/kinsta-opsd/kinsta-opsd.sock; "
                        + "curl --unix-socket PATH http://localhost/v1/...). Every error answer is "
                        + "{\"error\": {\"code\", \"message\", \"field\"?}}; bodies over 64 KiB (a plan's: 1 MiB) answer 413. "
                        + "A job is submitted as one of the kinds of GET /v1/kinds, each with its own params schema "
                        + "here (Submit.KIND). Rules between parameters of one kind (a certificate with its key, "
                        + "a push not onto its own source, a long enough SFTP password, …) are checked by the "
                        + "daemon and answered 422 invalid_params with the field at fault."
                ),
            ],
            "servers": [["url": "http://localhost", "description": "the Unix socket (any host name)"]],
            "paths": .object(paths.mapValues { .object($0) }),
            "components": ["schemas": .object(schemas)],
        ]
    }

    // MARK: - Routes

    /// Every route `SocketAPI.buildRouter()` registers, with its parameters and answers.
    public static func routes(metrics: Bool) -> [Route] {
        let v1 = "/" + socketAPIVersion
        let jobID = pathID("id", "The job's ID")
        var routes: [Route] = [
            Route(
                method: "POST",
                path: v1 + "/jobs",
                operationID: "submitJob",
                summary: "Submit a job: one of the kinds, with its parameters",
                parameters: [
                    [
                        "name": "Idempotency-Key", "in": "header", "required": false,
                        "description": .string(
                            "The same key with the same body gives the original job (200); with another body, 409 "
                                + "idempotency_conflict"
                        ),
                        "schema": [
                            "type": "string", "minLength": 1, "maxLength": 255, "pattern": #"^[!-~]([ -~]*[!-~])?$"#,
                        ],
                    ]
                ],
                requestBody: [
                    "required": true,
                    "content": [
                        "application/json": ["schema": ["$ref": "#/components/schemas/SubmitJob"]]
                    ],
                ],
                responses: [
                    "201": merge(json("The job, stored", "Job"), ["links": jobLinks]),
                    "200": json("The job an earlier request with this Idempotency-Key made", "Job"),
                    "400": error("invalid_json (not JSON, kind or params missing or of the wrong type), bad_request"),
                    "409": error("idempotency_conflict"),
                    "413": error("body_too_large"),
                    "415": error("unsupported_media_type: the body is not application/json"),
                    "422": error("unknown_kind, or invalid_params with the field at fault"),
                ]
            ),
            Route(
                method: "GET",
                path: v1 + "/jobs",
                operationID: "listJobs",
                summary: "Jobs, newest first",
                parameters: [
                    query(
                        "state",
                        "Only jobs in this state, or in any of several separated by commas (failed,needs_attention)",
                        [
                            "type": "string",
                            "pattern": .string(
                                "^(\(JobState.allCases.map(\.rawValue).joined(separator: "|")))"
                                    + "(,(\(JobState.allCases.map(\.rawValue).joined(separator: "|"))))*$"
                            ),
                        ]
                    ),
                    query("kind", "Only jobs of this kind", enumSchema(JobCatalog.specs.map(\.name))),
                    query("limit", "At most this many (default 50)", integer(1...1000)),
                    query("before", "Only jobs with a smaller ID (the next_before of the previous page)", id),
                    query("since", "Only jobs submitted at or after this time (ISO-8601 with a zone)", date),
                    query("until", "Only jobs submitted at or before this time (ISO-8601 with a zone)", date),
                ],
                responses: [
                    "200": json("A page of jobs", "JobList"), "400": error("bad_request: a query parameter"),
                ]
            ),
            Route(
                method: "GET",
                path: v1 + "/jobs/{id}",
                operationID: "showJob",
                summary: "One job with its event history",
                parameters: [jobID],
                responses: [
                    "200": json("The job, with events", "Job"), "400": error("bad_request: the ID"),
                    "404": error("not_found"),
                ]
            ),
            Route(
                method: "POST",
                path: v1 + "/jobs/{id}/cancel",
                operationID: "cancelJob",
                summary: "Cancel a queued job",
                parameters: [jobID],
                responses: [
                    "200": json("The cancelled job", "Job"), "400": error("bad_request: the ID"),
                    "404": error("not_found"), "409": error("conflict: the job's state does not allow it"),
                ]
            ),
            Route(
                method: "POST",
                path: v1 + "/jobs/{id}/retry",
                operationID: "retryJob",
                summary: "A new attempt of a failed, timed_out or needs_attention job",
                parameters: [jobID],
                responses: [
                    "200": json("The job, queued again (or watching its operation again)", "Job"),
                    "400": error("bad_request: the ID"), "404": error("not_found"),
                    "409": error("conflict: the job's state does not allow it"),
                ]
            ),
            Route(
                method: "POST",
                path: v1 + "/jobs/{id}/approve",
                operationID: "approveJob",
                summary: "Release a held job (the approver's uid is recorded in its event)",
                parameters: [jobID],
                responses: [
                    "200": json("The job, waiting or queued", "Job"),
                    "400": error("bad_request: the ID"), "404": error("not_found"),
                    "403": error("forbidden: with distinct_approver, the submitter cannot approve its own job"),
                    "409": error("conflict: the job is not held"),
                ]
            ),
            Route(
                method: "POST",
                path: v1 + "/plans",
                operationID: "submitPlan",
                summary: "Submit a plan: steps with after and outputs passed between them, stored in one transaction",
                parameters: [
                    [
                        "name": "Idempotency-Key", "in": "header", "required": false,
                        "description": "The same key with the same plan gives the original plan (200)",
                        "schema": ["type": "string", "minLength": 1, "maxLength": 255],
                    ]
                ],
                requestBody: [
                    "required": true,
                    "content": ["application/json": ["schema": ["$ref": "#/components/schemas/SubmitPlan"]]],
                ],
                responses: [
                    "201": json("The plan, stored with its jobs", "Plan"),
                    "200": json("The plan an earlier request with this Idempotency-Key made", "Plan"),
                    "400": error("invalid_json"), "409": error("idempotency_conflict"),
                    "413": error("body_too_large (1 MiB)"), "415": error("unsupported_media_type"),
                    "422": error(
                        "invalid_params: a step's kind or parameters, an after or output reference that names no "
                            + "step or output, or a cycle; the message names the step"
                    ),
                ]
            ),
            Route(
                method: "GET",
                path: v1 + "/plans",
                operationID: "listPlans",
                summary: "Plans, newest first",
                parameters: [
                    query("limit", "At most this many (default 20)", integer(1...200)),
                    query("before", "Only plans with a smaller ID (the next_before of the previous page)", id),
                ],
                responses: ["200": json("A page of plans", "PlanList"), "400": error("bad_request")]
            ),
            Route(
                method: "GET",
                path: v1 + "/plans/{id}",
                operationID: "showPlan",
                summary: "One plan: its steps' jobs and where they stand",
                parameters: [pathID("id", "The plan's ID")],
                responses: [
                    "200": json("The plan", "Plan"), "400": error("bad_request: the ID"), "404": error("not_found"),
                ]
            ),
            Route(
                method: "POST",
                path: v1 + "/plans/{id}/cancel",
                operationID: "cancelPlan",
                summary:
                    "Cancel what of a plan has not been submitted; jobs at Kinsta go on and the plan ends with them",
                parameters: [pathID("id", "The plan's ID")],
                responses: [
                    "200": json("The plan", "Plan"), "400": error("bad_request: the ID"), "404": error("not_found"),
                    "409": error("conflict: the plan has ended"),
                ]
            ),
            Route(
                method: "GET",
                path: v1 + "/schedules",
                operationID: "listSchedules",
                summary: "The configured schedules ([[schedules]]) with their last and next runs",
                responses: ["200": json("Every schedule", "ScheduleList")]
            ),
            Route(
                method: "GET",
                path: v1 + "/kinds",
                operationID: "listKinds",
                summary: "The catalog of job kinds",
                responses: ["200": json("Every kind", "KindCatalog")]
            ),
            Route(
                method: "GET",
                path: v1 + "/openapi.json",
                operationID: "openAPIDocument",
                summary: "This document",
                responses: [
                    "200": [
                        "description": "OpenAPI 3.1",
                        "content": ["application/json": ["schema": ["type": "object"]]],
                    ]
                ]
            ),
            Route(
                method: "GET",
                path: v1 + "/events",
                operationID: "events",
                summary: "Job history as NDJSON, one Event a line, oldest first; follow keeps the stream open",
                parameters: [
                    query("after", "Events with a greater seq (default 0)", integer(0...Int64.max)),
                    query("job", "Only this job's events", id),
                    query("limit", "At most this many (default 1000)", integer(1...10_000)),
                    query("tail", "The last N events instead (without after or since)", integer(1...10_000)),
                    query(
                        "since",
                        "Events from this time on (ISO-8601 with a zone); events are stored in time order, so this "
                            + "is a seq bound: the first event at or after the time",
                        date
                    ),
                    query("until", "Events up to this time (ISO-8601 with a zone); not with follow", date),
                    query(
                        "follow",
                        "1, true or yes: stay open and send new events as they are committed (a blank line every "
                            + "\(SocketAPI.heartbeatSeconds) s while idle); reconnecting with after loses nothing",
                        enumSchema(SocketAPI.followValues.keys.sorted())
                    ),
                ],
                responses: [
                    "200": [
                        "description": "One JSON Event (components/schemas/Event) a line",
                        "content": ["application/x-ndjson": ["schema": ["type": "string"]]],
                    ],
                    "400": error("bad_request: a query parameter"),
                ]
            ),
            Route(
                method: "GET",
                path: v1 + "/health",
                operationID: "health",
                summary: "Version, uptime, queue depth, in-flight count, oldest pending age, storage, Kinsta",
                responses: [
                    "200": json("The daemon is well", "Health"),
                    "503": [
                        "description": "storage_unavailable (status), or too_many_connections (an Error)",
                        "content": [
                            "application/json": [
                                "schema": [
                                    "anyOf": [
                                        ["$ref": "#/components/schemas/Health"], ["$ref": "#/components/schemas/Error"],
                                    ]
                                ]
                            ]
                        ],
                    ],
                ]
            ),
            Route(
                method: "GET",
                path: v1 + "/deliveries",
                operationID: "listDeliveries",
                summary: "Webhook deliveries, newest first",
                parameters: [
                    query(
                        "state",
                        "Only deliveries in this state",
                        enumSchema(StoredDelivery.State.allCases.map(\.rawValue))
                    ),
                    query("endpoint", "Only deliveries to this endpoint (by name)", ["type": "string"]),
                    query("limit", "At most this many (default 100)", integer(1...1000)),
                ],
                responses: [
                    "200": [
                        "description": "Deliveries",
                        "content": [
                            "application/json": [
                                "schema": ["type": "array", "items": ["$ref": "#/components/schemas/Delivery"]]
                            ]
                        ],
                    ],
                    "400": error("bad_request: a query parameter"),
                ]
            ),
            Route(
                method: "POST",
                path: v1 + "/deliveries/{id}/redeliver",
                operationID: "redeliver",
                summary: "Queue a delivery again",
                parameters: [pathID("id", "The delivery's ID")],
                responses: [
                    "200": json("The delivery, pending again", "Delivery"), "400": error("bad_request: the ID"),
                    "404": error("not_found"),
                ]
            ),
            Route(
                method: "POST",
                path: v1 + "/webhooks/{name}/enable",
                operationID: "enableWebhook",
                summary: "Enable a webhook endpoint again (after a receiver's 410)",
                parameters: [
                    [
                        "name": "name", "in": "path", "required": true, "description": "The endpoint's name",
                        "schema": ["type": "string", "minLength": 1],
                    ]
                ],
                responses: [
                    "200": [
                        "description": "Enabled",
                        "content": [
                            "application/json": [
                                "schema": [
                                    "type": "object", "required": ["webhook", "state"], "additionalProperties": false,
                                    "properties": ["webhook": ["type": "string"], "state": ["const": "enabled"]],
                                ]
                            ]
                        ],
                    ],
                    "404": error("not_found: no endpoint of that name is configured"),
                ]
            ),
        ]
        routes += kinstaReads(v1 + "/kinsta")
        if metrics {
            routes.append(
                Route(
                    method: "GET",
                    path: "/metrics",
                    operationID: "metrics",
                    summary: "Prometheus text format",
                    responses: [
                        "200": [
                            "description": "Metrics",
                            "content": ["text/plain": ["schema": ["type": "string"]]],
                        ]
                    ]
                )
            )
        }
        return routes
    }

    /// The read-through routes: Kinsta's JSON as it is.
    static func kinstaReads(_ base: String) -> [Route] {
        let company = query(
            "company",
            "The company (default: the configured one)",
            ["type": "string", "pattern": identifierPattern]
        )
        let reads: [(path: String, id: String?, operationID: String, summary: String, query: [JSONValue])] = [
            ("/sites", nil, "kinstaSites", "The company's sites", [company]),
            ("/sites/{id}", "The site", "kinstaSite", "One site", []),
            ("/sites/{id}/environments", "The site", "kinstaEnvironments", "A site's environments", []),
            ("/environments/{id}/backups", "The environment", "kinstaBackups", "An environment's backups", []),
            (
                "/environments/{id}/downloadable-backups", "The environment", "kinstaDownloadableBackups",
                "An environment's downloadable backups", []
            ),
            ("/environments/{id}/domains", "The environment", "kinstaDomains", "An environment's domains", []),
            ("/users", nil, "kinstaUsers", "The company's users (where notified_user_id comes from)", [company]),
            ("/regions", nil, "kinstaRegions", "The regions the company can create sites in", [company]),
            (
                "/activity-logs", nil, "kinstaActivityLogs", "The company's activity logs",
                [
                    company,
                    query("site_id", "Only this site's", ["type": "string", "pattern": identifierPattern]),
                    query("limit", "At most this many (default 20)", integer(1...100)),
                    query("offset", "Skip this many", integer(0...1_000_000)),
                ]
            ),
        ]
        return reads.map { read in
            Route(
                method: "GET",
                path: base + read.path,
                operationID: read.operationID,
                summary: read.summary + " (Kinsta's answer as it is)",
                parameters: read.query
                    + (read.id.map {
                        [
                            [
                                "name": "id", "in": "path", "required": true, "description": .string($0 + " (its ID)"),
                                "schema": ["type": "string", "pattern": identifierPattern],
                            ]
                        ]
                    } ?? []),
                responses: [
                    "200": ["description": "Kinsta's JSON", "content": ["application/json": ["schema": [:]]]],
                    "400": error("bad_request: an ID of characters Kinsta's IDs do not have"),
                    "404": error("kinsta_not_found"),
                    "422": error("invalid_params: no company given or configured"),
                    "502": error("kinsta_error: Kinsta's answer was refused or could not be read"),
                    "503": error("unavailable (no Kinsta client), kinsta_unavailable, too_many_connections"),
                ]
            )
        }
    }

    // MARK: - Kinds

    static func schemaName(_ kind: String) -> String { "Submit." + kind }

    /// `{kind: const, params: {...}, note?}` for one kind.
    static func submitSchema(_ spec: JobKindSpec, defaults: ParamDefaults) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        var required: [JSONValue] = []
        for param in spec.parameters {
            let needed = isRequired(param, defaults: defaults)
            var schema = valueSchema(param.type)
            var annotations: [String: JSONValue] = ["description": .string(param.help)]
            if param.secret { annotations["writeOnly"] = true }
            if let value = param.defaultValue { annotations["default"] = value }
            if needed {
                required.append(.string(param.name))
            } else {
                // null stands for "not given" (the default, if any, fills it).
                schema = ["anyOf": [schema, ["type": "null"]]]
            }
            properties[param.name] = merge(schema, annotations)
        }
        var params: [String: JSONValue] = [
            "type": "object",
            "properties": .object(properties),
            "additionalProperties": false,
        ]
        if !required.isEmpty { params["required"] = .array(required) }
        return [
            "type": "object",
            "title": .string(spec.name),
            "description": .string(spec.summary),
            "required": ["kind", "params"],
            "additionalProperties": false,
            "properties": [
                "kind": ["const": .string(spec.name)],
                "params": .object(params),
                "note": [
                    "anyOf": [["type": "string", "maxLength": 1000], ["type": "null"]],
                    "description": "Free text kept with the job",
                ],
                "after": [
                    "anyOf": [
                        ["type": "array", "items": ["type": "integer", "minimum": 1], "maxItems": 100],
                        ["type": "null"],
                    ],
                    "description": .string(
                        "Jobs this one comes after: it is waiting until each has succeeded, skipped if one ends any "
                            + "other way. A parameter may be {\"from\": {\"job\": N, \"output\": \"name\"}}: job N's "
                            + "output, taken when it has succeeded (N then counts as named here). A job that does not "
                            + "exist, or an output its kind does not have, is refused (422)"
                    ),
                ],
                "priority": [
                    "anyOf": [["type": "integer", "minimum": -10, "maximum": 10], ["type": "null"]],
                    "description":
                        "Claim order under the shared budget (default 0); low ones age upwards, none starves",
                ],
                "hold": [
                    "anyOf": [["type": "boolean"], ["type": "null"]],
                    "description":
                        "Stored held until POST /v1/jobs/{id}/approve (kinds in [approval] kinds always are)",
                ],
            ],
            "examples": [["kind": .string(spec.name), "params": .object(example(spec, defaults: defaults))]],
        ]
    }

    /// Required in the schema: the catalog requires it, and neither a default nor the configuration fills it.
    public static func isRequired(_ param: ParamSpec, defaults: ParamDefaults) -> Bool {
        guard param.required, param.defaultValue == nil else { return false }
        if let configured = param.configured?.value(in: defaults), !configured.isEmpty { return false }
        return true
    }

    /// A valid submission's params: each required parameter, and each the configuration would fill but does not,
    /// with a value of its type (distinct per name, so two parameters that must differ do).
    public static func example(_ spec: JobKindSpec, defaults: ParamDefaults) -> [String: JSONValue] {
        var params: [String: JSONValue] = [:]
        for (index, param) in spec.parameters.enumerated() {
            let unconfigured = param.configured.map { ($0.value(in: defaults) ?? "").isEmpty } ?? false
            guard isRequired(param, defaults: defaults) || (unconfigured && !defaults.legacyRestoreBody) else {
                continue
            }
            params[param.name] = sample(param.type, name: param.name, index: index)
        }
        return params
    }

    static func sample(_ type: ParamSpec.ValueType, name: String, index: Int) -> JSONValue {
        switch type {
        case .text, .longText: return .string("Example \(name) value")
        case .identifier: return .string("example-\(name)")
        case .uuid:
            let digits = String(index + 1)
            return .string("00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - digits.count) + digits)
        case .email: return "admin@example.com"
        case .boolean: return false
        case .integer(let minimum): return .integer(max(minimum, 1) + Int64(index))
        case .oneOf(let allowed): return .string(allowed.first ?? "")
        case .list(let element, _): return .array([sample(element, name: name, index: index)])
        case .subfolder: return "/app"
        case .wpCommand: return "wp core version"
        }
    }

    static let identifierPattern: JSONValue = #"^[A-Za-z0-9_:-]{1,128}$"#
    /// No control character (Unicode category Cc), and something other than white space.
    static let textPattern: JSONValue = #"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"#

    /// The JSON Schema of the values a parameter type accepts: what ``ParamSpec`` validation takes.
    static func valueSchema(_ type: ParamSpec.ValueType) -> JSONValue {
        switch type {
        case .text:
            ["type": "string", "minLength": 1, "maxLength": 255, "pattern": textPattern]
        case .longText:
            [
                "type": "string", "minLength": 1, "maxLength": 16_384,
                "pattern": #"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*\S[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"#,
            ]
        case .identifier:
            ["type": "string", "minLength": 1, "maxLength": 128, "pattern": identifierPattern]
        case .uuid:
            [
                "type": "string", "format": "uuid",
                "pattern": #"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"#,
            ]
        case .email:
            [
                "type": "string", "maxLength": 254, "description": "An e-mail address",
                "pattern": #"^[^@ \x00-\x1f\x7f-\x9f]+@[^@ \x00-\x1f\x7f-\x9f]*\.[^@ \x00-\x1f\x7f-\x9f]*$"#,
            ]
        case .boolean:
            ["type": "boolean"]
        case .integer(let minimum):
            ["type": "integer", "minimum": .integer(minimum), "maximum": .integer(Int64.max)]
        case .oneOf(let allowed):
            ["type": "string", "enum": .array(allowed.map(JSONValue.string))]
        case .list(let element, let wrap):
            listSchema(element, wrap: wrap)
        case .subfolder:
            ["type": "string", "maxLength": 255, "pattern": #"^/([A-Za-z0-9_-]+/)*[A-Za-z0-9_-]*$"#]
        case .wpCommand:
            [
                "type": "string", "maxLength": 5000,
                "pattern": #"^wp[ \t]+[A-Za-z0-9_./:=@'-][A-Za-z0-9 \t_./:=@'-]*$"#,
            ]
        }
    }

    static func listSchema(_ element: ParamSpec.ValueType, wrap: String?) -> JSONValue {
        let item = valueSchema(element)
        var itemSchema = item
        if let wrap {
            itemSchema = [
                "anyOf": [
                    item,
                    [
                        "type": "object", "required": [.string(wrap)], "additionalProperties": false,
                        "properties": [wrap: item],
                    ],
                ]
            ]
        }
        let array: JSONValue = ["type": "array", "minItems": 1, "maxItems": 1000, "items": itemSchema]
        // One string item may be given as it is (`"a"` for `["a"]`).
        if case .object(let fields) = item, fields["type"] == "string" {
            return ["anyOf": [array, item]]
        }
        return array
    }

    static func merge(_ schema: JSONValue, _ extra: [String: JSONValue]) -> JSONValue {
        guard case .object(var fields) = schema else { return schema }
        for (key, value) in extra { fields[key] = value }
        return .object(fields)
    }

    // MARK: - Pieces

    /// What a client (or a stateful tester) can do next with a job it was answered.
    static let jobLinks: JSONValue = [
        "show": ["operationId": "showJob", "parameters": ["id": "$response.body#/id"]],
        "cancel": ["operationId": "cancelJob", "parameters": ["id": "$response.body#/id"]],
        "retry": ["operationId": "retryJob", "parameters": ["id": "$response.body#/id"]],
        "events": ["operationId": "events", "parameters": ["job": "$response.body#/id"]],
    ]

    static let id: JSONValue = integer(1...Int64.max)

    static func integer(_ range: ClosedRange<Int64>) -> JSONValue {
        ["type": "integer", "minimum": .integer(range.lowerBound), "maximum": .integer(range.upperBound)]
    }

    static func enumSchema(_ values: [String]) -> JSONValue {
        ["type": "string", "enum": .array(values.map(JSONValue.string))]
    }

    static func query(_ name: String, _ description: String, _ schema: JSONValue) -> JSONValue {
        [
            "name": .string(name), "in": "query", "required": false, "description": .string(description),
            "schema": schema,
        ]
    }

    static func pathID(_ name: String, _ description: String) -> JSONValue {
        ["name": .string(name), "in": "path", "required": true, "description": .string(description), "schema": id]
    }

    static func json(_ description: String, _ schema: String) -> JSONValue {
        [
            "description": .string(description),
            "content": ["application/json": ["schema": ["$ref": .string("#/components/schemas/" + schema)]]],
        ]
    }

    static func error(_ description: String) -> JSONValue {
        json(description, "Error")
    }

    static func object(
        _ properties: [String: JSONValue],
        required: [String],
        additional: Bool = false
    ) -> JSONValue {
        [
            "type": "object",
            "properties": .object(properties),
            "required": .array(required.map(JSONValue.string)),
            "additionalProperties": .bool(additional),
        ]
    }

    static let string: JSONValue = ["type": "string"]
    static let int: JSONValue = ["type": "integer"]
    static let date: JSONValue = ["type": "string", "format": "date-time"]
    static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/" + name)] }

    /// The answers' schemas, one per view of `Wire.swift`.
    static var viewSchemas: [String: JSONValue] {
        let kinds = JobCatalog.specs.map(\.name)
        var mapping: [String: JSONValue] = [:]
        for kind in kinds { mapping[kind] = .string("#/components/schemas/" + schemaName(kind)) }
        return [
            "SubmitJob": [
                "description": "A job: one of the kinds, by kind",
                "oneOf": .array(kinds.map { ref(schemaName($0)) }),
                "discriminator": ["propertyName": "kind", "mapping": .object(mapping)],
            ],
            "Error": object(
                [
                    "error": object(
                        [
                            "code": enumSchema(ErrorCode.allCases.map(\.rawValue)),
                            "message": string,
                            "field": string,
                        ],
                        required: ["code", "message"]
                    )
                ],
                required: ["error"]
            ),
            "Peer": object(["uid": int, "gid": int, "pid": int], required: ["uid", "gid", "pid"]),
            "Event": object(
                [
                    "seq": int, "at": date, "job_id": int, "kind": enumSchema(kinds), "from": string, "to": string,
                    "attempt": int, "operation_id": string, "message": string,
                    "plan_id": [
                        "type": "integer",
                        "description": "Only on a plan's plan.finished event (its job is the one that ended the plan)",
                    ],
                    "schedule": [
                        "type": "string",
                        "description":
                            "Only on a schedule's note that a run was skipped (its job is the previous run's, still going)",
                    ],
                ],
                required: ["seq", "at", "job_id", "kind", "to", "attempt"]
            ),
            "Job": object(
                [
                    "id": int, "kind": enumSchema(kinds), "state": enumSchema(JobState.allCases.map(\.rawValue)),
                    "params": ["type": "object", "description": "Secret parameters read \"[redacted]\""],
                    "note": string, "target": string, "targets": ["type": "array", "items": string],
                    "attempt": int, "operation_id": string, "result": [:], "last_error": string, "poll_count": int,
                    "pending_action": string, "next_action_at": date, "accepted_at": date, "deadline": date,
                    "created_at": date, "updated_at": date, "finished_at": date, "submitted_by": ref("Peer"),
                    "events": ["type": "array", "items": ref("Event")], "outputs": ["type": "object"],
                    "waiting_behind": int, "waiting_on": string, "after": ["type": "array", "items": int],
                    "priority": ["type": "integer", "minimum": -10, "maximum": 10], "plan_id": int, "step": string,
                ],
                required: [
                    "id", "kind", "state", "params", "target", "targets", "attempt", "poll_count", "created_at",
                    "updated_at",
                ]
            ),
            "JobList": object(
                ["jobs": ["type": "array", "items": ref("Job")], "next_before": int],
                required: ["jobs"]
            ),
            "SubmitPlan": object(
                [
                    "name": ["type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"],
                    "priority": [
                        "type": "integer", "minimum": -10, "maximum": 10, "description": "Each step's default",
                    ],
                    "note": string,
                    "steps": [
                        "type": "array", "minItems": 1, "maxItems": .integer(Int64(ValidatedPlan.maximumSteps)),
                        "items": object(
                            [
                                "id": ["type": "string", "pattern": "^[a-z0-9_-]{1,64}$"],
                                "kind": enumSchema(kinds),
                                "params": [
                                    "type": "object",
                                    "description": .string(
                                        "The kind's parameters (Submit.KIND); a value may be "
                                            + "{\"from\": {\"step\": ID, \"output\": NAME}}: an earlier step's output"
                                    ),
                                ],
                                "after": ["type": "array", "items": string], "note": string,
                                "hold": ["type": "boolean"],
                                "priority": ["type": "integer", "minimum": -10, "maximum": 10],
                            ],
                            required: ["id", "kind"]
                        ),
                    ],
                ],
                required: ["name", "steps"]
            ),
            "Plan": object(
                [
                    "id": int, "name": string,
                    "state": enumSchema(["running", "cancelling"] + StoredPlan.Outcome.allCases.map(\.rawValue)),
                    "counts": ["type": "object", "additionalProperties": int], "schedule": string,
                    "submitted_by": ref("Peer"), "created_at": date, "cancelled_at": date, "finished_at": date,
                    "steps": [
                        "type": "array",
                        "items": object(
                            [
                                "step": string, "job_id": int, "kind": enumSchema(kinds),
                                "state": enumSchema(JobState.allCases.map(\.rawValue)), "target": string,
                                "after": ["type": "array", "items": string], "outputs": ["type": "object"],
                                "last_error": string, "created_at": date, "updated_at": date, "finished_at": date,
                            ],
                            required: [
                                "step", "job_id", "kind", "state", "target", "after", "created_at", "updated_at",
                            ]
                        ),
                    ],
                ],
                required: ["id", "name", "state", "counts", "steps", "created_at"]
            ),
            "ScheduleList": object(
                [
                    "schedules": [
                        "type": "array",
                        "items": object(
                            [
                                "name": string, "cron": string, "timezone": string, "jitter_seconds": int,
                                "target": string, "last_run_at": date, "last_fired_at": date,
                                "last_result": enumSchema(["fired", "skipped"]), "last_plan_id": int,
                                "last_job_id": int, "last_message": string, "next_run_at": date,
                            ],
                            required: ["name", "cron", "timezone", "jitter_seconds", "target"]
                        ),
                    ]
                ],
                required: ["schedules"]
            ),
            "PlanList": object(
                ["plans": ["type": "array", "items": ref("Plan")], "next_before": int],
                required: ["plans"]
            ),
            "KindParam": object(
                [
                    "name": string, "type": string, "required": ["type": "boolean"], "secret": ["type": "boolean"],
                    "default": [:], "configured": string, "location": enumSchema(["body", "path"]), "help": string,
                ],
                required: ["name", "type", "required", "secret", "location", "help"]
            ),
            "Kind": object(
                [
                    "name": string, "summary": string, "method": string, "path": string, "accepted_status": int,
                    "params": ["type": "array", "items": ref("KindParam")],
                    "outputs": [
                        "type": "array",
                        "items": object(["name": string, "help": string], required: ["name", "help"]),
                    ],
                    "targets": ["type": "array", "items": string], "settle": string,
                    "repeat_is_harmless": ["type": "boolean"], "deadline_seconds": int,
                    "typical_seconds": ["type": "array", "items": ["type": "number"], "minItems": 2, "maxItems": 2],
                    "usual_seconds": ["type": "array", "items": ["type": "number"], "minItems": 2, "maxItems": 2],
                    "observations": int,
                ],
                required: [
                    "name", "summary", "method", "path", "accepted_status", "params", "outputs", "targets", "settle",
                    "repeat_is_harmless", "deadline_seconds", "typical_seconds",
                ]
            ),
            "KindCatalog": object(["kinds": ["type": "array", "items": ref("Kind")]], required: ["kinds"]),
            "Delivery": object(
                [
                    "id": int, "event_seq": int, "job_id": int, "endpoint": string,
                    "state": enumSchema(StoredDelivery.State.allCases.map(\.rawValue)), "attempts": int,
                    "next_attempt_at": date, "last_status": int, "last_error": string, "created_at": date,
                    "delivered_at": date, "waiting_behind": int,
                ],
                required: ["id", "event_seq", "job_id", "endpoint", "state", "attempts", "created_at"]
            ),
            "Health": object(
                [
                    "status": enumSchema(["ok", "storage_unavailable"]), "version": string, "uptime_seconds": int,
                    "queue_depth": int, "in_flight": int,
                    "oldest_pending_seconds": ["type": ["integer", "null"]],
                    "jobs_by_state": object(
                        Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, int) }),
                        required: JobState.allCases.map(\.rawValue)
                    ),
                    "disabled_webhook_endpoints": [
                        "type": "array",
                        "items": object(
                            ["name": string, "since": date, "reason": string],
                            required: ["name", "since", "reason"]
                        ),
                    ],
                    "storage": object(
                        [
                            "available": ["type": "boolean"], "since": date, "reason": string, "failed_commits": int,
                        ],
                        required: ["available"]
                    ),
                ],
                required: [
                    "status", "version", "uptime_seconds", "queue_depth", "in_flight", "oldest_pending_seconds",
                    "jobs_by_state", "disabled_webhook_endpoints", "storage",
                ],
                additional: true
            ),
        ]
    }
}

extension SocketAPI {
    /// Every route `buildRouter()` registers, as `METHOD /path/{param}`, from the router's own list: what the document
    /// must describe.
    public var registeredRoutes: [String] {
        buildRouter().routes.map { "\($0.method.rawValue) \($0.path.description)" }.sorted()
    }
}
