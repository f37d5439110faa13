import Foundation
import OpsCore
import OpsStore
import OpsTestSupport
import Testing

/// Store tests: durability rules, the history without gaps (nothing is pruned here), atomic transitions. On an
/// in-memory database, unless the test is about the file (its mode, the WAL, what a reopened handle reads) or is the
/// group commit the daemon runs on it.
@Suite struct OpsDatabaseTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func params(_ name: String = "Site A") throws -> ValidatedParams {
        try ValidatedParams(
            kind: .siteCreatePlain,
            raw: ["display_name": .string(name), "region": "us-central1"],
            defaultCompany: "company-1"
        )
    }

    func createParams() throws -> ValidatedParams {
        try ValidatedParams(
            kind: .siteCreate,
            raw: [
                "display_name": "WP", "region": "us-central1", "admin_email": "a@b.co", "admin_password": "s3cret!",
                "admin_user": "admin", "site_title": "WP",
            ],
            defaultCompany: "company-1"
        )
    }

    func created(_ result: OpsDatabase.InsertResult) throws -> StoredJob {
        guard case .created(let job) = result else { throw TestFailure("expected a new job") }
        return job
    }

    @Test func newJobIsQueuedWithItsFirstEvent() async throws {
        let database = try OpsDatabase.inMemory()
        // When a job is inserted
        let job = try created(
            try await database.insert(
                NewJob(
                    params: try params(),
                    note: "hello",
                    submitter: Peer(uid: 1000, gid: 1000, pid: 42),
                    idempotencyKey: nil
                ),
                now: start
            )
        )
        // Then it is queued, with its submitter, and the history holds one event from nothing to queued
        #expect(job.state == .queued)
        #expect(job.submitter == Peer(uid: 1000, gid: 1000, pid: 42))
        #expect(job.target == "site-name:Site A")
        let events = try await database.events(after: 0, limit: 10)
        #expect(events.count == 1)
        #expect(events[0].from == nil)
        #expect(events[0].to == .queued)
        #expect(events[0].jobID == job.id)
    }

    @Test func fileIsOwnerOnly() async throws {
        let db = try TemporaryDatabase()
        _ = try await db.database.insert(
            NewJob(params: try params(), note: nil, submitter: nil, idempotencyKey: nil),
            now: start
        )
        let attributes = try FileManager.default.attributesOfItem(atPath: db.path)
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
        #expect(mode & 0o077 == 0, "database mode is \(String(mode, radix: 8))")
    }

    @Test func eventsAreGapFreeAcrossJobsAndTransitions() async throws {
        let database = try OpsDatabase.inMemory()
        let machine = JobMachine(policy: PollPolicy())
        var rng = SplitMix64(seed: 1)
        // Given three jobs, each begun and accepted
        for index in 0..<3 {
            var job = try created(
                try await database.insert(
                    NewJob(params: try params("Site \(index)"), note: nil, submitter: nil, idempotencyKey: nil),
                    now: start
                )
            )
            for input in [JobInput.begin, .submitted(.accepted(operationID: "op-\(index)"))] {
                let transition = try machine.step(job.snapshot, input, now: start, using: &rng)
                job = try #require(try await database.apply(transition, to: job, now: start)).job
            }
        }
        // Then the history is 1…9 with no gap, in order
        let events = try await database.events(after: 0, limit: 100)
        #expect(events.map(\.seq) == Array(1...9))
        // And `after` pages resume exactly
        let tail = try await database.events(after: 4, limit: 100)
        #expect(tail.map(\.seq) == Array(5...9))
        let last = try await database.lastEvents(2)
        #expect(last.map(\.seq) == [8, 9])
    }

    /// `history --since TIME` starts at the seq that bisection finds, whatever holes pruning left.
    @Test func lastSeqBeforeATimeIsFoundByBisection() async throws {
        let database = try OpsDatabase.inMemory()
        #expect(try await database.lastSeq(before: start) == 0)
        // Given 40 jobs submitted a minute apart (one event each)
        for index in 0..<40 {
            _ = try await database.insert(
                NewJob(params: try params("Site \(index)"), note: nil, submitter: nil, idempotencyKey: nil),
                now: start.addingTimeInterval(Double(index) * 60)
            )
        }
        // Then the last event before a time is the one of the minute before it
        for minute in 0..<40 {
            let time = start.addingTimeInterval(Double(minute) * 60)
            #expect(try await database.lastSeq(before: time) == Int64(minute))
            #expect(try await database.lastSeq(before: time.addingTimeInterval(1)) == Int64(minute + 1))
        }
        #expect(try await database.lastSeq(before: start.addingTimeInterval(3600)) == 40)
        // And with holes (events 5 to 30 pruned), the answer stays right
        try await database.executeForTesting("DELETE FROM event WHERE seq BETWEEN 5 AND 30")
        #expect(try await database.lastSeq(before: start.addingTimeInterval(10 * 60 + 1)) == 4)
        #expect(try await database.lastSeq(before: start.addingTimeInterval(31 * 60)) == 31)
        #expect(try await database.lastSeq(before: start.addingTimeInterval(35 * 60)) == 35)
        // And `through` bounds a read from above
        #expect(try await database.events(after: 30, through: 33, limit: 100).map(\.seq) == [31, 32, 33])
        #expect(try await database.lastEvents(2, through: 33).map(\.seq) == [32, 33])
    }

    /// With the database's `GroupCommit` running (as in the daemon) and without it (each submission alone).
    @Test(arguments: [true, false])
    func concurrentSubmissionsCommitTogetherAndARefusalTakesBackOnlyItsOwn(groupCommit: Bool) async throws {
        let db = try TemporaryDatabase()
        let database = db.database
        if groupCommit {
            try await database.withGroupCommit { try await concurrentSubmissions(database) }
        } else {
            try await concurrentSubmissions(database)
        }
    }

    func concurrentSubmissions(_ database: OpsDatabase) async throws {
        let start = self.start
        // 40 submissions at once (group-committed in batches), two of them reusing one key: the same request (the
        // original comes back) and a different one (refused)
        var submissions: [NewJob] = []
        for index in 0..<40 {
            submissions.append(
                NewJob(
                    params: try params("Batch \(index)"),
                    note: nil,
                    submitter: nil,
                    idempotencyKey: index == 0 ? "key-0" : nil
                )
            )
        }
        let same = NewJob(params: try params("Batch 0"), note: nil, submitter: nil, idempotencyKey: "key-0")
        let different = NewJob(params: try params("Other"), note: nil, submitter: nil, idempotencyKey: "key-0")
        let original = try created(try await database.insert(submissions[0], now: start))
        let outcomes = await withTaskGroup(of: String.self) { group in
            for job in submissions.dropFirst() + [same, different] {
                group.addTask {
                    do {
                        switch try await database.insert(job, now: start) {
                        case .created: return "created"
                        case .existing(let existing): return existing.id == original.id ? "existing" : "wrong"
                        }
                    } catch let error as StoreError where error.code == .idempotencyConflict {
                        return "conflict"
                    } catch {
                        return "error"
                    }
                }
            }
            var outcomes: [String: Int] = [:]
            for await outcome in group { outcomes[outcome, default: 0] += 1 }
            return outcomes
        }
        #expect(outcomes == ["created": 39, "existing": 1, "conflict": 1])
        // Every created job is stored with its one event, gap-free, and nothing of the refused one
        let jobs = try await database.jobs(state: nil, kind: nil, before: nil, limit: 100)
        #expect(jobs.count == 40)
        #expect(!jobs.contains { $0.params.values["display_name"] == "Other" })
        let events = try await database.events(after: 0, limit: 100)
        #expect(events.map(\.seq) == Array(1...40))
        #expect(try await database.integrityCheck() == ["ok"])
    }

    @Test func anUnclearSubmissionIsRememberedAcrossARestart() async throws {
        let db = try TemporaryDatabase()
        let machine = JobMachine(policy: PollPolicy())
        var rng = SplitMix64(seed: 1)
        var job = try created(
            try await db.database.insert(
                NewJob(params: try params("Unclear"), note: nil, submitter: nil, idempotencyKey: nil),
                now: start
            )
        )
        for input in [JobInput.begin, .submitted(.ambiguous(reason: "reset"))] {
            let transition = try machine.step(job.snapshot, input, now: start, using: &rng)
            job = try #require(try await db.database.apply(transition, to: job, now: start)).job
        }
        // Read back by a second handle on the file, as a restarted daemon would
        let reopened = try OpsDatabase(path: db.database.path)
        let read = try #require(try await reopened.job(id: job.id))
        #expect(read.snapshot.submissionUnclear)
        #expect(read.snapshot.pendingAction == .reconcile)
    }

    @Test func staleTransitionWritesNothing() async throws {
        let database = try OpsDatabase.inMemory()
        let machine = JobMachine(policy: PollPolicy())
        var rng = SplitMix64(seed: 1)
        let job = try created(
            try await database.insert(
                NewJob(params: try params(), note: nil, submitter: nil, idempotencyKey: nil),
                now: start
            )
        )
        // Given an admin cancelled the job after the engine read it
        let cancel = try machine.step(job.snapshot, .cancel, now: start, using: &rng)
        #expect(try await database.apply(cancel, to: job, now: start) != nil)
        // When the engine applies its transition computed from the old version
        let begin = try machine.step(job.snapshot, .begin, now: start, using: &rng)
        let result = try await database.apply(begin, to: job, now: start)
        // Then nothing is written: the job stays cancelled and no event is added
        #expect(result == nil)
        #expect(try await database.job(id: job.id)?.state == .cancelled)
        #expect(try await database.events(after: 0, limit: 10).map(\.to) == [.queued, .cancelled])
    }

    @Test func transitionAndEventCommitTogetherOrNotAtAll() async throws {
        let database = try OpsDatabase.inMemory()
        let machine = JobMachine(policy: PollPolicy())
        var rng = SplitMix64(seed: 1)
        let job = try created(
            try await database.insert(
                NewJob(params: try params(), note: nil, submitter: nil, idempotencyKey: nil),
                now: start
            )
        )
        // Given a transition whose update is made to fail inside the transaction (a trigger aborts the event insert)
        try await database.executeForTesting(
            """
            CREATE TRIGGER fail_event BEFORE INSERT ON event WHEN NEW.to_state = 'submitting'
            BEGIN SELECT RAISE(ABORT, 'injected'); END
            """
        )
        let begin = try machine.step(job.snapshot, .begin, now: start, using: &rng)
        await #expect(throws: (any Error).self) { try await database.apply(begin, to: job, now: start) }
        // Then the job row is unchanged too: the update rolled back with the failed event
        let stored = try #require(try await database.job(id: job.id))
        #expect(stored.state == .queued)
        #expect(stored.version == job.version)
        #expect(try await database.events(after: 0, limit: 10).count == 1)
    }

    @Test func secretsAreErasedOnceAccepted() async throws {
        let db = try TemporaryDatabase()
        let machine = JobMachine(policy: PollPolicy())
        var rng = SplitMix64(seed: 1)
        var job = try created(
            try await db.database.insert(
                NewJob(params: try createParams(), note: nil, submitter: nil, idempotencyKey: nil),
                now: start
            )
        )
        #expect(job.params.values["admin_password"] == "s3cret!")
        for input in [JobInput.begin, .submitted(.accepted(operationID: "sites:add-1"))] {
            job = try #require(
                try await db.database.apply(
                    try machine.step(job.snapshot, input, now: start, using: &rng),
                    to: job,
                    now: start
                )
            ).job
        }
        #expect(job.params.values["admin_password"] == nil)
        #expect(job.params.values["admin_user"] == "admin")
        // And the password is nowhere on disk: not in the main file (secure_delete overwrote it) and not in the WAL,
        // which held the insert's copy of the page until the erase checkpointed and truncated it
        #expect(!db.database.walScrubIsPending)
        for file in [db.path, db.path + "-wal"] {
            #expect(!Self.fileContains(file, "s3cret!"), "password found in \(file)")
        }
    }

    @Test func aReaderThatHoldsTheWALDelaysTheScrubUntilTheNextTransition() async throws {
        let db = try TemporaryDatabase()
        let machine = JobMachine(policy: PollPolicy())
        var rng = SplitMix64(seed: 1)
        var job = try created(
            try await db.database.insert(
                NewJob(params: try createParams(), note: nil, submitter: nil, idempotencyKey: nil),
                now: start
            )
        )
        job = try #require(
            try await db.database.apply(
                try machine.step(job.snapshot, .begin, now: start, using: &rng),
                to: job,
                now: start
            )
        ).job
        // Given a reader in the middle of a read transaction on the WAL
        let (entered, enteredSignal) = AsyncStream<Void>.makeStream()
        let release = DispatchSemaphore(value: 0)
        let database = db.database
        let reader = Task {
            try await database.readForTesting {
                enteredSignal.yield()
                release.wait()
            }
        }
        for await _ in entered { break }
        // When the job is accepted (its password erased) while the reader holds the WAL
        job = try #require(
            try await db.database.apply(
                try machine.step(
                    job.snapshot,
                    .submitted(.accepted(operationID: "sites:add-1")),
                    now: start,
                    using: &rng
                ),
                to: job,
                now: start
            )
        ).job
        #expect(job.params.values["admin_password"] == nil)
        // Then the scrub could not finish: it is pending, and the WAL still has the insert's copy
        #expect(db.database.walScrubIsPending)
        #expect(Self.fileContains(db.path + "-wal", "s3cret!"))
        release.signal()
        try await reader.value
        // And the next transition of any job finishes it: the password is gone from both files
        let other = try created(
            try await db.database.insert(
                NewJob(params: try params("Other"), note: nil, submitter: nil, idempotencyKey: nil),
                now: start
            )
        )
        _ = try await db.database.apply(
            try machine.step(other.snapshot, .begin, now: start, using: &rng),
            to: other,
            now: start
        )
        #expect(!db.database.walScrubIsPending)
        for file in [db.path, db.path + "-wal"] {
            #expect(!Self.fileContains(file, "s3cret!"), "password found in \(file)")
        }
    }

    static func fileContains(_ path: String, _ text: String) -> Bool {
        let bytes = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
        return bytes.range(of: Data(text.utf8)) != nil
    }

    @Test func idempotencyKeyReturnsTheFirstJobOrConflicts() async throws {
        let database = try OpsDatabase.inMemory()
        let first = try created(
            try await database.insert(
                NewJob(params: try params(), note: nil, submitter: nil, idempotencyKey: "deploy-42"),
                now: start
            )
        )
        // Same key, same request → the original job
        let again = try await database.insert(
            NewJob(params: try params(), note: nil, submitter: nil, idempotencyKey: "deploy-42"),
            now: start
        )
        guard case .existing(let existing) = again else { throw TestFailure("expected the existing job") }
        #expect(existing.id == first.id)
        // Same key, different request → conflict naming the first job
        await #expect(throws: StoreError.self) {
            _ = try await database.insert(
                NewJob(params: try params("Other"), note: nil, submitter: nil, idempotencyKey: "deploy-42"),
                now: start
            )
        }
        #expect(try await database.jobs(state: nil, kind: nil, before: nil, limit: 10).count == 1)
    }

    @Test func listsNewestFirstWithPagingAndFilters() async throws {
        let database = try OpsDatabase.inMemory()
        for index in 0..<5 {
            _ = try await database.insert(
                NewJob(params: try params("S\(index)"), note: nil, submitter: nil, idempotencyKey: nil),
                now: start
            )
        }
        let page = try await database.jobs(state: nil, kind: nil, before: nil, limit: 2)
        #expect(page.map(\.id) == [5, 4])
        let next = try await database.jobs(state: nil, kind: nil, before: 4, limit: 2)
        #expect(next.map(\.id) == [3, 2])
        #expect(try await database.jobs(state: .queued, kind: .siteCreatePlain, before: nil, limit: 10).count == 5)
        #expect(try await database.jobs(state: .running, kind: nil, before: nil, limit: 10).isEmpty)
    }

    @Test func reopeningKeepsEverythingAndChecksClean() async throws {
        let db = try TemporaryDatabase()
        _ = try await db.database.insert(
            NewJob(params: try params(), note: nil, submitter: nil, idempotencyKey: nil),
            now: start
        )
        let reopened = try OpsDatabase(path: db.path)
        #expect(try await reopened.jobs(state: nil, kind: nil, before: nil, limit: 10).count == 1)
        #expect(try await reopened.integrityCheck() == ["ok"])
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

@Suite struct RetentionTests {
    @Test func pruningDeletesOnlyOldFinishedJobsAndNeverReusesSeqs() async throws {
        let database = try OpsDatabase.inMemory()
        let machine = JobMachine(policy: PollPolicy())
        var rng = SplitMix64(seed: 3)
        let old = Date(timeIntervalSince1970: 1_700_000_000)
        let recent = old.addingTimeInterval(100 * 86_400)
        func insert(_ name: String, at: Date) async throws -> StoredJob {
            let params = try ValidatedParams(
                kind: .siteCreatePlain,
                raw: ["display_name": .string(name), "region": "us"],
                defaultCompany: "c"
            )
            guard
                case .created(let job) = try await database.insert(
                    NewJob(params: params, note: nil, submitter: nil, idempotencyKey: nil),
                    now: at
                )
            else {
                throw TestFailure("not created")
            }
            return job
        }
        // Given an old cancelled job, an old job still queued, and a recent cancelled one
        let oldDone = try await insert("old-done", at: old)
        _ = try await database.apply(
            try machine.step(oldDone.snapshot, .cancel, now: old, using: &rng),
            to: oldDone,
            now: old
        )
        let oldQueued = try await insert("old-queued", at: old)
        let recentDone = try await insert("recent-done", at: recent)
        _ = try await database.apply(
            try machine.step(recentDone.snapshot, .cancel, now: recent, using: &rng),
            to: recentDone,
            now: recent
        )
        let before = try await database.events(after: 0, limit: 100)

        // When jobs that ended more than 90 days before `recent` are pruned, in batches of one
        let cutoff = recent.addingTimeInterval(-90 * 86_400 + 1)
        #expect(try await database.pruneFinished(before: cutoff, limit: 1) == 1)
        #expect(try await database.pruneFinished(before: cutoff, limit: 1) == 0)

        // Then only the old finished job and its events are gone; every other seq is unchanged
        #expect(try await database.job(id: oldDone.id) == nil)
        #expect(try await database.job(id: oldQueued.id) != nil)
        #expect(try await database.job(id: recentDone.id) != nil)
        let after = try await database.events(after: 0, limit: 100)
        #expect(after == before.filter { $0.jobID != oldDone.id })
        // And new events continue after the highest seq ever given, never reusing a pruned one
        let next = try await insert("next", at: recent)
        let newest = try #require(try await database.events(after: 0, jobID: next.id, limit: 10).first)
        #expect(newest.seq == (before.map(\.seq).max() ?? 0) + 1)
    }
}
