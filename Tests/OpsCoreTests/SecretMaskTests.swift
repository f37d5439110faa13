import Foundation
import OpsCore
import Testing

/// Text from outside is masked of every secret value the daemon knows, in the forms an echo takes.
@Suite struct SecretMaskTests {
    let mask = SecretMask(["key-123/abc", "pa\"ss w0rd"])

    @Test(arguments: [
        ("Bearer key-123/abc", "Bearer [redacted]"),
        ("escaped: key-123\\/abc", "escaped: [redacted]"),
        ("query: key-123%2Fabc", "query: [redacted]"),
        ("quote: pa\\\"ss w0rd and pa\"ss w0rd", "quote: [redacted] and [redacted]"),
        ("form: pa%22ss%20w0rd", "form: [redacted]"),
        ("nothing secret here", "nothing secret here"),
    ])
    func valuesAreMaskedInEveryForm(_ text: String, _ expected: String) {
        #expect(mask.mask(text) == expected)
    }

    @Test(arguments: [
        // (text, holds "aab"): at the start, the end, after a near miss that shares its start, none, too short,
        // beside characters of several bytes
        ("aab…", true), ("…aab", true), ("aaab", true), ("abab", false), ("aa", false), ("ééaabé", true),
        ("", false),
    ])
    func theByteSearchFindsEveryPlaceAndNoOther(_ text: String, _ holds: Bool) {
        #expect(SecretMask(["aab"]).finds(in: text) == holds)
        #expect(SecretMask(["aab"]).mask(text) == (holds ? text.replacing("aab", with: "[redacted]") : text))
    }

    @Test func jsonStringsAndMemberNamesAreMaskedDeeply() {
        let value: JSONValue = .object([
            "message": "you sent Authorization: Bearer key-123/abc",
            "echo": .object(["key-123/abc": .array([.string("x pa\"ss w0rd y"), .integer(3)])]),
        ])
        let masked = mask.mask(value)
        #expect(
            masked
                == .object([
                    "message": "you sent Authorization: Bearer [redacted]",
                    "echo": .object(["[redacted]": .array([.string("x [redacted] y"), .integer(3)])]),
                ])
        )
    }

    @Test func secretMembersAreMaskedByNameEvenWhenTheValueIsNotKnown() {
        // A job's password is erased once Kinsta accepts it; an echo of it later is caught by its member's name
        let mask = SecretMask([String]())
        #expect(
            mask.mask(#"body: {"display_name":"A","admin_password":"s3cr3t!","x":1}"#)
                == #"body: {"display_name":"A","admin_password":"[redacted]","x":1}"#
        )
        #expect(
            mask.mask(#"escaped: {\"admin_password\":\"s3cr3t!\"}"#) == #"escaped: {\"admin_password\":\"[redacted]\"}"#
        )
        #expect(mask.mask("form: admin_password=s3cr3t%21&x=1") == "form: admin_password=[redacted]&x=1")
        #expect(
            mask.mask(.object(["admin_password": "s3cr3t!", "admin_user": "bob"]))
                == .object(["admin_password": "[redacted]", "admin_user": "bob"])
        )
    }

    @Test func registryHoldsJobSecretsUntilReleased() {
        let registry = SecretRegistry(fixed: ["api-key-1"])
        registry.setConfigured(["whsec_abc"])
        registry.hold(job: 7, ["hunter22"])
        #expect(registry.mask.mask("api-key-1 whsec_abc hunter22") == "[redacted] [redacted] [redacted]")
        registry.release(job: 7)
        #expect(registry.mask.mask("hunter22") == "hunter22")
        #expect(registry.mask.mask("api-key-1") == "[redacted]")
    }
}
