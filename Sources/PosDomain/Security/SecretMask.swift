/// What may be shown of text that came back from a third party (a response body, an error): long
/// runs of token-like characters are cut to their first four, so a secret echoed by a POS or a
/// receiver is not shown whole on a page.
public enum SecretMask {
    /// Runs at least this long are masked: shorter ones are words, ids and status codes.
    public static let minimumRun = 20

    public static func excerpt(_ text: String, limit: Int = 300) -> String {
        var out = ""
        var run = ""
        func flush() {
            out += run.count >= minimumRun ? String(run.prefix(4)) + "…[masked]" : run
            run = ""
        }
        for character in text.prefix(limit) {
            if character.isLetter || character.isNumber || character == "_" || character == "-" || character == "+" || character == "=" {
                run.append(character)
            } else {
                flush()
                out.append(character)
            }
        }
        flush()
        return text.count > limit ? out + "…" : out
    }
}
