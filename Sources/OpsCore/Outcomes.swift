/// What a submit call to Kinsta came to, as the state machine understands it.
public enum SubmitOutcome: Sendable, Hashable {
    /// 202 with an operation ID.
    case accepted(operationID: String)
    /// Kinsta refused the request itself (400, 404, 409, 422 …): nothing was started.
    case rejected(status: Int, message: String)
    /// 401/403: the API key was refused. Nothing was started.
    case unauthorized(message: String)
    /// 429: nothing was started; try again after `retryAfter` seconds (or on the backoff when absent).
    case rateLimited(retryAfter: Double?)
    /// The request never reached Kinsta (no connection, name not resolved, TLS refused): safe to send again.
    case notSent(reason: String)
    /// Kinsta answered 5xx: it did not start the job; send again after a backoff.
    case serverError(status: Int, message: String)
    /// Kinsta refused because the site or environment is busy with another operation ("The environment is blocked by
    /// another process. Please try again a bit later."): nothing was started, and the same request will be taken once
    /// the other work ends. Sent again on the error backoff until the job's deadline.
    case busy(message: String)
    /// The request may have reached Kinsta but its answer did not come back readable (timeout, reset, a 2xx without an
    /// operation ID). Sending again could create a second site, so the outcome is settled by reconciliation.
    case ambiguous(reason: String)
}

/// What `GET /operations/{id}` came to.
public enum PollOutcome: Sendable, Hashable {
    /// 200: done. `data` is Kinsta's opaque `data` (e.g. `{"idSite": …}`).
    case finished(data: JSONValue?)
    /// 202: still working.
    case inProgress
    /// 404: not visible yet, expired, or unknown. The start-up window decides which.
    case notFound
    /// 500 (or a body whose `status` says 500): Kinsta reports failure. Believed only once confirmed.
    case failed(message: String)
    /// 429: wait `retryAfter` seconds (or the backoff when absent). Never a job failure.
    case rateLimited(retryAfter: Double?)
    /// 401/403: the key was refused. The operation runs on regardless; keep trying.
    case unauthorized(message: String)
    /// Timeouts, resets, other 5xx, unreadable bodies: ask again later.
    case transient(reason: String)
}

/// What reading Kinsta's resources said about whether a job's effect is in place (see ``ReconcileStrategy``).
public enum ReconcileOutcome: Sendable, Hashable {
    /// The effect is in place (the site exists; the deleted site is gone). `result` carries e.g. `{"idSite": …}`.
    case done(detail: String, result: JSONValue?)
    /// The effect is not in place.
    case notDone(detail: String)
    /// Nothing readable can settle it (e.g. a restore); an admin must decide.
    case undetermined(reason: String)
    /// The read itself failed transiently (429, 5xx, timeout): read again later.
    case retryLater(reason: String, retryAfter: Double?)
}
