import Hummingbird
import PosDomain
import PosServices

extension DeliveryQuery {
    /// `?status=&outletId=&webhookId=&since=&limit=&cursor=`, each checked in that order; a
    /// webhook's own list passes its id instead of reading `outletId` and `webhookId`.
    init(query: Parameters, webhookId pinned: Int64? = nil) throws(ServiceError) {
        self.init()
        if let text = query["status"] {
            guard let status = DeliveryStatus(rawValue: String(text)) else {
                throw .invalid(field: "status", message: "status must be one of pending, delivering, delivered, failed, dead")
            }
            self.status = status
        }
        if let pinned {
            webhookId = pinned
        } else {
            outletId = query["outletId"].map(String.init)
            if let text = query["webhookId"] {
                guard let id = Int64(String(text)) else { throw .invalid(field: "webhookId", message: "webhookId must be an integer") }
                webhookId = id
            }
        }
        if let text = query["since"] {
            guard let since = RFC3339.parseMilliseconds(String(text)) else {
                throw .invalid(field: "since", message: "since must be an RFC 3339 date-time such as 2026-03-16T15:05:33Z")
            }
            self.since = since
        }
        limit = try QueryFields.limit(query)
        cursor = query["cursor"].map(String.init)
    }
}

/// Query parameters several lists share.
enum QueryFields {
    /// `?limit=`: 1 to 200; nil when absent.
    static func limit(_ query: Parameters) throws(ServiceError) -> Int? {
        guard let text = query["limit"] else { return nil }
        guard let limit = Int(String(text)), (1...200).contains(limit) else {
            throw .invalid(field: "limit", message: "limit must be an integer from 1 to 200")
        }
        return limit
    }
}
