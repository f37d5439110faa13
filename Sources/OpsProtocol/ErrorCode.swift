/// The machine-readable `code` of every error answer of the socket API (`{"error": {"code", "message", "field"?}}`).
///
/// The raw value is what goes on the wire. A client reads the code from ``ErrorView/Body/code`` (the raw string, so an
/// answer of a newer daemon with a code this build does not know still decodes) and matches on
/// ``ErrorView/Body/knownCode``.
public enum ErrorCode: String, Codable, Sendable, CaseIterable {
    /// 400: the body of `POST /v1/jobs` is not JSON, or lacks `kind` or `params`, or a member has the wrong type.
    case invalidJSON = "invalid_json"
    /// 422: `POST /v1/jobs` names a job kind the daemon does not know.
    case unknownKind = "unknown_kind"
    /// 422: a job parameter (or a Kinsta read-through query parameter) is missing, unknown or out of range; `field`
    /// names it.
    case invalidParams = "invalid_params"
    /// 409: an `Idempotency-Key` was sent again with a different request.
    case idempotencyConflict = "idempotency_conflict"
    /// 404: no such job, webhook endpoint or route.
    case notFound = "not_found"
    /// 409: the job's state does not allow the action (cancel of a finished job, retry of a running one).
    case conflict
    /// 400: a query parameter or header cannot be read (`state`, `limit`, `after`, …); `field` names it. Also any other
    /// 4xx the HTTP layer raises.
    case badRequest = "bad_request"
    /// 405: the method is not served on the route, or a CONNECT request.
    case methodNotAllowed = "method_not_allowed"
    /// 413: the request body is larger than the socket accepts.
    case bodyTooLarge = "body_too_large"
    /// 415: a body that is not `application/json`.
    case unsupportedMediaType = "unsupported_media_type"
    /// 500: the daemon could not answer (a bug); no internals are shown.
    case `internal`
    /// 400: the bytes are not an HTTP/1.1 request, or the body could not be read (cut short, broken chunking); the
    /// connection is closed.
    case malformedRequest = "malformed_request"
    /// 503: the daemon cannot write its database now (a full disk, a read-only or failing file); nothing was stored.
    case storageUnavailable = "storage_unavailable"
    /// 503 with `Retry-After: 1`: the socket already serves `max_connections` connections; this one is closed.
    case tooManyConnections = "too_many_connections"
    /// 503: the daemon has no Kinsta client, so a Kinsta read-through cannot be answered.
    case unavailable
    /// 404: a Kinsta read-through, and Kinsta answered that the site or environment does not exist.
    case kinstaNotFound = "kinsta_not_found"
    /// 503: a Kinsta read-through, and Kinsta could not be reached or asked to wait (429, 5xx, a timeout).
    case kinstaUnavailable = "kinsta_unavailable"
    /// 502: a Kinsta read-through, and Kinsta's answer was refused or could not be read.
    case kinstaError = "kinsta_error"
    /// 403: the peer's uid is not allowed to use the daemon (`allowed_uids` / `allowed_groups`).
    case forbidden
}
