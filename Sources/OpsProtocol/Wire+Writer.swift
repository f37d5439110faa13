public import OpsCore

// The socket's most frequent answers written without `Codable` (a submission's 201, job lists, the history): byte for
// byte what `WireJSON.encoder()` writes, which the tests check. Members go in sorted key order, and a `nil` is left
// out as the synthesized `Encodable` leaves it out.

extension PeerView: CanonicalJSONWritable {
    public func write(to writer: inout CanonicalJSONWriter) {
        writer.object { writer in
            writer.key("gid")
            writer.integer(gid)
            writer.key("pid")
            writer.integer(pid)
            writer.key("uid")
            writer.integer(uid)
        }
    }
}

extension EventView: CanonicalJSONWritable {
    public func write(to writer: inout CanonicalJSONWriter) {
        writer.object { writer in
            writer.key("at")
            writer.date(at)
            writer.key("attempt")
            writer.integer(attempt)
            if let from {
                writer.key("from")
                writer.string(from)
            }
            writer.key("job_id")
            writer.integer(jobID)
            writer.key("kind")
            writer.string(kind)
            if let message {
                writer.key("message")
                writer.string(message)
            }
            if let operationID {
                writer.key("operation_id")
                writer.string(operationID)
            }
            writer.key("seq")
            writer.integer(seq)
            writer.key("to")
            writer.string(to)
        }
    }
}

extension JobView: CanonicalJSONWritable {
    public func write(to writer: inout CanonicalJSONWriter) {
        writer.object { writer in
            if let acceptedAt {
                writer.key("accepted_at")
                writer.date(acceptedAt)
            }
            if let after {
                writer.key("after")
                writer.array(after) { $0.integer($1) }
            }
            writer.key("attempt")
            writer.integer(attempt)
            writer.key("created_at")
            writer.date(createdAt)
            if let deadline {
                writer.key("deadline")
                writer.date(deadline)
            }
            if let events {
                writer.key("events")
                writer.array(events) { $1.write(to: &$0) }
            }
            if let finishedAt {
                writer.key("finished_at")
                writer.date(finishedAt)
            }
            writer.key("id")
            writer.integer(id)
            writer.key("kind")
            writer.string(kind)
            if let lastError {
                writer.key("last_error")
                writer.string(lastError)
            }
            if let nextActionAt {
                writer.key("next_action_at")
                writer.date(nextActionAt)
            }
            if let note {
                writer.key("note")
                writer.string(note)
            }
            if let operationID {
                writer.key("operation_id")
                writer.string(operationID)
            }
            if let outputs {
                writer.key("outputs")
                writer.object(outputs)
            }
            writer.key("params")
            writer.object(params)
            if let pendingAction {
                writer.key("pending_action")
                writer.string(pendingAction)
            }
            writer.key("poll_count")
            writer.integer(pollCount)
            if let priority {
                writer.key("priority")
                writer.integer(priority)
            }
            if let result {
                writer.key("result")
                writer.value(result)
            }
            writer.key("state")
            writer.string(state)
            if let submittedBy {
                writer.key("submitted_by")
                submittedBy.write(to: &writer)
            }
            writer.key("target")
            writer.string(target)
            if let targets {
                writer.key("targets")
                writer.array(targets) { $0.string($1) }
            }
            writer.key("updated_at")
            writer.date(updatedAt)
            if let waitingBehind {
                writer.key("waiting_behind")
                writer.integer(waitingBehind)
            }
            if let waitingOn {
                writer.key("waiting_on")
                writer.string(waitingOn)
            }
        }
    }
}

extension JobListView: CanonicalJSONWritable {
    public func write(to writer: inout CanonicalJSONWriter) {
        writer.object { writer in
            writer.key("jobs")
            writer.array(jobs) { $1.write(to: &$0) }
            if let nextBefore {
                writer.key("next_before")
                writer.integer(nextBefore)
            }
        }
    }
}
