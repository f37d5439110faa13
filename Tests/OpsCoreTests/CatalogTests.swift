import OpsCore
import Testing

/// The catalog against itself and against what Kinsta's OpenAPI file settles (docs/kinsta-api.md, "Write endpoints").
@Suite struct CatalogTests {
    @Test func thirtySevenKindsEachWithAUniqueCall() {
        #expect(JobCatalog.specs.count == 37)
        #expect(Set(JobCatalog.specs.map(\.name)).count == 37)
        let calls = JobCatalog.specs.map { "\($0.method) \($0.pathTemplate)" }
        #expect(Set(calls).count == 37)
    }

    @Test(arguments: JobCatalog.specs.map(\.name))
    func eachDeclarationHoldsTogether(_ name: String) throws {
        let spec = try #require(JobKind(rawValue: name)).spec
        let params = Set(spec.parameters.map(\.name))
        // Every path placeholder is a required parameter, every target and the subject name a parameter
        for placeholder in spec.pathParameters {
            #expect(spec.parameters.first { $0.name == placeholder }?.required == true)
        }
        let placeholders = spec.pathTemplate.split(separator: "{").dropFirst().map { $0.prefix { $0 != "}" } }
        #expect(Set(placeholders.map(String.init)) == spec.pathParameters)
        #expect(!spec.targets.isEmpty)
        for target in spec.targets { #expect(params.contains(target.param)) }
        #expect(params.contains(spec.subject))
        #expect([200, 202].contains(spec.acceptedStatus))
        // A kind that settles by reading names what it reads; a harmless one never goes to an admin for it
        switch spec.settle {
        case .siteNamed(let param), .siteGone(let param), .environmentGone(let param): #expect(params.contains(param))
        case .environmentNamed(let site, let display): #expect(params.isSuperset(of: [site, display]))
        case .backupTagged(let environment, let tag): #expect(params.isSuperset(of: [environment, tag]))
        case .domainNamed(let environment, let domain): #expect(params.isSuperset(of: [environment, domain]))
        case .resend: #expect(spec.resubmitIsHarmless)
        case .attention(let reason):
            #expect(!spec.resubmitIsHarmless && reason.contains("MyKinsta") || reason.contains("check"))
        }
        #expect(spec.typicalDuration.lowerBound > 0 && Double(spec.defaultDeadline) > spec.typicalDuration.upperBound)
    }

    /// Where the OpenAPI file says `format: uuid`, a non-UUID is refused before it reaches Kinsta.
    @Test(arguments: [
        ("backup.restore", "notified_user_id"), ("dns_record.create", "domain_id"), ("wpcli.run", "env_id"),
    ])
    func uuidParametersRefuseOtherText(_ kind: String, _ field: String) throws {
        let spec = try #require(JobKind(rawValue: kind)).spec
        #expect(spec.parameters.first { $0.name == field }?.type == .uuid)
        #expect(ParamSpec.isUUID("54fb80af-576c-4fdc-ba4f-b596c83f15a1"))
        #expect(!ParamSpec.isUUID("54fb80af-576c-4fdc-ba4f-b596c83f15a"))
        #expect(!ParamSpec.isUUID("user-1"))
        #expect(throws: ValidationError.self) {
            _ = try ValidatedParams(
                kind: try #require(JobKind(rawValue: "wpcli.run")),
                raw: ["env_id": "env-1", "wp_command": "wp core version"],
                defaultCompany: nil
            )
        }
    }

    @Test func bulkUpdatesAndSFTPAccountsAnswer200() {
        let two = JobCatalog.specs.filter { $0.acceptedStatus == 200 }.map(\.name).sorted()
        #expect(two == ["plugin.bulk_update", "sftp_account.add", "theme.bulk_update"])
    }

    @Test func listsAreWrappedAsKinstaTakesThem() throws {
        let params = try ValidatedParams(
            kind: try #require(JobKind(rawValue: "dns_record.create")),
            raw: [
                "domain_id": "54fb80af-576c-4fdc-ba4f-b596c83f15a1", "type": "A", "name": "x.example.com",
                "resource_records": ["1.1.1.1", ["value": "2.2.2.2"]],
            ],
            defaultCompany: nil
        )
        let body = try #require(params.submitCall(job: 3, attempt: 1).body)
        #expect(body["resource_records"] == [["value": "1.1.1.1"], ["value": "2.2.2.2"]])
        #expect(body["ttl"] == 3600)
        #expect(body["domain_id"] == nil)  // it is in the path
    }

    @Test func aDeleteWithBodyParametersSendsThem() throws {
        let params = try ValidatedParams(
            kind: try #require(JobKind(rawValue: "domain.delete")),
            raw: ["env_id": "env-1", "domain_ids": "d-1"],
            defaultCompany: nil
        )
        let call = params.submitCall(job: 1, attempt: 1)
        #expect(call.method == "DELETE")
        #expect(call.body == ["domain_ids": ["d-1"]])
        #expect(
            try ValidatedParams(kind: .siteDelete, raw: ["site_id": "s"], defaultCompany: nil)
                .submitCall(job: 1, attempt: 1).body == nil
        )
    }

    @Test func theRestoreBodyFollowsTheConfiguration() throws {
        let user = "54fb80af-576c-4fdc-ba4f-b596c83f15a1"
        let current = try ValidatedParams(
            kind: .backupRestore,
            raw: ["target_env_id": "e", "backup_id": 5],
            defaults: ParamDefaults(notifiedUserID: user)
        )
        #expect(current.submitCall(job: 1, attempt: 1).body == ["backup_id": 5, "notified_user_id": .string(user)])
        let legacy = try ValidatedParams(
            kind: .backupRestore,
            raw: ["target_env_id": "e", "backup_id": 5, "env_display_name_of_backup": "Live"],
            defaults: ParamDefaults(notifiedUserID: user, legacyRestoreBody: true)
        )
        #expect(legacy.submitCall(job: 1, attempt: 1).body == ["backup_id": 5, "env_display_name_of_backup": "Live"])
    }

    @Test func aPushOccupiesBothEnvironments() throws {
        let params = try ValidatedParams(
            kind: try #require(JobKind(rawValue: "environment.push")),
            raw: ["site_id": "s", "source_env_id": "staging", "target_env_id": "live"],
            defaultCompany: nil
        )
        #expect(params.targets == ["env:staging", "env:live"])
    }
}
