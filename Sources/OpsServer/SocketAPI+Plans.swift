import Foundation
import Hummingbird
import Logging
import OpsCore
import OpsProtocol
import OpsStore

extension SocketAPI {
    /// Plan bodies may hold up to ``ValidatedPlan/maximumSteps`` steps.
    static let maxPlanBytes = 1024 * 1024

    /// `POST /v1/plans`, `GET /v1/plans`, `GET /v1/plans/{id}`, `POST /v1/plans/{id}/cancel`.
    func addPlanRoutes(to group: RouterGroup<PeerContext>) {
        group.post("plans", use: submitPlan)
        group.get("plans") { request, _ in
            let query = request.uri.queryParameters
            let limit = try Self.integer(query, "limit", in: 1...200) ?? 20
            let before = try Self.integer(query, "before", in: 1...Int64.max)
            let plans = try await database.plans(before: before, limit: Int(limit))
            return Response.json(
                PlanListView(
                    plans: plans.map(PlanView.init),
                    nextBefore: plans.count == Int(limit) ? plans.last?.id : nil
                )
            )
        }
        group.get("plans/:id") { _, context in
            let id = try Self.planID(context)
            guard let plan = try await database.plan(id: id) else { throw APIError.notFound("no plan \(id)") }
            return Response.json(PlanView(plan))
        }
        group.post("plans/:id/cancel", use: cancelPlan)
    }

    /// Every step is checked before anything is stored, and all its jobs are inserted in one transaction: one invalid
    /// step, or a cycle, refuses the whole plan (422, naming the step).
    @Sendable func submitPlan(_ request: Request, context: PeerContext) async throws -> Response {
        let json = try await Self.jsonBody(request, what: "the plan", upTo: Self.maxPlanBytes)
        let plan: ValidatedPlan
        do {
            plan = try ValidatedPlan(json: json, defaults: paramDefaults, heldKinds: heldKinds)
        } catch {
            throw APIError(.unprocessableContent, code: .invalidParams, error.message, field: error.field)
        }
        for step in plan.steps {
            do {
                try await checkRegion(step.params)
            } catch let error as APIError {
                var error = error
                error.view.error.message = "step \(step.id): " + error.view.error.message
                throw error
            }
        }
        let key = try Self.idempotencyKey(request)
        let peer = await context.peer()
        let result: OpsDatabase.PlanInsertResult
        do {
            result = try await database.insertPlan(
                NewPlan(plan: plan, submitter: peer, idempotencyKey: key),
                now: now()
            )
        } catch let error as StoreError where error.code == .idempotencyConflict {
            throw APIError(.conflict, code: .idempotencyConflict, error.message, field: "Idempotency-Key")
        }
        database.storage.recordSuccess()
        switch result {
        case .created(let stored):
            logger.info(
                "plan submitted",
                metadata: [
                    "plan.id": "\(stored.id)", "plan.name": "\(stored.name)", "plan.steps": "\(stored.jobs.count)",
                    "peer.uid": "\(peer?.uid.description ?? "-")",
                ]
            )
            return Response.json(PlanView(stored), status: .created)
        case .existing(let stored):
            return Response.json(PlanView(stored), status: .ok)
        }
    }

    /// Cancels what has not been submitted yet; jobs already at Kinsta go on, and the plan ends with them.
    @Sendable func cancelPlan(_ request: Request, context: PeerContext) async throws -> Response {
        let id = try Self.planID(context)
        let peer = await context.peer()
        let machine = self.machine
        let now = now()
        let who = peer.map { " by uid \($0.uid), pid \($0.pid)" } ?? ""
        let outcome: (plan: StoredPlan, cancelled: [Int64], followers: [StoredEvent])?
        do {
            outcome = try await database.cancelPlan(id: id, now: now) { job in
                var rng = SystemRandomNumberGenerator()
                var change = try machine.step(job.snapshot, .cancel, now: now, using: &rng)
                change.message = (change.message ?? "cancelled") + " with plan \(id)" + who
                return change
            }
        } catch let error as StoreError where error.code == .conflict {
            throw APIError(.conflict, code: .conflict, error.message)
        }
        guard let outcome else { throw APIError.notFound("no plan \(id)") }
        logger.info(
            "plan cancelled by admin",
            metadata: [
                "plan.id": "\(id)", "jobs.cancelled": "\(outcome.cancelled.map(String.init).joined(separator: ","))",
                "peer.uid": "\(peer?.uid.description ?? "-")",
            ]
        )
        logFollowers(outcome.followers)
        return Response.json(PlanView(outcome.plan))
    }

    static func planID(_ context: PeerContext) throws -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw APIError.badRequest("plan IDs are positive whole numbers", field: "id")
        }
        return id
    }
}
