/// What the daemon takes as a Kinsta operation ID, and how one goes into a URL.
///
/// An operation ID is an opaque token that the daemon stores and later puts into `GET /operations/{id}`. Taken as
/// it comes, a hostile or broken answer could steer that poll elsewhere: an ID of `..` or `../../sites/…` made the
/// poll URL fold to another path. So an ID that no path segment can carry as itself is refused at the submit answer
/// (the job is then settled by reading Kinsta, as for any ambiguous answer), and the poll path encodes whatever is
/// left so that it can only name one segment under `/operations/`.
public enum OperationID {
    /// Longer than any ID Kinsta hands out (`sites:add-<uuid>` is under 60 characters) by far.
    public static let maxLength = 512

    /// Why `id` is not an operation ID the daemon will poll, or `nil` when it is one. The reason never quotes the
    /// ID, which may hold anything.
    public static func refusal(_ id: String) -> String? {
        if id.isEmpty { return "it is empty" }
        if id.count > maxLength { return "it is longer than \(maxLength) characters" }
        if id == "." || id == ".." { return "it is a dot segment" }
        for scalar in id.unicodeScalars {
            if scalar == "/" { return "it holds a /" }
            if scalar.properties.generalCategory == .control { return "it holds a control character" }
        }
        return nil
    }

    /// `/operations/{id}`, relative to the API base.
    public static func pollPath(_ id: String) -> String { "/operations/" + pathSegment(id) }

    /// `id` as one path segment: RFC 3986 unreserved characters and `:` as they are (Kinsta's OpenAPI file writes
    /// IDs raw and every public client sends the `:` unencoded: docs/kinsta-api.md, "Operation IDs"), every other
    /// byte percent-encoded, so `/ ? # %`, spaces and controls cannot end the segment, the path or the URL. A segment of dots alone is
    /// encoded too, so no `.` or `..` segment is ever sent (the transport also sends paths as they are:
    /// `CURLOPT_PATH_AS_IS` in CurlTransfer).
    public static func pathSegment(_ id: String) -> String {
        let onlyDots = !id.isEmpty && id.utf8.allSatisfy { $0 == UInt8(ascii: ".") }
        var out = ""
        out.reserveCapacity(id.utf8.count)
        for byte in id.utf8 {
            let scalar = Unicode.Scalar(byte)
            let keep =
                scalar.isASCII
                && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                    || "-_~:".unicodeScalars.contains(scalar) || (scalar == "." && !onlyDots))
            if keep {
                out.unicodeScalars.append(scalar)
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
