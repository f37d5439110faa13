import Foundation
import OpsCore
import Testing

/// The pure state machine, driven by hand: a fixed start time moved forward per step (a manual clock), a seeded
/// random source, and zero jitter where a test checks exact times.
@Suite struct JobMachineTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let exact = PollPolicy(
        pollBackoff: Backoff(base: 2, multiplier: 1.5, cap: 20, jitter: 0),
        errorBackoff: Backoff(base: 2, multiplier: 2, cap: 300, jitter: 0)
    )

    /// One step of a scenario: at `t0 + at` seconds, feed `input`.
    struct Step: Sendable {
        var at: Double
        var input: JobInput
    }

    /// Runs `steps` from a queued job of `kind`; returns every snapshot after each step.
    static func run(
        _ kind: JobKind = .siteCreatePlain,
        _ steps: [Step],
        policy: PollPolicy = exact
    ) throws -> [Transition] {
        var rng = SplitMix64(seed: 7)
        let machine = JobMachine(policy: policy)
        var job = JobSnapshot(kind: kind)
        var transitions: [Transition] = []
        for step in steps {
            let transition = try machine.step(job, step.input, now: t0.addingTimeInterval(step.at), using: &rng)
            transitions.append(transition)
            job = transition.after
        }
        return transitions
    }

    static let accepted: [Step] = [
        Step(at: 0, input: .begin), Step(at: 1, input: .submitted(.accepted(operationID: "op"))),
    ]
    /// 404s after the start-up window on the error backoff (2, 4, 8, 16, 32 s apart): the sixth spans 62 s.
    static let lateNotFound = [70, 72, 76, 84, 100, 132].map { Step(at: $0, input: .polled(.notFound)) }

    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        var kind: JobKind = .siteCreatePlain
        var policy: PollPolicy = exact
        var steps: [Step]
        var state: JobState
        var pending: PendingAction?
        /// Seconds after t0 of the next action, when one is expected.
        var next: Double?
        var lastErrorContains: String?
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(
            name: "begin commits submitting before any POST",
            steps: [Step(at: 0, input: .begin)],
            state: .submitting,
            pending: .submit,
            next: 0
        ),
        Scenario(
            name: "202 + operation ID: accepted, first poll 3 s later",
            steps: accepted,
            state: .accepted,
            pending: .poll,
            next: 4
        ),
        Scenario(
            name: "404 inside the start-up window keeps waiting, uncounted",
            steps: accepted + [Step(at: 4, input: .polled(.notFound)), Step(at: 6, input: .polled(.notFound))],
            state: .accepted,
            pending: .poll,
            next: 9
        ),
        Scenario(
            name: "202 moves to running on the backoff",
            steps: accepted + [Step(at: 4, input: .polled(.inProgress))],
            state: .running,
            pending: .poll,
            next: 6
        ),
        Scenario(
            name: "200 succeeds",
            steps: accepted + [
                Step(at: 4, input: .polled(.inProgress)), Step(at: 6, input: .polled(.finished(data: nil))),
            ],
            state: .succeeded
        ),
        Scenario(
            name: "404 after the window is confirmed, not believed at once",
            steps: accepted + [Step(at: 70, input: .polled(.notFound))],
            state: .accepted,
            pending: .poll,
            next: 72,
            lastErrorContains: "confirming (1 of 3, over 60 s)"
        ),
        Scenario(
            name: "404 after the window, seen over 60 s: settle by reading the resource",
            steps: accepted + lateNotFound,
            state: .accepted,
            pending: .reconcile,
            next: 132
        ),
        Scenario(
            name: "late 404 after running counts too, even inside the window",
            steps: accepted + [Step(at: 4, input: .polled(.inProgress)), Step(at: 6, input: .polled(.notFound))],
            state: .running,
            pending: .poll,
            next: 8,
            lastErrorContains: "404"
        ),
        Scenario(
            name: "one 500 is not a failure",
            steps: accepted + [Step(at: 4, input: .polled(.failed(message: "boom")))],
            state: .accepted,
            pending: .poll,
            next: 6,
            lastErrorContains: "confirming (1 of 3, over 60 s)"
        ),
        Scenario(
            name: "500 three times within seconds is not yet believed: the streak must span 60 s",
            steps: accepted + [
                Step(at: 4, input: .polled(.failed(message: "boom"))),
                Step(at: 6, input: .polled(.failed(message: "boom"))),
                Step(at: 10, input: .polled(.failed(message: "boom"))),
            ],
            state: .accepted,
            pending: .poll,
            next: 18,
            lastErrorContains: "believed once that spans 60 s"
        ),
        Scenario(
            name: "500 in a row over 60 s fails with Kinsta's message",
            steps: accepted + [4, 6, 10, 18, 34, 66].map { Step(at: $0, input: .polled(.failed(message: "boom"))) },
            state: .failed,
            lastErrorContains: "boom"
        ),
        Scenario(
            name: "five 500s over 30 s and then a 202: the count starts again",
            steps: accepted + [4, 6, 10, 18, 34].map { Step(at: $0, input: .polled(.failed(message: "boom"))) }
                + [Step(at: 66, input: .polled(.inProgress))],
            state: .running,
            pending: .poll
        ),
        Scenario(
            name: "with no span configured, the count alone decides",
            policy: {
                var policy = exact
                policy.confirmSpan = 0
                return policy
            }(),
            steps: accepted + [4, 6, 10].map { Step(at: $0, input: .polled(.failed(message: "boom"))) },
            state: .failed,
            lastErrorContains: "boom"
        ),
        Scenario(
            name: "a 202 between 500s starts the count again",
            steps: accepted + [
                Step(at: 4, input: .polled(.failed(message: "x"))), Step(at: 6, input: .polled(.failed(message: "x"))),
                Step(at: 10, input: .polled(.inProgress)), Step(at: 12, input: .polled(.failed(message: "x"))),
            ],
            state: .running,
            pending: .poll,
            lastErrorContains: "1 of 3"
        ),
        Scenario(
            name: "429 with Retry-After waits exactly that, no failure",
            steps: accepted + [Step(at: 4, input: .polled(.rateLimited(retryAfter: 30)))],
            state: .accepted,
            pending: .poll,
            next: 34,
            lastErrorContains: "429"
        ),
        Scenario(
            name: "transient trouble backs off and does not fail",
            steps: accepted + [
                Step(at: 4, input: .polled(.transient(reason: "reset"))),
                Step(at: 6, input: .polled(.transient(reason: "reset"))),
            ],
            state: .accepted,
            pending: .poll,
            next: 10,
            lastErrorContains: "reset"
        ),
        Scenario(
            name: "deadline: a non-final answer at the deadline times out",
            kind: .siteDelete,
            steps: accepted + [Step(at: 900, input: .polled(.inProgress))],
            state: .timedOut,
            lastErrorContains: "deadline"
        ),
        Scenario(
            name: "polls are never scheduled past the deadline",
            kind: .siteDelete,
            steps: accepted + [Step(at: 890, input: .polled(.rateLimited(retryAfter: 60)))],
            state: .accepted,
            pending: .poll,
            next: 900
        ),
        Scenario(
            name: "4xx on submit fails with Kinsta's message",
            steps: [
                Step(at: 0, input: .begin),
                Step(at: 1, input: .submitted(.rejected(status: 400, message: "Bad request format"))),
            ],
            state: .failed,
            lastErrorContains: "Bad request format"
        ),
        Scenario(
            name: "401 on submit asks an admin",
            steps: [Step(at: 0, input: .begin), Step(at: 1, input: .submitted(.unauthorized(message: "HTTP 401")))],
            state: .needsAttention,
            lastErrorContains: "API key"
        ),
        Scenario(
            name: "5xx on a create's submit: read Kinsta before sending again (it may have begun)",
            steps: [
                Step(at: 0, input: .begin),
                Step(
                    at: 1,
                    input: .submitted(
                        .serverError(
                            status: 500,
                            message: "Error occurred while creating a site"
                        )
                    )
                ),
            ],
            state: .submitting,
            pending: .reconcile,
            next: 3,
            lastErrorContains: "does not show that nothing was done"
        ),
        Scenario(
            name: "5xx on a restore's submit: read, which settles nothing, so an admin decides",
            kind: .backupRestore,
            steps: [
                Step(at: 0, input: .begin), Step(at: 1, input: .submitted(.serverError(status: 504, message: "gw"))),
                Step(at: 3, input: .reconciled(.undetermined(reason: "no read shows a restore"))),
            ],
            state: .needsAttention,
            lastErrorContains: "no read shows a restore"
        ),
        Scenario(
            name: "5xx on a delete's submit: sent again after a backoff (a repeat is harmless)",
            kind: .siteDelete,
            steps: [
                Step(at: 0, input: .begin), Step(at: 1, input: .submitted(.serverError(status: 503, message: "down"))),
            ],
            state: .submitting,
            pending: .submit,
            next: 3
        ),
        Scenario(
            name: "…and its repeat answered 404: the first may have deleted it, so the site is read",
            kind: .siteDelete,
            steps: [
                Step(at: 0, input: .begin), Step(at: 1, input: .submitted(.serverError(status: 502, message: "gw"))),
                Step(at: 3, input: .submitted(.rejected(status: 404, message: "Site not found"))),
            ],
            state: .submitting,
            pending: .reconcile,
            next: 7,
            lastErrorContains: "earlier submission"
        ),
        Scenario(
            name: "'environment blocked' on submit: sent again later, never a failure",
            steps: [
                Step(at: 0, input: .begin),
                Step(at: 1, input: .submitted(.busy(message: "blocked by another process"))),
            ],
            state: .submitting,
            pending: .submit,
            next: 3,
            lastErrorContains: "busy"
        ),
        Scenario(
            name: "a delete answered 404 at its first sending fails: the site never was",
            kind: .siteDelete,
            steps: [
                Step(at: 0, input: .begin),
                Step(at: 1, input: .submitted(.rejected(status: 404, message: "Site not found"))),
            ],
            state: .failed,
            lastErrorContains: "Site not found"
        ),
        Scenario(
            name: "a resent delete answered 404 after an unclear first one: read the site, not believed",
            kind: .siteDelete,
            steps: [
                Step(at: 0, input: .begin), Step(at: 1, input: .sending), Step(at: 1, input: .recovered),
                Step(at: 2, input: .reconciled(.notDone(detail: "site s still exists"))),
                Step(at: 3, input: .submitted(.busy(message: "blocked by another process"))),
                Step(at: 5, input: .submitted(.rejected(status: 404, message: "Site not found"))),
            ],
            state: .submitting,
            pending: .reconcile,
            next: 9,
            lastErrorContains: "earlier submission"
        ),
        Scenario(
            name: "…and the read finds the site gone: succeeded",
            kind: .siteDelete,
            steps: [
                Step(at: 0, input: .begin), Step(at: 1, input: .submitted(.ambiguous(reason: "timeout"))),
                Step(at: 3, input: .reconciled(.notDone(detail: "site s still exists"))),
                Step(at: 4, input: .submitted(.rejected(status: 404, message: "Site not found"))),
                Step(at: 4, input: .reconciled(.done(detail: "site s is gone", result: nil))),
            ],
            state: .succeeded
        ),
        Scenario(
            name: "unclear submit: reconcile, never resend blindly",
            steps: [Step(at: 0, input: .begin), Step(at: 1, input: .submitted(.ambiguous(reason: "timeout")))],
            state: .submitting,
            pending: .reconcile,
            next: 3
        ),
        Scenario(
            name: "nothing could be sent before the deadline: timed out",
            kind: .siteDelete,
            steps: [Step(at: 0, input: .begin), Step(at: 901, input: .submitted(.notSent(reason: "refused")))],
            state: .timedOut,
            lastErrorContains: "nothing reached Kinsta"
        ),
        Scenario(
            name: "restart while the POST was on its way: reconcile, never resend blindly",
            steps: [Step(at: 0, input: .begin), Step(at: 1, input: .sending), Step(at: 5, input: .recovered)],
            state: .submitting,
            pending: .reconcile,
            next: 5,
            lastErrorContains: "on its way"
        ),
        Scenario(
            name: "restart before the POST left: send it, nothing to read",
            steps: [Step(at: 0, input: .begin), Step(at: 5, input: .recovered)],
            state: .submitting,
            pending: .submit,
            next: 0
        ),
        Scenario(
            name: "restart after a definite answer (429) and before the resend: send it",
            steps: [
                Step(at: 0, input: .begin), Step(at: 1, input: .sending),
                Step(at: 1, input: .submitted(.rateLimited(retryAfter: 2))), Step(at: 2, input: .recovered),
            ],
            state: .submitting,
            pending: .submit,
            next: 3
        ),
        Scenario(
            name: "reconciliation finds the site: succeeded",
            steps: [
                Step(at: 0, input: .begin), Step(at: 1, input: .sending), Step(at: 1, input: .recovered),
                Step(at: 2, input: .reconciled(.done(detail: "site exists", result: nil))),
            ],
            state: .succeeded
        ),
        Scenario(
            name: "no trace of a create after a crash yet: look again later, never resend",
            steps: [
                Step(at: 0, input: .begin), Step(at: 1, input: .sending), Step(at: 1, input: .recovered),
                Step(at: 2, input: .reconciled(.notDone(detail: "no site"))),
            ],
            state: .submitting,
            pending: .reconcile,
            next: 4,
            lastErrorContains: "for up to 240 s before sending it again"
        ),
        Scenario(
            name: "still no trace of a create once its grace (240 s) has passed: Kinsta did nothing, send again",
            steps: [Step(at: 0, input: .begin), Step(at: 1, input: .sending), Step(at: 1, input: .recovered)]
                + [2, 4, 8, 16, 32, 64, 128, 256].map { Step(at: $0, input: .reconciled(.notDone(detail: "no site"))) },
            state: .submitting,
            pending: .submit,
            next: 256,
            lastErrorContains: "sending it again"
        ),
        Scenario(
            name: "…one look short of the grace: look again, do not send",
            steps: [Step(at: 0, input: .begin), Step(at: 1, input: .sending), Step(at: 1, input: .recovered)]
                + [2, 4, 8, 16, 32, 64, 128].map { Step(at: $0, input: .reconciled(.notDone(detail: "no site"))) },
            state: .submitting,
            pending: .reconcile,
            next: 256
        ),
        Scenario(
            name: "the create sent again after its grace is refused as 'already used': read Kinsta, not failed",
            steps: [Step(at: 0, input: .begin), Step(at: 1, input: .sending), Step(at: 1, input: .recovered)]
                + [2, 4, 8, 16, 32, 64, 128, 256].map { Step(at: $0, input: .reconciled(.notDone(detail: "no site"))) }
                + [Step(at: 257, input: .submitted(.rejected(status: 400, message: "display name is already used")))],
            state: .submitting,
            pending: .reconcile,
            lastErrorContains: "earlier submission"
        ),
        Scenario(
            name: "a create refused as 'already used' at its first, clear sending fails",
            steps: [
                Step(at: 0, input: .begin),
                Step(at: 1, input: .submitted(.rejected(status: 400, message: "display name is already used"))),
            ],
            state: .failed,
            lastErrorContains: "already used"
        ),
        Scenario(
            name: "still no trace of a create at the deadline: an admin decides",
            steps: [
                Step(at: 0, input: .begin), Step(at: 1, input: .sending), Step(at: 1, input: .recovered),
                Step(at: 1800, input: .reconciled(.notDone(detail: "no site"))),
            ],
            state: .needsAttention,
            lastErrorContains: "Check MyKinsta"
        ),
        Scenario(
            name: "no trace of a delete after a crash: a repeat is harmless, send it",
            kind: .siteDelete,
            steps: [
                Step(at: 0, input: .begin), Step(at: 1, input: .sending), Step(at: 1, input: .recovered),
                Step(at: 2, input: .reconciled(.notDone(detail: "site still exists"))),
            ],
            state: .submitting,
            pending: .submit,
            next: 2
        ),
        Scenario(
            name: "late 404 and the effect is missing: failed",
            steps: accepted + lateNotFound + [Step(at: 133, input: .reconciled(.notDone(detail: "no site")))],
            state: .failed,
            lastErrorContains: "operation not found"
        ),
        Scenario(
            name: "a restore cannot be read back: needs attention",
            kind: .backupRestore,
            steps: [
                Step(at: 0, input: .begin), Step(at: 1, input: .sending), Step(at: 1, input: .recovered),
                Step(at: 2, input: .reconciled(.undetermined(reason: "no read shows a restore"))),
            ],
            state: .needsAttention
        ),
        Scenario(name: "cancel a queued job", steps: [Step(at: 0, input: .cancel)], state: .cancelled),
        Scenario(
            name: "retry a failed job: queued again",
            steps: [
                Step(at: 0, input: .begin), Step(at: 1, input: .submitted(.rejected(status: 400, message: "x"))),
                Step(at: 2, input: .retry),
            ],
            state: .queued
        ),
        Scenario(
            name: "retry a timed-out job: watch the same operation again",
            kind: .siteDelete,
            steps: accepted + [Step(at: 900, input: .polled(.inProgress)), Step(at: 1000, input: .retry)],
            state: .running,
            pending: .poll,
            next: 1000
        ),
    ]

    @Test(arguments: scenarios)
    func scenario(_ scenario: Scenario) throws {
        let last = try #require(try Self.run(scenario.kind, scenario.steps, policy: scenario.policy).last).after
        #expect(last.state == scenario.state)
        #expect(last.pendingAction == scenario.pending)
        if let next = scenario.next {
            #expect(last.nextActionAt == Self.t0.addingTimeInterval(next))
        }
        if scenario.state.isTerminal { #expect(last.nextActionAt == nil) }
        if let text = scenario.lastErrorContains {
            #expect(last.lastError?.contains(text) == true, "lastError: \(last.lastError ?? "nil")")
        }
    }

    @Test func acceptanceErasesSecretsAndRecordsTheOperation() throws {
        let transitions = try Self.run(.siteCreate, Self.accepted)
        let accepted = try #require(transitions.last)
        #expect(accepted.eraseSecrets)
        #expect(accepted.changesState)
        #expect(accepted.after.operationID == "op")
        #expect(accepted.after.acceptedAt == Self.t0.addingTimeInterval(1))
        #expect(accepted.after.deadline == Self.t0.addingTimeInterval(1800))
    }

    @Test func aNewAttemptForgetsAnUnclearSubmission() throws {
        let transitions = try Self.run(
            .siteDelete,
            [
                Step(at: 0, input: .begin), Step(at: 1, input: .submitted(.ambiguous(reason: "reset"))),
                Step(at: 2, input: .reconciled(.undetermined(reason: "cannot read"))), Step(at: 3, input: .retry),
                Step(at: 4, input: .begin),
            ]
        )
        #expect(transitions[1].after.submissionUnclear)
        #expect(transitions[3].after.submissionUnclear == false)
        #expect(transitions[4].after.submissionUnclear == false)
    }

    @Test func retryCountsAttemptsAndClearsTheOldOperation() throws {
        let transitions = try Self.run(
            .siteCreatePlain,
            [
                Step(at: 0, input: .begin), Step(at: 1, input: .submitted(.rejected(status: 400, message: "x"))),
                Step(at: 2, input: .retry),
            ]
        )
        let retried = try #require(transitions.last).after
        #expect(retried.attempt == 2)
        #expect(retried.operationID == nil)
        #expect(retried.lastError == nil)
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var steps: [Step]
        var testDescription: String { "\(steps.last.map { "\($0.input)" } ?? "")" }
    }

    static let refusals: [Refusal] = [
        Refusal(steps: [Step(at: 0, input: .begin), Step(at: 1, input: .cancel)]),
        Refusal(steps: accepted + [Step(at: 2, input: .cancel)]),
        Refusal(steps: [Step(at: 0, input: .retry)]),
        Refusal(steps: accepted + [Step(at: 2, input: .polled(.finished(data: nil))), Step(at: 3, input: .retry)]),
        Refusal(steps: [Step(at: 0, input: .begin), Step(at: 1, input: .polled(.inProgress))]),
        Refusal(steps: accepted + [Step(at: 2, input: .submitted(.accepted(operationID: "again")))]),
        Refusal(steps: [Step(at: 0, input: .begin), Step(at: 1, input: .begin)]),
    ]

    @Test(arguments: refusals)
    func inputsThatMakeNoSenseAreRefused(_ refusal: Refusal) {
        #expect(throws: TransitionRefused.self) { try Self.run(.siteCreatePlain, refusal.steps) }
    }

    /// The confirmation rule by itself: the count, and the span at the backoff's lowest jitter.
    @Test(arguments: [
        (confirmations: 3, span: 60.0, jitter: 0.0, sightings: 5, believed: false),  // 2+4+8+16 = 30 s
        (confirmations: 3, span: 60.0, jitter: 0.0, sightings: 6, believed: true),  // + 32 = 62 s
        (confirmations: 3, span: 60.0, jitter: 0.2, sightings: 6, believed: false),  // 62 × 0.8 = 49.6 s
        (confirmations: 3, span: 60.0, jitter: 0.2, sightings: 7, believed: true),  // + 64 × 0.8
        (confirmations: 8, span: 60.0, jitter: 0.0, sightings: 7, believed: false),  // the count still rules
        (confirmations: 3, span: 0.0, jitter: 0.2, sightings: 3, believed: true),
        (confirmations: 3, span: 0.0, jitter: 0.2, sightings: 2, believed: false),
    ])
    func confirmationNeedsCountAndSpan(
        _ row: (confirmations: Int, span: Double, jitter: Double, sightings: Int, believed: Bool)
    ) {
        let policy = PollPolicy(
            errorBackoff: Backoff(base: 2, multiplier: 2, cap: 300, jitter: row.jitter),
            confirmations: row.confirmations,
            confirmSpan: row.span
        )
        #expect(policy.isConfirmed(sightings: row.sightings) == row.believed)
    }
}
