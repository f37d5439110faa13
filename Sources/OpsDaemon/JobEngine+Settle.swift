import Foundation
import KinstaClient
import Logging
import OpsCore
import OpsStore

extension JobEngine {
    // MARK: - Settling by reading Kinsta

    /// Reads Kinsta's resources to learn whether the job's effect is in place (see ``SettleStrategy``).
    func reconcile(_ job: StoredJob) async -> ReconcileOutcome {
        let values = job.params.values
        func value(_ name: String) -> String { values[name]?.stringValue ?? "" }
        switch job.kind.spec.settle {
        case .siteNamed(let param):
            let name = value(param)
            let company = value("company")
            return settle(await budgeted.sites(ofCompany: company), reading: "the sites of company \(company)") {
                sites in
                guard let site = sites.first(where: { $0.displayName == name }) else {
                    return .notDone(detail: "no site named \(name) exists")
                }
                return .done(
                    detail: "a site named \(name) exists (\(site.id))",
                    result: .object(["idSite": .string(site.id)])
                )
            }
        case .siteGone(let param):
            let id = value(param)
            switch await budgeted.site(id) {
            case .found, .unreadable:
                return .notDone(detail: "site \(id) still exists")
            case .notFound:
                // Kinsta's 404 also means "the key may not read it": the site is gone only if the company's sites
                // list, which the key can read, does not hold it either.
                return await confirmGone(site: id)
            case .failure(let failure):
                return failure.isTransient
                    ? .retryLater(reason: failure.description, retryAfter: failure.retryAfter)
                    : .undetermined(reason: "could not read site \(id): \(failure.description)")
            }
        case .environmentNamed(let siteParam, let nameParam):
            let site = value(siteParam)
            let name = value(nameParam)
            return settle(await budgeted.environments(ofSite: site), reading: "the environments of site \(site)") {
                environments in
                guard let environment = environments.first(where: { $0.displayName == name }) else {
                    return .notDone(detail: "site \(site) has no environment named \(name)")
                }
                return .done(
                    detail: "site \(site) has an environment named \(name) (\(environment.id))",
                    result: .object(["env_id": .string(environment.id)])
                )
            }
        case .environmentGone(let param):
            return await confirmGone(environment: value(param))
        case .backupTagged(let environmentParam, let tagParam):
            let environment = value(environmentParam)
            let tag = JobKindSpec.backupTag(values[tagParam]?.stringValue, job: job.id, attempt: job.snapshot.attempt)
            return settle(
                await budgeted.backups(ofEnvironment: environment),
                reading: "the backups of environment \(environment)"
            ) { backups in
                guard let backup = backups.first(where: { $0.note == tag }) else {
                    return .notDone(detail: "environment \(environment) has no backup tagged \"\(tag)\"")
                }
                return .done(
                    detail: "environment \(environment) has backup \(backup.id) tagged \"\(tag)\"",
                    result: .object(["backup_id": .integer(backup.id)])
                )
            }
        case .domainNamed(let environmentParam, let nameParam):
            let environment = value(environmentParam)
            let name = value(nameParam)
            return settle(
                await budgeted.domains(ofEnvironment: environment),
                reading: "the domains of environment \(environment)"
            ) { domains in
                guard let domain = domains.first(where: { $0.name.lowercased() == name.lowercased() }) else {
                    return .notDone(detail: "environment \(environment) has no domain \(name)")
                }
                return .done(
                    detail: "environment \(environment) has domain \(name) (\(domain.id))",
                    result: .object(["domain_id": .string(domain.id)])
                )
            }
        case .resend:
            // Nothing to read, and a repeat does no harm: after an unclear submission the job is sent again; an
            // operation that vanished later cannot be told apart from one that did its work.
            if job.state == .submitting {
                return .notDone(detail: "Kinsta shows no trace of a \(job.kind.rawValue)")
            }
            return .undetermined(
                reason: "Kinsta no longer knows the operation and nothing readable shows whether the "
                    + "\(job.kind.rawValue) took effect; a repeat is harmless: retry the job"
            )
        case .attention(let reason):
            return .undetermined(reason: reason)
        }
    }

    /// The outcome of a typed read: `decide` on what was found, a transient failure read again later, anything else
    /// left to an admin.
    private func settle<Value>(
        _ lookup: KinstaLookup<Value>,
        reading what: String,
        _ decide: (Value) -> ReconcileOutcome
    ) -> ReconcileOutcome {
        switch lookup {
        case .found(let value):
            return decide(value)
        case .unreadable(let reason):
            return .retryLater(reason: "\(what): \(reason)", retryAfter: nil)
        case .notFound(let message):
            return .undetermined(reason: "Kinsta does not let the key read \(what): \(message)")
        case .failure(let failure):
            return failure.isTransient
                ? .retryLater(reason: failure.description, retryAfter: failure.retryAfter)
                : .undetermined(reason: "could not read \(what): \(failure.description)")
        }
    }

    /// After an operation ended: the outputs Kinsta's data lacks (a manual backup's ID, a new environment's ID) are
    /// looked up the way an unclear submission is settled. A read that fails leaves the data as it was: the job
    /// succeeded either way.
    func completeOutputs(_ job: StoredJob, data: JSONValue?) async -> JSONValue? {
        let spec = job.kind.spec
        let known = spec.outputs(from: data, params: job.params.values)
        guard spec.outputs.contains(where: { known[$0.name] == nil }) else { return data }
        guard spec.settle.findsWhatItMade else { return data }
        var learned: [String: JSONValue] = [:]
        if case .siteNamed = spec.settle, known["site_id"] != nil {
            // Kinsta's data named the new site: only its environment is missing, and the company's whole sites list
            // (one large read per create) would add nothing.
        } else if case .done(_, let found?) = await reconcile(job), case .object(let object) = found {
            learned = object
        }
        // A new site's live environment: Kinsta's data often lacks `idEnv`; its environments list has it.
        if case .siteNamed = spec.settle, known["env_id"] == nil,
            let site = (known["site_id"] ?? learned["idSite"])?.stringValue,
            case .found(let environments) = await budgeted.environments(ofSite: site),
            let live = environments.first(where: { $0.name == "live" }) ?? environments.first
        {
            learned["idEnv"] = .string(live.id)
        }
        guard !learned.isEmpty else {
            logger.warning(
                "could not read what the job made",
                metadata: ["job.id": "\(job.id)", "job.kind": "\(job.kind.rawValue)"]
            )
            return data
        }
        var merged = data?.objectValue ?? [:]
        merged.merge(learned) { kept, _ in kept }
        return .object(merged)
    }

    /// After `GET /sites/{id}` answered 404: the site is gone if the company's sites list (a read the key can do)
    /// no longer holds it; still listed means the key may not read the site, which no read settles.
    func confirmGone(site id: String) async -> ReconcileOutcome {
        guard let company, !company.isEmpty else {
            return .undetermined(
                reason: "site \(id) answers 404, which also means the key may not read it, and no "
                    + "company is configured (company_id) to confirm it from the sites list; check MyKinsta"
            )
        }
        switch await budgeted.sites(ofCompany: company) {
        case .found(let sites):
            if sites.contains(where: { $0.id == id }) {
                return .undetermined(
                    reason: "site \(id) answers 404 but is still in the company's sites list: the "
                        + "key may not read it. Check the key's permissions and the site in MyKinsta"
                )
            }
            return .done(detail: "site \(id) is gone (404, and not in the company's sites list)", result: nil)
        case .unreadable(let reason):
            return .retryLater(reason: reason, retryAfter: nil)
        case .notFound(let message):
            return .undetermined(
                reason: "site \(id) answers 404, and the key cannot read company \(company)'s sites "
                    + "(\(message)) to confirm it is gone"
            )
        case .failure(let failure):
            return failure.isTransient
                ? .retryLater(reason: failure.description, retryAfter: failure.retryAfter)
                : .undetermined(
                    reason: "could not list the company's sites to confirm site \(id) is gone: "
                        + failure.description
                )
        }
    }

    /// An environment is gone when the company's sites, read with their environments (a list the key can read),
    /// hold it no more. Kinsta has no read of one environment by its ID.
    func confirmGone(environment id: String) async -> ReconcileOutcome {
        guard let company, !company.isEmpty else {
            return .undetermined(
                reason: "no company is configured (company_id) to read its environments and confirm that "
                    + "environment \(id) is gone; check MyKinsta"
            )
        }
        return settle(
            await budgeted.environmentSites(ofCompany: company),
            reading: "the environments of company \(company)"
        ) { map in
            guard let site = map[id] else {
                return .done(detail: "environment \(id) is gone (not among the company's environments)", result: nil)
            }
            return .notDone(detail: "environment \(id) of site \(site) still exists")
        }
    }
}
