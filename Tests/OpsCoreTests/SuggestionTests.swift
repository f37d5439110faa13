import OpsCore
import Testing

@Suite struct SuggestionTests {
    static let commands = ["submit", "kinds", "jobs", "show", "wait", "history", "cancel", "retry", "health", "sites"]

    @Test(arguments: [
        ("submti", "submit"), ("sumbit", "submit"), ("hsitory", "history"), ("job", "jobs"), ("helth", "health"),
        ("canel", "cancel"), ("hist", "history"),
    ])
    func suggestsWhatWasMeant(_ input: String, _ expected: String) {
        #expect(Suggestion.closest(to: input, among: Self.commands) == expected)
    }

    @Test func kindsStatesAndParameters() {
        let kinds = JobKind.allCases.map(\.rawValue)
        #expect(Suggestion.closest(to: "site.creat", among: kinds) == "site.create")
        #expect(Suggestion.closest(to: "backup.restor", among: kinds) == "backup.restore")
        #expect(Suggestion.closest(to: "faild", among: JobState.allCases.map(\.rawValue)) == "failed")
        #expect(
            Suggestion.closest(to: "needs-attention", among: JobState.allCases.map(\.rawValue)) == "needs_attention"
        )
        #expect(Suggestion.closest(to: "displayname", among: ["display_name", "region"]) == "display_name")
    }

    @Test func suggestsNothingFarOff() {
        #expect(Suggestion.closest(to: "deploy", among: Self.commands) == nil)
        #expect(Suggestion.closest(to: "x", among: Self.commands) == nil)
        #expect(Suggestion.closest(to: "", among: Self.commands) == nil)
        #expect(Suggestion.hint(for: "zzzz", among: Self.commands) == "")
        #expect(Suggestion.hint(for: "jbos", among: Self.commands) == " (did you mean jobs?)")
    }
}
