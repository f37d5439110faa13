import CurlHTTP
public import Foundation
public import OpsCore

/// Pure mapping of Kinsta's answers (status, body, `Retry-After`) to outcome values. Kept apart from the IO so every
/// row of the mapping is tested without a server.
///
/// Kinsta's bodies are `{"message", "status", "data"}`; the body's `status` copies the HTTP code in every documented
/// example, but one client reads a terminal outcome from it under HTTP 200, so both are checked. Codes decide, with one
/// exception: Kinsta gives no code of its own to "the environment is blocked by another process", a refusal that only
/// means "later" (docs/kinsta-api.md, "The environment is blocked…"), so a 4xx submit answer saying so is read as
/// busy rather than as a refusal.
public enum KinstaAnswer {
    /// Maps a submit answer.
    public static func submitOutcome(status: Int, body: Data, retryAfter: String?) -> SubmitOutcome {
        submitOutcome(status: status, json: parse(body), retryAfter: retryAfter)
    }

    /// The same, from the body already parsed (``parse(_:)``; `nil` when it is not JSON).
    static func submitOutcome(status: Int, json: JSONValue?, retryAfter: String?) -> SubmitOutcome {
        switch status {
        case 200...299:
            guard let id = json?["operation_id"]?.stringValue else {
                return .ambiguous(reason: "Kinsta answered HTTP \(status) without an operation ID")
            }
            // An ID that cannot be polled as itself may have started an operation all the same: the engine
            // settles the job by reading Kinsta rather than polling something else.
            if let refusal = OperationID.refusal(id) {
                return .ambiguous(
                    reason: "Kinsta answered HTTP \(status) with an operation ID the daemon refuses: \(refusal)"
                )
            }
            return .accepted(operationID: id)
        case 429:
            return .rateLimited(retryAfter: parseRetryAfter(retryAfter))
        case 401, 403:
            return .unauthorized(message: "HTTP \(status): \(message(json, status: status))")
        case 300...499:
            let text = message(json, status: status)
            if isBusy(json) { return .busy(message: text) }
            return .rejected(status: status, message: text)
        default:
            return .serverError(status: status, message: message(json, status: status))
        }
    }

    /// Maps a transport failure of a submit: did the request possibly reach Kinsta?
    public static func submitOutcome(transportError error: any Error) -> SubmitOutcome {
        if let error = error as? HTTPClientError {
            switch error {
            case .couldNotConnect, .couldNotResolveHost, .tlsFailure, .invalidRequest:
                return .notSent(reason: describe(error))
            default:
                break
            }
        }
        return .ambiguous(reason: describe(error))
    }

    /// Maps a `GET /operations/{id}` answer.
    public static func pollOutcome(status: Int, body: Data, retryAfter: String?) -> PollOutcome {
        pollOutcome(status: status, json: parse(body), retryAfter: retryAfter)
    }

    /// The same, from the body already parsed (``parse(_:)``; `nil` when it is not JSON).
    static func pollOutcome(status: Int, json: JSONValue?, retryAfter: String?) -> PollOutcome {
        switch status {
        case 200:
            guard let json, json.objectValue != nil else {
                return .transient(reason: "Kinsta answered HTTP 200 with a body that is not its JSON")
            }
            switch bodyStatus(json) {
            case nil, 200: return .finished(data: json["data"].flatMap { $0 == .null ? nil : $0 })
            case 202: return .inProgress
            case 404: return .notFound
            case let inner? where inner >= 500: return .failed(message: message(json, status: inner))
            case let inner?: return .transient(reason: "Kinsta answered HTTP 200 with status \(inner) inside")
            }
        case 202:
            return .inProgress
        case 404:
            return .notFound
        case 500:
            // Kinsta documents 500 as "the operation has failed", with its JSON body. A 500 without that body comes
            // from something in between (a proxy, a crash), not from the operation.
            guard let json, json.objectValue != nil, json["message"] != nil || json["status"] != nil else {
                return .transient(reason: "HTTP 500 with a body that is not Kinsta's JSON")
            }
            return .failed(message: message(json, status: 500))
        case 429:
            return .rateLimited(retryAfter: parseRetryAfter(retryAfter))
        case 401, 403:
            return .unauthorized(message: "HTTP \(status): \(message(json, status: status))")
        default:
            return .transient(reason: "Kinsta answered HTTP \(status): \(message(json, status: status))")
        }
    }

    /// Maps a read endpoint's answer.
    public static func read(status: Int, body: Data, retryAfter: String?) -> KinstaRead {
        read(status: status, json: parse(body), retryAfter: retryAfter)
    }

    /// The same, from the body already parsed (``parse(_:)``; `nil` when it is not JSON).
    static func read(status: Int, json: JSONValue?, retryAfter: String?) -> KinstaRead {
        switch status {
        case 200:
            guard let json, json.objectValue != nil else {
                return .failure(KinstaReadFailure(status: 200, message: "body is not JSON", isTransient: true))
            }
            return .ok(json)
        case 404:
            return .notFound(message: message(json, status: 404))
        case 429:
            return .failure(
                KinstaReadFailure(
                    status: 429,
                    message: message(json, status: 429),
                    retryAfter: parseRetryAfter(retryAfter),
                    isTransient: true
                )
            )
        default:
            return .failure(
                KinstaReadFailure(
                    status: status,
                    message: message(json, status: status),
                    isTransient: status >= 500
                )
            )
        }
    }

    /// `Retry-After` as seconds: delta-seconds or an HTTP date, at most an hour (``RetryAfter/seconds(_:now:cap:)``).
    /// Unreadable values count as absent.
    public static func parseRetryAfter(_ value: String?, now: Date = Date()) -> Double? {
        RetryAfter.seconds(value, now: now, cap: 3600)
    }

    /// A sentence for a transport failure; never contains the URL's query, headers or body.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return error.description }
        if error is CancellationError { return "cancelled" }
        return "\(type(of: error))"
    }

    /// Kinsta's message: `message`, else `data.message`, else `error`, else the status; at most 300 characters.
    static func message(_ json: JSONValue?, status: Int) -> String {
        let text =
            json?["message"]?.stringValue ?? json?["data"]?["message"]?.stringValue
            ?? json?["error"]?.stringValue ?? "no message (HTTP \(status))"
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }

    /// Whether a refusal says the target is busy with another operation (any of Kinsta's message fields, any case).
    static func isBusy(_ json: JSONValue?) -> Bool {
        let texts = [
            json?["message"]?.stringValue, json?["data"]?["message"]?.stringValue, json?["error"]?.stringValue,
        ]
        return texts.contains { $0?.lowercased().contains("blocked by another process") == true }
    }

    private static func bodyStatus(_ json: JSONValue) -> Int? {
        switch json["status"] {
        case .integer(let value)?: Int(exactly: value)
        case .number(let value)?: Int(exactly: value)
        case .string(let value)?: Int(value)
        default: nil
        }
    }

    /// A body as JSON, or `nil` when it is not JSON. Strict (``StrictJSON``): an object with a member name twice is
    /// not Kinsta's answer (a 202 with `operation_id` twice made the daemon poll the first one, a decoy, when
    /// Foundation's decoder read it), so it counts as a body that is not JSON, for submit, poll and read answers.
    static func parse(_ body: Data) -> JSONValue? {
        guard !body.isEmpty else { return nil }
        return try? StrictJSON.parse(body)
    }

    static func encode(_ value: JSONValue) -> Data {
        (try? CanonicalJSON.encoder().encode(value)) ?? Data("{}".utf8)
    }
}
