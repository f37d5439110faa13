import OpsCore
import Testing

/// The declarative kind catalog: validation, redaction, the Kinsta call each kind makes, its target.
@Suite struct JobKindTests {
    static let user = "54fb80af-576c-4fdc-ba4f-b596c83f15a1"
    static let create: [String: JSONValue] = [
        "display_name": "Site", "region": "us-central1", "admin_email": "a@b.co", "admin_password": "pw",
        "admin_user": "admin", "site_title": "Title",
    ]

    struct Invalid: Sendable, CustomTestStringConvertible {
        var kind: JobKind
        var params: [String: JSONValue]
        var field: String
        var testDescription: String { "\(kind.rawValue) \(field)" }
    }

    static let invalid: [Invalid] = [
        Invalid(kind: .siteCreatePlain, params: ["region": "us"], field: "display_name"),
        Invalid(kind: .siteCreatePlain, params: ["display_name": "  ", "region": "us"], field: "display_name"),
        Invalid(kind: .siteCreatePlain, params: ["display_name": "a\u{7}b", "region": "us"], field: "display_name"),
        Invalid(
            kind: .siteCreatePlain,
            params: ["display_name": .string(String(repeating: "x", count: 256)), "region": "us"],
            field: "display_name"
        ),
        Invalid(
            kind: .siteCreatePlain,
            params: ["display_name": "A", "region": "us", "colour": "red"],
            field: "colour"
        ),
        Invalid(kind: .siteCreatePlain, params: ["display_name": 5, "region": "us"], field: "display_name"),
        Invalid(kind: .siteDelete, params: ["site_id": "../x"], field: "site_id"),
        Invalid(kind: .siteDelete, params: ["site_id": "a/b"], field: "site_id"),
        Invalid(kind: .siteDelete, params: ["site_id": "a b"], field: "site_id"),
        Invalid(kind: .siteCreate, params: create.merging(["admin_email": "nope"]) { $1 }, field: "admin_email"),
        Invalid(kind: .siteCreate, params: create.merging(["woocommerce": "true"]) { $1 }, field: "woocommerce"),
        Invalid(kind: .siteCreate, params: create.merging(["install_mode": "clone"]) { $1 }, field: "install_mode"),
        Invalid(
            kind: .siteCreate,
            params: create.merging(["is_subdomain_multisite": true]) { $1 },
            field: "is_subdomain_multisite"
        ),
        Invalid(
            kind: .backupRestore,
            params: ["target_env_id": "e", "backup_id": "12", "notified_user_id": .string(Self.user)],
            field: "backup_id"
        ),
        Invalid(
            kind: .backupRestore,
            params: ["target_env_id": "e", "backup_id": -1, "notified_user_id": .string(Self.user)],
            field: "backup_id"
        ),
        Invalid(
            kind: .backupRestore,
            params: ["target_env_id": "e", "backup_id": 1.5, "notified_user_id": .string(Self.user)],
            field: "backup_id"
        ),
        Invalid(kind: .backupRestore, params: ["target_env_id": "e", "backup_id": 1], field: "notified_user_id"),
        Invalid(
            kind: .backupRestore,
            params: [
                "target_env_id": "e", "backup_id": 1, "notified_user_id": .string(Self.user),
                "env_display_name_of_backup": "Live",
            ],
            field: "env_display_name_of_backup"
        ),
    ]

    @Test(arguments: invalid)
    func invalidParamsNameTheirField(_ row: Invalid) {
        #expect {
            _ = try ValidatedParams(kind: row.kind, raw: row.params, defaultCompany: "c1")
        } throws: { error in
            (error as? ValidationError)?.field == row.field
        }
    }

    @Test func companyComesFromConfigurationOrMustBeGiven() throws {
        let params = try ValidatedParams(
            kind: .siteCreatePlain,
            raw: ["display_name": "A", "region": "us"],
            defaultCompany: "c1"
        )
        #expect(params.values["company"] == "c1")
        #expect(throws: ValidationError.self) {
            _ = try ValidatedParams(
                kind: .siteCreatePlain,
                raw: ["display_name": "A", "region": "us"],
                defaultCompany: nil
            )
        }
    }

    @Test func defaultsFillAndSecretsAreRedacted() throws {
        let params = try ValidatedParams(kind: .siteCreate, raw: Self.create, defaultCompany: "c1")
        #expect(params.values["wp_language"] == "en_US")
        #expect(params.values["install_mode"] == "new")
        #expect(params.redacted["admin_password"] == "[redacted]")
        #expect(params.withoutSecrets["admin_password"] == nil)
        #expect(params.withoutSecrets["admin_user"] == "admin")
    }

    struct CallRow: Sendable, CustomTestStringConvertible {
        var kind: JobKind
        var params: [String: JSONValue]
        var method: String
        var path: String
        var bodyKeys: Set<String>?
        var target: String
        var testDescription: String { kind.rawValue }
    }

    static let calls: [CallRow] = [
        CallRow(
            kind: .siteCreatePlain,
            params: ["display_name": "A", "region": "us"],
            method: "POST",
            path: "/sites/plain",
            bodyKeys: ["company", "display_name", "region"],
            target: "site-name:A"
        ),
        CallRow(
            kind: .siteClone,
            params: ["display_name": "B", "source_env_id": "env-1"],
            method: "POST",
            path: "/sites/clone",
            bodyKeys: ["company", "display_name", "source_env_id"],
            target: "site-name:B\nenv:env-1"
        ),
        CallRow(
            kind: .siteDelete,
            params: ["site_id": "site:1"],
            method: "DELETE",
            path: "/sites/site%3A1",
            bodyKeys: nil,
            target: "site:site:1"
        ),
        CallRow(
            kind: .backupRestore,
            params: ["target_env_id": "env-2", "backup_id": 7, "notified_user_id": .string(Self.user)],
            method: "POST",
            path: "/sites/environments/env-2/backups/restore",
            bodyKeys: ["backup_id", "notified_user_id"],
            target: "env:env-2"
        ),
        CallRow(
            kind: .siteCreate,
            params: create,
            method: "POST",
            path: "/sites",
            bodyKeys: [
                "company", "display_name", "region", "admin_email", "admin_password", "admin_user", "site_title",
                "wp_language", "install_mode",
            ],
            target: "site-name:Site"
        ),
    ]

    @Test(arguments: calls)
    func eachKindMakesItsKinstaCall(_ row: CallRow) throws {
        let params = try ValidatedParams(kind: row.kind, raw: row.params, defaultCompany: "c1")
        let call = params.submitCall(job: 1, attempt: 1)
        #expect(call.method == row.method)
        #expect(call.path == row.path)
        #expect(call.body.map { Set($0.keys) } == row.bodyKeys)
        #expect(params.target == row.target)
    }

    @Test func backupIDStaysANumber() throws {
        let params = try ValidatedParams(
            kind: .backupRestore,
            raw: ["target_env_id": "e", "backup_id": 123, "notified_user_id": .string(Self.user)],
            defaultCompany: nil
        )
        #expect(params.submitCall(job: 1, attempt: 1).body?["backup_id"] == .integer(123))
    }

    @Test func percentEncodingKeepsAnIDInOneSegment() {
        #expect(KinstaCall.percentEncodePathSegment("sites:add-8dc9") == "sites%3Aadd-8dc9")
        #expect(KinstaCall.percentEncodePathSegment("a/b c") == "a%2Fb%20c")
        #expect(KinstaCall.percentEncodePathSegment("ok-_.~") == "ok-_.~")
    }
}
