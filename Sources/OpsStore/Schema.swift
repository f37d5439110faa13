import Foundation
import GRDB
import OpsCore

/// The append-only list of named migrations. Never edit or reorder a shipped one: add a new one.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 jobs and events") { db in
            // Times are integer milliseconds since 1970 (UTC), so comparisons and indexes are exact.
            try db.execute(
                sql: """
                    CREATE TABLE job (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kind TEXT NOT NULL,
                        params TEXT NOT NULL CHECK (json_valid(params) AND json_type(params) = 'object'),
                        note TEXT,
                        target TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('queued', 'submitting', 'accepted', 'running',
                            'succeeded', 'failed', 'timed_out', 'cancelled', 'needs_attention')),
                        version INTEGER NOT NULL DEFAULT 0,
                        attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
                        operation_id TEXT,
                        accepted_at INTEGER,
                        deadline INTEGER,
                        poll_count INTEGER NOT NULL DEFAULT 0,
                        error_streak INTEGER NOT NULL DEFAULT 0,
                        confirmations INTEGER NOT NULL DEFAULT 0,
                        pending_action TEXT CHECK (pending_action IN ('submit', 'reconcile', 'poll')),
                        next_action_at INTEGER,
                        last_error TEXT,
                        result TEXT CHECK (result IS NULL OR json_valid(result)),
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        finished_at INTEGER,
                        submitter_uid INTEGER,
                        submitter_gid INTEGER,
                        submitter_pid INTEGER,
                        idempotency_key TEXT UNIQUE,
                        request_fingerprint TEXT,
                        CHECK ((pending_action IS NULL) = (next_action_at IS NULL))
                    );
                    CREATE INDEX job_due ON job(next_action_at) WHERE pending_action IS NOT NULL;
                    CREATE INDEX job_state ON job(state, id);
                    CREATE INDEX job_kind ON job(kind, id);

                    -- The history. seq is AUTOINCREMENT: never reused, even after old rows are pruned, and a rolled
                    -- back transaction rolls its increment back too, so committed seqs have no gaps.
                    CREATE TABLE event (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        at INTEGER NOT NULL,
                        job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
                        kind TEXT NOT NULL,
                        from_state TEXT,
                        to_state TEXT NOT NULL,
                        attempt INTEGER NOT NULL,
                        operation_id TEXT,
                        message TEXT
                    );
                    CREATE INDEX event_job ON event(job_id, seq);
                    """
            )
        }
        migrator.registerMigration("v2 webhook outbox") { db in
            try db.execute(
                sql: """
                    -- One row per (event, endpoint), written in the transaction of the state change it reports, so a
                    -- crash can lose no delivery. The body is fixed at that moment: every retry sends the same bytes.
                    CREATE TABLE delivery (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        event_seq INTEGER NOT NULL REFERENCES event(seq) ON DELETE CASCADE,
                        job_id INTEGER NOT NULL,
                        endpoint TEXT NOT NULL,
                        body BLOB NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at INTEGER NOT NULL,
                        last_status INTEGER,
                        last_error TEXT,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        delivered_at INTEGER,
                        UNIQUE (event_seq, endpoint)
                    );
                    CREATE INDEX delivery_queue ON delivery(endpoint, state, event_seq);

                    -- Endpoints the receiver retired with 410 Gone; nothing is sent to them until an admin re-enables.
                    CREATE TABLE endpoint_state (
                        name TEXT PRIMARY KEY,
                        disabled_at INTEGER,
                        reason TEXT
                    );
                    """
            )
        }
        migrator.registerMigration("v3 unclear submission") { db in
            // Set when a submission of the attempt may have reached Kinsta unrecorded, and while one is on its way;
            // see JobSnapshot. A job stored before this migration is treated as sending: never resent unread.
            try db.execute(
                sql: """
                    ALTER TABLE job ADD COLUMN submission_unclear INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE job ADD COLUMN sending INTEGER NOT NULL DEFAULT 0;
                    UPDATE job SET sending = 1 WHERE state = 'submitting';
                    """
            )
        }
        migrator.registerMigration("v4 operation durations") { db in
            try db.execute(
                sql: """
                    -- What the adaptive poll schedule learns from: per kind, seconds from acceptance to the poll that
                    -- saw 200, one row per operation that succeeded that way. The store keeps the newest few hundred
                    -- per kind; it is not history (jobs and events are), so pruning it loses nothing an admin sees.
                    CREATE TABLE operation_duration (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kind TEXT NOT NULL,
                        seconds REAL NOT NULL CHECK (seconds >= 0),
                        job_id INTEGER NOT NULL,
                        at INTEGER NOT NULL
                    );
                    CREATE INDEX operation_duration_kind ON operation_duration(kind, id);
                    """
            )
        }
        migrator.registerMigration("v5 duration intervals") { db in
            try db.execute(
                sql: """
                    -- What a poll saw is an interval, not a time: the end came after the last look that found the
                    -- operation running (low_seconds) and by the look that found it finished (seconds). An
                    -- operation still running at its deadline is kept too, as running past low_seconds
                    -- (censored = 1, seconds = low_seconds). Rows from before hold one time: low_seconds NULL.
                    ALTER TABLE operation_duration ADD COLUMN low_seconds REAL CHECK (low_seconds >= 0);
                    ALTER TABLE operation_duration ADD COLUMN censored INTEGER NOT NULL DEFAULT 0;
                    """
            )
        }
        migrator.registerMigration("v6 workflows: held, waiting, skipped, dependencies, priority") { db in
            // SQLite cannot change a CHECK: the job table is rebuilt from its own definition with the three new
            // states, its rows copied, its indexes made again (GRDB runs a migration with foreign keys off, so the
            // events that refer to the jobs stay, and checks them at the end).
            guard
                let definition = try String.fetchOne(
                    db,
                    sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'job'"
                )
            else { throw DatabaseError(message: "no job table to migrate") }
            let oldStates = "CHECK (state IN ('queued',"
            guard definition.contains(oldStates) else {
                throw DatabaseError(message: "the job table's state CHECK is not the one v1 wrote")
            }
            let indexes = try String.fetchAll(
                db,
                sql: "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'job' AND sql IS NOT NULL"
            )
            let rebuilt =
                definition
                .replacingOccurrences(of: oldStates, with: "CHECK (state IN ('held', 'waiting', 'skipped', 'queued',")
                .replacingOccurrences(of: "CREATE TABLE job (", with: "CREATE TABLE job_v6 (")
            try db.execute(sql: rebuilt)
            try db.execute(sql: "INSERT INTO job_v6 SELECT * FROM job")
            try db.execute(sql: "DROP TABLE job")
            try db.execute(sql: "ALTER TABLE job_v6 RENAME TO job")
            for index in indexes { try db.execute(sql: index) }
            try db.execute(
                sql: """
                    -- `after`: job_id waits until every after_id has succeeded (workflows). A job ID from
                    -- AUTOINCREMENT is never reused, so a row never points at another job than the one meant.
                    CREATE TABLE job_dependency (
                        job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
                        after_id INTEGER NOT NULL,
                        PRIMARY KEY (job_id, after_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX job_dependency_after ON job_dependency(after_id);
                    CREATE INDEX job_waiting ON job(id) WHERE state = 'waiting';
                    -- Claim order under the shared budget (-10 … 10; docs/architecture.md, "Priorities").
                    ALTER TABLE job ADD COLUMN priority INTEGER NOT NULL DEFAULT 0
                        CHECK (priority BETWEEN -10 AND 10);
                    """
            )
        }
        migrator.registerMigration("v7 plans") { db in
            try db.execute(
                sql: """
                    -- A plan's jobs are inserted with it, in one transaction; the plan ends (finished_at, outcome)
                    -- in the transaction of the change that ended its last job, which also writes its
                    -- plan.finished event.
                    CREATE TABLE plan (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        finished_at INTEGER,
                        cancelled_at INTEGER,
                        outcome TEXT CHECK (outcome IN ('succeeded', 'failed', 'cancelled')),
                        schedule TEXT,
                        submitter_uid INTEGER,
                        submitter_gid INTEGER,
                        submitter_pid INTEGER,
                        idempotency_key TEXT UNIQUE,
                        request_fingerprint TEXT,
                        CHECK ((finished_at IS NULL) = (outcome IS NULL))
                    );
                    CREATE INDEX plan_running ON plan(id) WHERE finished_at IS NULL;
                    ALTER TABLE job ADD COLUMN plan_id INTEGER REFERENCES plan(id);
                    ALTER TABLE job ADD COLUMN step TEXT;
                    CREATE INDEX job_plan ON job(plan_id, id) WHERE plan_id IS NOT NULL;
                    -- Set on a plan's plan.finished event (its job_id is the job whose end ended the plan).
                    ALTER TABLE event ADD COLUMN plan_id INTEGER;
                    """
            )
        }
        migrator.registerMigration("v8 schedules") { db in
            try db.execute(
                sql: """
                    -- Each configured schedule's last run, so a restart neither repeats nor forgets one. The run
                    -- (its plan or job) and this row are written in one transaction. definition is the schedule as
                    -- configured: when it changes, the schedule starts afresh instead of catching up.
                    CREATE TABLE schedule_state (
                        name TEXT PRIMARY KEY,
                        definition TEXT NOT NULL,
                        since INTEGER NOT NULL,
                        last_run_at INTEGER,
                        last_fired_at INTEGER,
                        last_result TEXT CHECK (last_result IN ('fired', 'skipped')),
                        last_plan_id INTEGER,
                        last_job_id INTEGER,
                        last_message TEXT
                    ) WITHOUT ROWID;
                    -- Set on an event a schedule wrote: a run skipped because the previous one was still going (the
                    -- event's job is the one still going).
                    ALTER TABLE event ADD COLUMN schedule TEXT;
                    """
            )
        }
        migrator.registerMigration("v9 urgent queued jobs") { db in
            // The queued jobs that may start in the urgent headroom above max_in_flight (JobPriority.urgent): the
            // engine at its limit asks for them on every wake, and a scan of a long queue each time cost P3 a
            // quarter of its CPU per job.
            try db.execute(
                sql:
                    "CREATE INDEX job_urgent_queued ON job(id) WHERE state = 'queued' AND priority >= \(JobPriority.urgent)"
            )
        }
        return migrator
    }
}
