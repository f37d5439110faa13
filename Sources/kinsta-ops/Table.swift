import Synchronization

/// A plain-text table: a header row, then one line per row, columns two spaces apart.
///
/// Each column is as wide as its widest cell (capped by ``Column/maxWidth``; longer cells end in `…`, unless
/// `--no-trunc` turned ``truncates`` off). The last column, where messages and reasons go, is never cut and not padded,
/// so lines carry no trailing spaces and a long reason runs on (the terminal wraps it) instead of ending in `…`.
struct Table {
    /// Whether capped columns are cut (`--no-trunc` turns it off for the whole run).
    static let truncates = Atomic<Bool>(true)

    enum Alignment {
        case left, right
    }

    struct Column {
        var title: String
        var alignment: Alignment
        var minWidth: Int
        var maxWidth: Int?
        /// Its cells end in a job state, coloured on a terminal (``Colour``).
        var states: Bool

        init(
            _ title: String,
            alignment: Alignment = .left,
            minWidth: Int = 0,
            maxWidth: Int? = nil,
            states: Bool = false
        ) {
            self.title = title
            self.alignment = alignment
            self.minWidth = minWidth
            self.maxWidth = maxWidth
            self.states = states
        }
    }

    var columns: [Column]
    var rows: [[String]] = []

    init(_ columns: [Column]) {
        self.columns = columns
    }

    /// Adds a row; missing cells are empty.
    mutating func append(_ cells: [String]) {
        rows.append(cells)
    }

    /// Column widths fitting the header and `rows`, within each column's bounds.
    func widths(for rows: [[String]]) -> [Int] {
        columns.enumerated().map { index, column in
            var width = max(column.minWidth, column.title.count)
            for row in rows where index < row.count {
                width = max(width, row[index].count)
            }
            if let maxWidth = column.maxWidth, Self.truncates.load(ordering: .relaxed) {
                width = min(width, max(maxWidth, column.title.count))
            }
            return width
        }
    }

    /// The header line for the given widths.
    func header(widths: [Int]) -> String {
        line(columns.map(\.title), widths: widths, header: true)
    }

    /// One row laid out with the given widths; colour is added after the padding, so it takes no width.
    func line(_ cells: [String], widths: [Int], header: Bool = false) -> String {
        var parts: [String] = []
        for (index, column) in columns.enumerated() {
            let width = widths[index]
            let isLast = index == columns.count - 1
            let text = index < cells.count ? cells[index] : ""
            var cell = isLast || !Self.truncates.load(ordering: .relaxed) ? text : Format.truncate(text, to: width)
            let padding = String(repeating: " ", count: max(0, width - cell.count))
            if column.states && !header { cell = Colour.states(in: cell) }
            switch column.alignment {
            case .left: parts.append(isLast ? cell : cell + padding)
            case .right: parts.append(padding + cell)
            }
        }
        var text = parts.joined(separator: "  ")
        while text.last == " " { text.removeLast() }
        return text
    }

    /// The whole table: header and rows, one string per line.
    func render() -> [String] {
        let widths = widths(for: rows)
        return [header(widths: widths)] + rows.map { line($0, widths: widths) }
    }
}

/// Aligned `key  value` lines, as `show` and `health` print them.
struct KeyValueBlock {
    var pairs: [(key: String, value: String)] = []

    /// Adds a pair; a `nil` value leaves the key out; an empty key continues the previous pair's value.
    mutating func add(_ key: String, _ value: String?) {
        if let value { pairs.append((key, value)) }
    }

    /// One line per pair, values starting in the same column.
    func render() -> [String] {
        let width = pairs.map(\.key.count).max() ?? 0
        return pairs.map { key, value in
            // An empty key continues the previous pair (one parameter a line under `params:`).
            let label = (key.isEmpty ? " " : key + ":") + String(repeating: " ", count: width - key.count)
            var text = "\(label)  \(value)"
            while text.last == " " { text.removeLast() }
            return text
        }
    }
}
