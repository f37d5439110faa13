/// "Did you mean …?" for a misspelt command, kind, state or parameter name.
public enum Suggestion {
    /// The candidate closest to `input`, when it is close enough to be what was meant: within a third of its length
    /// in edits (at least 1, at most 3; case and `-`/`_` ignored), or the one candidate that starts with `input`.
    ///
    /// Its cost is bounded whatever the input: a name longer than ``maximumLength`` gets no suggestion, and a candidate
    /// whose length is further from the input's than the edits allowed is not compared (a 60,000-character "kind"
    /// in a request body once took seconds of a core here, holding up every request behind it).
    public static func closest(to input: String, among candidates: some Sequence<String>) -> String? {
        guard input.utf8.count <= maximumLength * 4 else { return nil }
        let wanted = normalized(input)
        guard !wanted.isEmpty, wanted.count <= maximumLength else { return nil }
        let candidates = Array(candidates)
        let limit = min(3, max(1, wanted.count / 3))
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let name = normalized(candidate)
            guard abs(name.count - wanted.count) <= limit else { continue }
            let distance = editDistance(wanted, name)
            if distance <= limit, distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        if let best { return best.name }
        let prefixed = candidates.filter { normalized($0).starts(with: wanted) }
        return prefixed.count == 1 ? prefixed[0] : nil
    }

    /// The longest input a suggestion is looked for: longer than any name the daemon or the CLI knows.
    public static let maximumLength = 100

    /// ` (did you mean X?)` for the closest candidate, or nothing.
    public static func hint(for input: String, among candidates: some Sequence<String>) -> String {
        closest(to: input, among: candidates).map { " (did you mean \($0)?)" } ?? ""
    }

    static func normalized(_ text: String) -> [Character] {
        Array(text.lowercased().map { $0 == "-" ? "_" : $0 })
    }

    /// Levenshtein distance, with a swap of two neighbours counting as one edit.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var before = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], before[j - 2] + 1)
                }
            }
            (before, previous, current) = (previous, current, before)
        }
        return previous[b.count]
    }
}
