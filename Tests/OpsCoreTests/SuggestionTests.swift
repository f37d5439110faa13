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

    /// An input no name could be (60,000 characters, in a request body) gets no suggestion: nothing is compared, so
    /// its cost does not grow with it (docs/reliability.md, "Socket fuzz").
    @Test func aHugeInputIsNotCompared() {
        #expect(Suggestion.closest(to: String(repeating: "x", count: 60_000), among: Self.commands) == nil)
        #expect(Suggestion.closest(to: "jobs" + String(repeating: "s", count: 200), among: ["jobs"]) == nil)
        // Lengths further apart than the edits allowed are not compared: "jo" is not "jobs" (2 edits, limit 1)
        #expect(Suggestion.closest(to: "jbo", among: ["jobs"]) == nil)
        #expect(Suggestion.closest(to: "jbos", among: ["jobs"]) == "jobs")
    }
}
