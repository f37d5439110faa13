public import OpsCore

// The socket's most frequent answers written without `Codable` (a submission's 201, job lists, the history): byte for
// byte what `WireJSON.encoder()` writes, which the tests check. Members go in sorted key order, and a `nil` is left
// out as the synthesized `Encodable` leaves it out.

extension PeerView: CanonicalJSONWritable {
    public func write(to writer: inout CanonicalJSONWriter) {
        writer.object { writer in
            writer.member("gid", gid)
            writer.member("pid", pid)
            writer.member("uid", uid)
        }
    }
}

extension EventView: CanonicalJSONWritable {
    public func write(to writer: inout CanonicalJSONWriter) {
        writer.object { writer in
            writer.member("at", at)
            writer.member("attempt", attempt)
            writer.member("from", from)
            writer.member("job_id", jobID)
            writer.member("kind", kind)
            writer.member("message", message)
            writer.member("operation_id", operationID)
            writer.member("plan_id", planID)
            writer.member("schedule", schedule)
            writer.member("seq", seq)
            writer.member("to", to)
        }
    }
}

extension JobView: CanonicalJSONWritable {
    public func write(to writer: inout CanonicalJSONWriter) {
        writer.object { writer in
            writer.member("accepted_at", acceptedAt)
            if let after {
                writer.key("after")
                writer.array(after) { $0.integer($1) }
            }
            writer.member("attempt", attempt)
            writer.member("created_at", createdAt)
            writer.member("deadline", deadline)
            if let events {
                writer.key("events")
                writer.array(events) { $1.write(to: &$0) }
            }
            writer.member("finished_at", finishedAt)
            writer.member("id", id)
            writer.member("kind", kind)
            writer.member("last_error", lastError)
            writer.member("next_action_at", nextActionAt)
            writer.member("note", note)
            writer.member("operation_id", operationID)
            if let outputs {
                writer.key("outputs")
                writer.object(outputs)
            }
            writer.key("params")
            writer.object(params)
            writer.member("pending_action", pendingAction)
            writer.member("plan_id", planID)
            writer.member("poll_count", pollCount)
            writer.member("priority", priority)
            if let result {
                writer.key("result")
                writer.value(result)
            }
            writer.member("state", state)
            writer.member("step", step)
            if let submittedBy {
                writer.key("submitted_by")
                submittedBy.write(to: &writer)
            }
            writer.member("target", target)
            if let targets {
                writer.key("targets")
                writer.array(targets) { $0.string($1) }
            }
            writer.member("updated_at", updatedAt)
            writer.member("waiting_behind", waitingBehind)
            writer.member("waiting_on", waitingOn)
        }
    }
}

extension JobListView: CanonicalJSONWritable {
    public func write(to writer: inout CanonicalJSONWriter) {
        writer.object { writer in
            writer.key("jobs")
            writer.array(jobs) { $1.write(to: &$0) }
            writer.member("next_before", nextBefore)
        }
    }
}
