import Foundation
import GRDB
public import ServiceLifecycle
import Synchronization

/// Group commit as a `Service`: while it runs, submissions that arrive while a commit is under way are written
/// together in the next transaction (one fsync for all of them), each job in a savepoint of its own, so one refusal
/// (an idempotency conflict) takes back only that job.
///
/// The daemon puts it first in its `ServiceGroup`, so it is the last to hear of a graceful shutdown: by then the
/// socket takes no more submissions, and it commits what is queued before it returns. Cancelled, it hands what is
/// queued (and a batch whose transaction the cancellation rolled back) back to the submitters, each of which then
/// commits its own job in its own task. While no `GroupCommit` runs (before the group starts, after it ended, or in
/// tests and tools that use the store alone), every submission is its own transaction, written in its caller's task.
/// Either way a submitter returns only after the transaction holding its job committed, and no task outlives the
/// caller or the group.
public struct GroupCommit: Service {
    let database: OpsDatabase

    public func run() async throws {
        await run(whenServing: {})
    }

    /// `run()`, calling `whenServing` once submissions go through it (for tests that must not race its start).
    package func run(whenServing: @Sendable () -> Void) async {
        let queue = database.submissions
        queue.startServing()
        whenServing()
        await withGracefulShutdownHandler {
            while true {
                switch await queue.next() {
                case .batch(let batch):
                    do {
                        let results = try await database.write(batch.map { ($0.new, $0.now) })
                        for (item, result) in zip(batch, results) { item.continuation.resume(returning: .done(result)) }
                    } catch is CancellationError {
                        // Rolled back by the cancellation: nothing of the batch is stored; its submitters write.
                        for item in batch { item.continuation.resume(returning: .writeYourself) }
                    } catch {
                        // The transaction itself failed (a full disk, say): nothing of the batch is stored.
                        for item in batch { item.continuation.resume(returning: .done(.failure(error))) }
                    }
                case .end(let leftover):
                    for item in leftover { item.continuation.resume(returning: .writeYourself) }
                    return
                }
            }
        } onGracefulShutdown: {
            queue.stop()
        }
    }
}

extension OpsDatabase {
    /// The group-commit service of this database, for the daemon's `ServiceGroup`. Run at most one per database.
    public var groupCommit: GroupCommit { GroupCommit(database: self) }

    /// Commits `submissions` in one transaction, each in a savepoint of its own; the results in the same order.
    /// Throws when the transaction itself failed: then nothing of it is stored.
    func write(_ submissions: [(new: NewJob, now: Date)]) async throws -> [Result<InsertResult, any Error>] {
        let planner = outbox.get()
        let defaults = paramDefaults.get()
        return try await writer.write { db in
            // One submission alone needs no savepoint: its transaction is all of it, and a refusal rolls it back
            // (the caller reads a failed transaction as that job's failure). GRDB parses a savepoint's SQL each time.
            if submissions.count == 1, let submission = submissions.first {
                let inserted = try Self.insert(
                    db,
                    submission.new,
                    now: submission.now,
                    WriteContext(planner: planner, defaults: defaults)
                )
                return [.success(inserted)]
            }
            return submissions.map { submission in
                Result {
                    var inserted: InsertResult?
                    try db.inSavepoint {
                        inserted = try Self.insert(
                            db,
                            submission.new,
                            now: submission.now,
                            WriteContext(planner: planner, defaults: defaults)
                        )
                        return .commit
                    }
                    return inserted!
                }
            }
        }
    }
}

/// Submissions waiting for the running ``GroupCommit``, and its state.
final class SubmissionQueue: Sendable {
    /// What a submitter is told once its job was handled.
    enum Ticket: Sendable {
        /// Its transaction ended: the job is stored (or refused).
        case done(Result<OpsDatabase.InsertResult, any Error>)
        /// No group commit took it (none runs, or it was cancelled): the submitter commits its own job.
        case writeYourself
    }

    struct Item: Sendable {
        let new: NewJob
        let now: Date
        let continuation: CheckedContinuation<Ticket, Never>
    }

    /// What the group commit does next.
    enum Next {
        case batch([Item])
        /// It stops; `leftover` go back to their submitters.
        case end(leftover: [Item])
    }

    private struct State {
        var items: [Item] = []
        var serving = false
        var stopping = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    /// Most jobs in one transaction: a burst is cut into transactions of this size.
    static let batchLimit = 64

    /// Queues `item` for the group commit; `false` when none runs (nothing was queued).
    func enqueue(_ item: Item) -> Bool {
        let (queued, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard state.serving else { return (false, nil) }
            state.items.append(item)
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        waiter?.resume()
        return queued
    }

    func startServing() {
        state.withLock { state in
            precondition(!state.serving, "one GroupCommit per database")
            state.serving = true
            state.stopping = false
        }
    }

    /// A graceful stop: what is queued (and what still comes) is written first.
    func stop() {
        state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.stopping = true
            defer { state.waiter = nil }
            return state.waiter
        }?.resume()
    }

    /// Waits for the next batch, or for the end (stopped with nothing queued, or cancelled).
    func next() async -> Next {
        while true {
            if let next = decide() { return next }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let now = state.withLock { state -> Bool in
                        // Cancellation checked under the lock: one that came earlier finds no waiter to resume.
                        guard state.items.isEmpty, !state.stopping, !Task.isCancelled else { return true }
                        state.waiter = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
            } onCancel: {
                state.withLock { state -> CheckedContinuation<Void, Never>? in
                    defer { state.waiter = nil }
                    return state.waiter
                }?.resume()
            }
        }
    }

    private func decide() -> Next? {
        state.withLock { state -> Next? in
            if Task.isCancelled || (state.stopping && state.items.isEmpty) {
                state.serving = false
                defer { state.items = [] }
                return .end(leftover: state.items)
            }
            guard !state.items.isEmpty else { return nil }
            let batch = Array(state.items.prefix(Self.batchLimit))
            state.items.removeFirst(batch.count)
            return .batch(batch)
        }
    }
}
