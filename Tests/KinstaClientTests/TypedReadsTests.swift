import Foundation
import KinstaClient
import KinstaSimulator
import OpsCore
import Testing

/// The typed reads against the simulator, which shapes its answers as Kinsta's OpenAPI file does.
@Suite struct TypedReadsTests {
    let company = HTTPKinstaAPITests.configuration.companyID

    @Test func usersRegionsDomainsAndTheKeyAreRead() async throws {
        try await HTTPKinstaAPITests().withAPI { api, _, time in
            guard case .found(let users) = await api.users(ofCompany: company), let user = users.first else {
                Issue.record("no users")
                return
            }
            // A user's ID is a UUID: what backup.restore sends as notified_user_id
            #expect(UUID(uuidString: user.id) != nil)
            #expect(user.email?.contains("@") == true)
            #expect(user.fullName?.isEmpty == false)
            guard case .found(let regions) = await api.regions(ofCompany: company) else {
                Issue.record("no regions")
                return
            }
            #expect(regions.map(\.region) == SimulatorConfiguration.defaultRegions)
            #expect(regions.allSatisfy { $0.name?.contains($0.region) == true })
            guard case .notFound = await api.regions(ofCompany: "no-such-company") else {
                Issue.record("another company's regions were not Kinsta's 404")
                return
            }
            guard case .found(let sites) = await api.sites(ofCompany: company), let site = sites.first,
                case .found(let environments) = await api.environments(ofSite: site.id),
                let environment = environments.first
            else {
                Issue.record("no environment")
                return
            }
            guard case .found(let domains) = await api.domains(ofEnvironment: environment.id) else {
                Issue.record("no domains")
                return
            }
            #expect(!domains.isEmpty)
            // The simulator's key expires 365 days after it started
            guard case .found(let key) = await api.validateKey(), let expiresAt = key.expiresAt else {
                Issue.record("no key expiry")
                return
            }
            #expect(key.status == "active")
            #expect(key.company == company)
            #expect(abs(expiresAt.timeIntervalSince(time.now) - 365 * 86_400) < 86_400)
        }
    }
}
