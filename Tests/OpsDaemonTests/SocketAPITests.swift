import CurlHTTP
import Foundation
import KinstaClient
import OpsCore
import OpsDaemon
import OpsProtocol
import OpsStore
import OpsTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The socket API, the daemon's routes with a scripted Kinsta: bad input of every kind gets a JSON error and changes
/// nothing. Tables of requests run through the router in process (``RouterDriver``: no socket, no daemon per row);
/// what only a connection shows (the submitter from the kernel's peer credentials, the socket file, a second daemon
/// on the same socket) runs over the daemon's real Unix socket.
@Suite struct SocketAPITests {
    struct Running {
        enum Transport {
            case socket(path: String, http: CurlHTTPClient)
            case router(RouterDriver)
        }

        let transport: Transport

        /// The socket's path; empty for requests through the router.
        var socket: String {
            guard case .socket(let path, _) = transport else { return "" }
            return path
        }

        /// The client of the socket, for streams (a follow stream is tested on the socket only).
        var http: CurlHTTPClient {
            guard case .socket(_, let http) = transport else { preconditionFailure("streams go over the socket") }
            return http
        }

        func send(
            _ method: String,
            _ path: String,
            body: String? = nil,
            headers: [HTTPHeader]? = nil
        ) async throws
            -> HTTPResponse
        {
            let request = HTTPRequest(
                method: method,
                url: "http://localhost" + path,
                headers: headers ?? (body == nil ? [] : [HTTPHeader("Content-Type", "application/json")]),
                body: body.map { Data($0.utf8) },
                timeout: .seconds(10),
                unixSocketPath: socket
            )
            switch transport {
            case .socket(_, let http): return try await http.execute(request)
            case .router(let router): return try await router.execute(request)
            }
        }

        func error(_ response: HTTPResponse) throws -> ErrorView.Body {
            try JSONDecoder().decode(ErrorView.self, from: response.body).error
        }

        func jobCount() async throws -> Int {
            try WireJSON.decoder().decode(JobListView.self, from: try await send("GET", "/v1/jobs?limit=1000").body)
                .jobs.count
        }
    }

    /// Runs a daemon with nothing admitted (`max_in_flight` 0), so jobs stay queued for the test, and talks to it over
    /// its socket.
    func withDaemon(_ body: @escaping @Sendable (Running) async throws -> Void) async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        try await InProcessDaemon.with(
            clock: ManualClock(),
            api: ScriptedKinstaAPI(),
            configure: { $0.maxInFlight = 0 },
            { daemon in
                try await body(Running(transport: .socket(path: daemon.socketPath, http: http)))
            }
        )
    }

    /// Runs the daemon's routes in process over a fresh database: no engine, so jobs stay queued.
    func withRouter(_ body: @escaping @Sendable (Running) async throws -> Void) async throws {
        try await RouterDriver.with(
            kinsta: ScriptedKinstaAPI(),
            configure: { $0.maxInFlight = 0 },
            { router in try await body(Running(transport: .router(router))) }
        )
    }

    static let plain = #"{"kind":"site.create_plain","params":{"display_name":"A","region":"us-central1"}}"#

    @Test func submitStoresAndShowsTheJobWithItsSubmitter() async throws {
        try await withDaemon { api in
            let created = try await api.send("POST", "/v1/jobs", body: Self.plain)
            #expect(created.status == 201)
            let job = try WireJSON.decoder().decode(JobView.self, from: created.body)
            #expect(job.state == "queued")
            #expect(job.params["company"] == "company-1")
            #expect(job.submittedBy?.uid == getuid())
            #expect(job.submittedBy?.pid == getpid())
            let shown = try WireJSON.decoder().decode(
                JobView.self,
                from: try await api.send("GET", "/v1/jobs/\(job.id)").body
            )
            #expect(shown.events?.map(\.to) == ["queued"])
            let events = try await api.send("GET", "/v1/events?after=0")
            #expect(events.header("Content-Type") == "application/x-ndjson")
            let lines = events.body.split(separator: 0x0A)
            #expect(lines.count == 1)
            #expect(try WireJSON.decoder().decode(EventView.self, from: Data(lines[0])).seq == 1)
        }
    }

    /// `show` says why a queued job waits: the job ahead of it on something both occupy.
    @Test func aQueuedJobSaysWhichJobItWaitsBehind() async throws {
        try await withRouter { api in
            func submit(_ environment: String) async throws -> Int64 {
                let body = #"{"kind":"cache.clear","params":{"environment_id":"\#(environment)"}}"#
                let created = try await api.send("POST", "/v1/jobs", body: body)
                #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
                return try WireJSON.decoder().decode(JobView.self, from: created.body).id
            }
            func shown(_ id: Int64) async throws -> JobView {
                try WireJSON.decoder().decode(JobView.self, from: try await api.send("GET", "/v1/jobs/\(id)").body)
            }
            let first = try await submit("env-a")
            let second = try await submit("env-a")
            let other = try await submit("env-b")
            #expect(try await shown(first).waitingBehind == nil)
            let behind = try await shown(second)
            #expect(behind.waitingBehind == first)
            #expect(behind.waitingOn.map { $0.contains("env-a") } == true, "\(String(describing: behind.waitingOn))")
            #expect(try await shown(other).waitingBehind == nil)
        }
    }

    /// `after` and `from` on the socket: a waiting job, shown with what it comes after; what cannot hold is refused.
    @Test func afterAndFromOnTheSocket() async throws {
        try await withRouter { api in
            func post(_ body: String) async throws -> (status: Int, json: JSONValue) {
                let answer = try await api.send("POST", "/v1/jobs", body: body)
                return (answer.status, try JSONDecoder().decode(JSONValue.self, from: answer.body))
            }
            let first = try await post(#"{"kind":"cache.clear","params":{"environment_id":"env-a"}}"#)
            #expect(first.status == 201)
            let second = try await post(#"{"kind":"php.restart","params":{"environment_id":"env-a"},"after":[1]}"#)
            #expect(second.status == 201)
            #expect(second.json["state"] == "waiting")
            let shown = try WireJSON.decoder().decode(JobView.self, from: try await api.send("GET", "/v1/jobs/2").body)
            #expect(shown.after == [1])
            // cache.clear has no outputs
            let noOutput = try await post(
                #"{"kind":"php.restart","params":{"environment_id":{"from":{"job":1,"output":"env_id"}}}}"#
            )
            #expect(noOutput.status == 422)
            #expect(noOutput.json["error"]?["field"] == "environment_id", "\(noOutput.json)")
            let missing = try await post(#"{"kind":"cache.clear","params":{"environment_id":"env-b"},"after":[99]}"#)
            #expect(missing.status == 422)
            #expect(missing.json["error"]?["field"] == "after")
            #expect(
                try await post(#"{"kind":"cache.clear","params":{"environment_id":"e"},"after":"1"}"#).status == 400
            )
            #expect(
                try await post(#"{"kind":"cache.clear","params":{"environment_id":"e"},"after":[0]}"#).status == 422
            )
            // A waiting job can be cancelled
            let cancelled = try await api.send("POST", "/v1/jobs/2/cancel")
            #expect(cancelled.status == 200)
            #expect(try WireJSON.decoder().decode(JobView.self, from: cancelled.body).state == "cancelled")
        }
    }

    /// Holds and approvals: `hold`, `[approval] kinds`, the approver in the event, and distinct_approver.
    @Test func heldJobsWaitForAnApproverOtherThanTheirSubmitter() async throws {
        try await RouterDriver.with(
            kinsta: ScriptedKinstaAPI(),
            configure: {
                $0.maxInFlight = 0
                $0.approvalKinds = [.siteDelete]
                $0.distinctApprover = true
            },
            { router in
                let submitter = Running(transport: .router(router))
                var other = router
                other.peer = Peer(uid: 4242, gid: 100, pid: 7)
                let approver = Running(transport: .router(other))
                func state(_ answer: (status: Int, body: Data)) throws -> String? {
                    try JSONDecoder().decode(JSONValue.self, from: answer.body)["state"]?.stringValue
                }
                // A kind the configuration holds, and a job submitted with hold
                let delete = try await submitter.send(
                    "POST",
                    "/v1/jobs",
                    body: #"{"kind":"site.delete","params":{"site_id":"site-1"}}"#
                )
                #expect(try state((delete.status, delete.body)) == "held")
                let clear = try await submitter.send(
                    "POST",
                    "/v1/jobs",
                    body: #"{"kind":"cache.clear","params":{"environment_id":"env-1"},"hold":true}"#
                )
                #expect(try state((clear.status, clear.body)) == "held")
                let plain = try await submitter.send(
                    "POST",
                    "/v1/jobs",
                    body: #"{"kind":"cache.clear","params":{"environment_id":"env-2"}}"#
                )
                #expect(try state((plain.status, plain.body)) == "queued")
                // Its submitter cannot approve it; another user can, and is named in the event
                let own = try await submitter.send("POST", "/v1/jobs/1/approve")
                #expect(own.status == 403)
                let approved = try await approver.send("POST", "/v1/jobs/1/approve")
                #expect(approved.status == 200)
                #expect(try state((approved.status, approved.body)) == "queued")
                let events =
                    try WireJSON.decoder().decode(
                        JobView.self,
                        from: try await approver.send("GET", "/v1/jobs/1").body
                    ).events ?? []
                #expect(events.last?.message == "approved by uid 4242, pid 7", "\(events)")
                // Approved twice: 409; a queued job: 409; a held job can be cancelled
                #expect(try await approver.send("POST", "/v1/jobs/1/approve").status == 409)
                #expect(try await approver.send("POST", "/v1/jobs/3/approve").status == 409)
                let cancelled = try await submitter.send("POST", "/v1/jobs/2/cancel")
                #expect(try state((cancelled.status, cancelled.body)) == "cancelled")
            }
        )
    }

    @Test func passwordsNeverComeBack() async throws {
        try await withRouter { api in
            let body =
                #"{"kind":"site.create","params":{"display_name":"W","region":"us","admin_email":"a@b.co","#
                + #""admin_password":"hunter2-secret","admin_user":"u","site_title":"t"}}"#
            let created = try await api.send("POST", "/v1/jobs", body: body)
            #expect(created.status == 201)
            #expect(!String(decoding: created.body, as: UTF8.self).contains("hunter2-secret"))
            let list = try await api.send("GET", "/v1/jobs")
            #expect(!String(decoding: list.body, as: UTF8.self).contains("hunter2-secret"))
            #expect(String(decoding: list.body, as: UTF8.self).contains("[redacted]"))
        }
    }

    struct BadRequest: Sendable, CustomTestStringConvertible {
        var method = "POST"
        var path = "/v1/jobs"
        var body: String?
        var contentType = "application/json"
        var status: Int
        var code: String
        var field: String?
        var testDescription: String { "\(method) \(path) \(body?.prefix(30) ?? "") → \(status)" }
    }

    static let badRequests: [BadRequest] = [
        BadRequest(body: "{not json", status: 400, code: "invalid_json"),
        BadRequest(body: #"{"kind":"site.create_plain"}"#, status: 400, code: "invalid_json"),
        BadRequest(body: #"{"kind":5,"params":{}}"#, status: 400, code: "invalid_json", field: "kind"),
        BadRequest(body: #"{"kind":"site.delete","params":[]}"#, status: 400, code: "invalid_json", field: "params"),
        BadRequest(
            body: #"{"kind":"site.delete","params":{"site_id":"s-1"},"note":7}"#,
            status: 400,
            code: "invalid_json",
            field: "note"
        ),
        BadRequest(body: #"["site.delete"]"#, status: 400, code: "invalid_json"),
        BadRequest(
            body: #"{"kind":"site.delete","kind":"site.clone","params":{"site_id":"s-1"}}"#,
            status: 400,
            code: "invalid_json"
        ),
        BadRequest(body: #"{"kind":"site.explode","params":{}}"#, status: 422, code: "unknown_kind", field: "kind"),
        BadRequest(
            body: #"{"kind":"site.create_plain","params":{"region":"us"}}"#,
            status: 422,
            code: "invalid_params",
            field: "display_name"
        ),
        BadRequest(
            body: #"{"kind":"site.delete","params":{"site_id":"../../etc"}}"#,
            status: 422,
            code: "invalid_params",
            field: "site_id"
        ),
        BadRequest(
            body: #"{"kind":"site.create_plain","params":{"display_name":"A","region":"us","evil":1}}"#,
            status: 422,
            code: "invalid_params",
            field: "evil"
        ),
        BadRequest(
            body: #"{"kind":"backup.restore","params":{"target_env_id":"e","backup_id":"12","notified_user_id":"u"}}"#,
            status: 422,
            code: "invalid_params",
            field: "backup_id"
        ),
        BadRequest(body: "\u{FF}\u{FE}", status: 400, code: "invalid_json"),
        BadRequest(
            body: #"{"kind":"site.delete","params":{"site_id":"s-1"}}"# + "\u{0}",
            status: 400,
            code: "invalid_json"
        ),
        BadRequest(
            body: #"{"kind":"backup.restore","params":{"target_env_id":"e","backup_id":0,"notified_user_id":"u"}}"#,
            status: 422,
            code: "invalid_params",
            field: "backup_id"
        ),
        BadRequest(
            body: #"{"kind":"site.delete","params":{"site_id":"s-1"},"notes":"typo"}"#,
            status: 400,
            code: "bad_request",
            field: "notes"
        ),
        BadRequest(body: SocketAPITests.plain, contentType: "text/plain", status: 415, code: "unsupported_media_type"),
        BadRequest(body: String(repeating: "x", count: 70_000), status: 413, code: "body_too_large"),
        BadRequest(method: "GET", path: "/v1/jobs/abc", status: 400, code: "bad_request", field: "id"),
        BadRequest(method: "GET", path: "/v1/jobs/999", status: 404, code: "not_found"),
        BadRequest(method: "GET", path: "/v1/jobs?state=bogus", status: 400, code: "bad_request", field: "state"),
        BadRequest(
            method: "GET",
            path: "/v1/jobs?state=failed,bogus",
            status: 400,
            code: "bad_request",
            field: "state"
        ),
        BadRequest(method: "GET", path: "/v1/jobs?state=failed,", status: 400, code: "bad_request", field: "state"),
        BadRequest(method: "GET", path: "/v1/jobs?limit=0", status: 400, code: "bad_request", field: "limit"),
        BadRequest(method: "GET", path: "/v1/events?after=-1", status: 400, code: "bad_request", field: "after"),
        BadRequest(method: "GET", path: "/v1/nope", status: 404, code: "not_found"),
        BadRequest(method: "POST", path: "/v1/jobs/999/cancel", status: 404, code: "not_found"),
        BadRequest(method: "POST", path: "/v1/webhooks/nope/enable", status: 404, code: "not_found"),
    ]

    @Test(arguments: badRequests)
    func badInputGetsAJSONErrorAndChangesNothing(_ row: BadRequest) async throws {
        try await withRouter { api in
            let response = try await api.send(
                row.method,
                row.path,
                body: row.body,
                headers: row.body == nil ? [] : [HTTPHeader("Content-Type", row.contentType)]
            )
            #expect(response.status == row.status, "\(String(decoding: response.body, as: UTF8.self))")
            let error = try api.error(response)
            #expect(error.code == row.code)
            #expect(error.field == row.field)
            #expect(!error.message.isEmpty)
            #expect(try await api.jobCount() == 0)
        }
    }

    @Test func idempotencyKeyReplaysOrConflicts() async throws {
        try await withRouter { api in
            let key = [HTTPHeader("Content-Type", "application/json"), HTTPHeader("Idempotency-Key", "deploy-1")]
            let first = try await api.send("POST", "/v1/jobs", body: Self.plain, headers: key)
            let again = try await api.send("POST", "/v1/jobs", body: Self.plain, headers: key)
            #expect(first.status == 201)
            #expect(again.status == 200)
            let firstID = try WireJSON.decoder().decode(JobView.self, from: first.body).id
            #expect(try WireJSON.decoder().decode(JobView.self, from: again.body).id == firstID)
            let other = #"{"kind":"site.create_plain","params":{"display_name":"B","region":"us-central1"}}"#
            let conflict = try await api.send("POST", "/v1/jobs", body: other, headers: key)
            #expect(conflict.status == 409)
            #expect(try api.error(conflict).code == "idempotency_conflict")
            #expect(try await api.jobCount() == 1)
        }
    }

    @Test func cancelOnlyWhileQueued() async throws {
        try await withRouter { api in
            let job = try WireJSON.decoder().decode(
                JobView.self,
                from: try await api.send("POST", "/v1/jobs", body: Self.plain).body
            )
            let cancelled = try await api.send("POST", "/v1/jobs/\(job.id)/cancel")
            #expect(cancelled.status == 200)
            #expect(try WireJSON.decoder().decode(JobView.self, from: cancelled.body).state == "cancelled")
            let again = try await api.send("POST", "/v1/jobs/\(job.id)/cancel")
            #expect(again.status == 409)
            #expect(try api.error(again).message.contains("only held, waiting or queued"))
            let retry = try await api.send("POST", "/v1/jobs/\(job.id)/retry")
            #expect(retry.status == 409)
        }
    }

    @Test func healthReportsCounts() async throws {
        try await withRouter { api in
            _ = try await api.send("POST", "/v1/jobs", body: Self.plain)
            let health = try JSONDecoder().decode(JSONValue.self, from: try await api.send("GET", "/v1/health").body)
            #expect(health["status"] == "ok")
            #expect(health["queue_depth"] == .integer(1))
            #expect(health["in_flight"] == .integer(0))
            #expect(health["version"]?.stringValue?.isEmpty == false)
        }
    }

    @Test func socketIsOwnerAndGroupOnly() async throws {
        try await withDaemon { api in
            let attributes = try FileManager.default.attributesOfItem(atPath: api.socket)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
            #expect(mode == 0o660, "socket mode \(String(mode, radix: 8))")
        }
    }

    @Test func aSecondDaemonRefusesTheSameStateAndSocket() async throws {
        try await withDaemon { api in
            let directory = (api.socket as NSString).deletingLastPathComponent
            let configuration = DaemonConfiguration(
                kinsta: KinstaConfiguration(baseURL: "http://127.0.0.1:1/v2", apiKey: "k"),
                companyID: nil,
                stateDirectory: directory + "/state",
                socketPath: api.socket
            )
            let second = Daemon(
                configuration: configuration,
                api: ScriptedKinstaAPI(),
                signals: [],
                logger: .quiet
            )
            await #expect(throws: DaemonError.self) { try await second.run() }
            // And the first still answers on its socket
            let health = try await api.send("GET", "/v1/health")
            #expect(health.status == 200)
        }
    }
}
