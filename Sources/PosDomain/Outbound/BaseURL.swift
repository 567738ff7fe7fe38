import Foundation

/// Where a service is reached: an absolute http(s) URL with a host and without query or fragment,
/// to which paths are appended (a POS's or a loyalty service's `baseUrl`, a callback).
public enum BaseURL {
    public static func isValid(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            return false
        }
        return url.query == nil && url.fragment == nil
    }
}
