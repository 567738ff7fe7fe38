import Foundation

/// An outlet as `POST /outlets` and `POST /outlets/sync` describe it, validated. Optional fields
/// left out (or null) are nil: a sync then keeps what the outlet has.
public struct OutletInput: Sendable, Equatable {
    public var name: String
    public var externalId: String?
    public var internalName: String?
    public var slug: String?
    public var refCode: String?
    public var imageUrl: String?
    public var address: JSONValue?
    /// A string (phone or e-mail) or an object of strings.
    public var contact: JSONValue?
    public var visible: Bool?
    public var timezone: String
    public var currency: String?
    public var openingHours: JSONValue?
    public var capabilities: JSONValue?
    public var locationId: String?
    public var channelLinkId: String?

    public init(name: String, externalId: String? = nil, internalName: String? = nil, slug: String? = nil, refCode: String? = nil,
                imageUrl: String? = nil, address: JSONValue? = nil, contact: JSONValue? = nil, visible: Bool? = nil, timezone: String,
                currency: String? = nil, openingHours: JSONValue? = nil, capabilities: JSONValue? = nil, locationId: String? = nil,
                channelLinkId: String? = nil) {
        self.name = name
        self.externalId = externalId
        self.internalName = internalName
        self.slug = slug
        self.refCode = refCode
        self.imageUrl = imageUrl
        self.address = address
        self.contact = contact
        self.visible = visible
        self.timezone = timezone
        self.currency = currency
        self.openingHours = openingHours
        self.capabilities = capabilities
        self.locationId = locationId
        self.channelLinkId = channelLinkId
    }
}

/// Reads outlet bodies, naming the first invalid field by its JSON path.
public enum OutletValidator {
    public static let fields: Set<String> = [
        "name", "externalId", "internalName", "slug", "refCode", "imageUrl", "address", "contact", "visible", "timezone", "currency",
        "openingHours", "capabilities", "locationId", "channelLinkId",
    ]
    public static let addressFields: Set<String> = ["street1", "street2", "city", "stateProvince", "postalCode", "country", "latitude", "longitude"]
    public static let openingHoursFields: Set<String> = ["dayOfWeek", "openTime", "closeTime"]
    static let maxContactMembers = 20

    /// `externalIdRequired`: a sync matches by it; a plain create may leave it out.
    public static func input(_ root: JSONNode, externalIdRequired: Bool) throws(ValidationError) -> OutletInput {
        let reader = try FieldReader.object(root, path: "")
        try reader.rejectUnknownKeys(allowed: fields)
        let name = try reader.string("name", maxLength: 255)
        var externalId: String?
        if externalIdRequired || !reader.isAbsent("externalId") { externalId = try Self.externalId(reader) }
        let slug = try reader.optionalText("slug", maxLength: 255)
        if let slug, !isSlug(slug) {
            throw ValidationError(field: "slug", message: "must be lowercase letters, digits and inner hyphens")
        }
        let imageUrl = try reader.optionalText("imageUrl", maxLength: 2048)
        if let imageUrl {
            guard let url = URL(string: imageUrl), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
                throw ValidationError(field: "imageUrl", message: "must be an absolute http(s) URL")
            }
        }
        let timezone = try reader.string("timezone", maxLength: 64)
        guard isTimeZone(timezone) else {
            throw ValidationError(field: "timezone", message: "must be an IANA time zone name such as \"Asia/Singapore\"")
        }
        let currency = try reader.optionalText("currency", maxLength: 3)
        if let currency, Currency(code: currency) == nil {
            throw ValidationError(field: "currency", message: "must be an ISO 4217 currency code such as \"SGD\"")
        }
        var capabilities: JSONValue?
        if !reader.isAbsent("capabilities") {
            let node = try reader.required("capabilities")
            guard case .object = node.kind else { throw ValidationError(field: "capabilities", message: "must be an object, not \(node.typeName)") }
            capabilities = JSONValue(node)
        }
        return OutletInput(
            name: name, externalId: externalId, internalName: try reader.optionalText("internalName", maxLength: 255), slug: slug,
            refCode: try reader.optionalText("refCode", maxLength: 255), imageUrl: imageUrl, address: try address(reader),
            contact: try contact(reader), visible: try reader.optionalBool("visible"), timezone: timezone, currency: currency,
            openingHours: try openingHours(reader), capabilities: capabilities,
            locationId: try reader.optionalText("locationId", maxLength: 255), channelLinkId: try reader.optionalText("channelLinkId", maxLength: 255))
    }

    /// The POS's id, as text: POS systems number their locations, so an integer is taken too.
    static func externalId(_ reader: FieldReader) throws(ValidationError) -> String {
        let node = try reader.required("externalId")
        switch node.kind {
        case .string(let text) where !text.allSatisfy(\.isWhitespace) && text.utf8.count <= DispatchValidator.maxIdentifierLength: return text
        case .number(let text) where (try? ExactDecimal(text))?.integerValue != nil: return text
        default: throw ValidationError(field: "externalId", message: "must be the outlet's id in the POS: a non-empty string or an integer")
        }
    }

    /// `{street1, street2, city, stateProvince, postalCode, country, latitude, longitude}`, each optional;
    /// coordinates are numbers kept as sent.
    static func address(_ reader: FieldReader) throws(ValidationError) -> JSONValue? {
        guard !reader.isAbsent("address") else { return nil }
        let address = try FieldReader.object(try reader.required("address"), path: "address")
        try address.rejectUnknownKeys(allowed: addressFields, kind: "an address field")
        for key in ["street1", "street2", "city", "stateProvince", "postalCode", "country"] {
            _ = try address.optionalText(key, maxLength: 500)
        }
        for (key, limit) in [("latitude", 90 as UInt64), ("longitude", 180)] where !address.isAbsent(key) {
            let node = try address.required(key)
            guard case .number(let text) = node.kind else {
                throw ValidationError(field: address.path(key), message: "must be a number, not \(node.typeName)")
            }
            guard let number = try? ExactDecimal(text), number.magnitude(atMost: limit) else {
                throw ValidationError(field: address.path(key), message: "must be between -\(limit) and \(limit)")
            }
        }
        return JSONValue(address.node)
    }

    /// A phone number or e-mail as a string, or an object of strings (`{"phone": …, "email": …}`).
    static func contact(_ reader: FieldReader) throws(ValidationError) -> JSONValue? {
        guard !reader.isAbsent("contact") else { return nil }
        let node = try reader.required("contact")
        switch node.kind {
        case .string:
            return .string(try reader.string("contact", maxLength: 500))
        case .object(let members):
            guard members.count <= maxContactMembers else {
                throw ValidationError(field: "contact", message: "must have at most \(maxContactMembers) members")
            }
            let contact = try FieldReader.object(node, path: "contact")
            for member in members { _ = try contact.optionalText(member.key, maxLength: 500) }
            return JSONValue(node)
        default:
            throw ValidationError(field: "contact", message: "must be a string or an object, not \(node.typeName)")
        }
    }

    /// `[{dayOfWeek: 1 (Monday) … 7, openTime: "HH:mm", closeTime: "HH:mm"}]`; a close before the
    /// open is past midnight.
    static func openingHours(_ reader: FieldReader) throws(ValidationError) -> JSONValue? {
        guard !reader.isAbsent("openingHours") else { return nil }
        for element in try reader.optionalArray("openingHours", maxCount: 100) {
            let entry = try FieldReader.object(element.node, path: element.path)
            try entry.rejectUnknownKeys(allowed: openingHoursFields, kind: "an opening hours field")
            _ = try entry.integer("dayOfWeek", in: 1...7)
            for key in ["openTime", "closeTime"] {
                guard isClockTime(try entry.string(key, maxLength: 16)) else {
                    throw ValidationError(field: entry.path(key), message: "must be a time of day as HH:mm (00:00 to 24:00)")
                }
            }
        }
        return JSONValue(try reader.required("openingHours"))
    }

    /// An IANA zone name the system knows (`Asia/Singapore`, `UTC`); abbreviations such as `SGT` are refused.
    public static func isTimeZone(_ name: String) -> Bool {
        (name.contains("/") || name == "UTC") && TimeZone(identifier: name) != nil
    }

    static func isClockTime(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard text.utf8.count == 5, parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]),
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) })
        else { return false }
        return ((0...23).contains(hour) && (0...59).contains(minute)) || (hour == 24 && minute == 0)
    }

    static func isSlug(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") }
    }

    /// A slug made from a name: ASCII letters and digits lowercased, every other run a hyphen (`Orchard Rd #2` → `orchard-rd-2`).
    public static func slug(for name: String) -> String {
        var slug = ""
        for scalar in name.lowercased().unicodeScalars {
            if (0x61...0x7A).contains(scalar.value) || (0x30...0x39).contains(scalar.value) {
                slug.unicodeScalars.append(scalar)
            } else if !slug.isEmpty, !slug.hasSuffix("-") {
                slug += "-"
            }
        }
        while slug.hasSuffix("-") { slug.removeLast() }
        return slug.isEmpty ? "outlet" : String(slug.prefix(255))
    }
}

extension ExactDecimal {
    /// Whether |self| ≤ `limit`, decided on the digits (coordinates carry many).
    func magnitude(atMost limit: UInt64) -> Bool {
        if exponent >= 0 {
            guard let whole = try? scaled(by: 0) else { return false }
            return whole.magnitude <= limit
        }
        // The whole part, and whether anything is left after the point.
        var whole = significand
        var remainder = false
        for _ in 0..<(-exponent) {
            if whole % 10 != 0 { remainder = true }
            whole /= 10
            if whole == 0 { break }
        }
        return whole < limit || (whole == limit && !remainder)
    }
}

/// What an outlet sync did.
public enum OutletSyncAction: String, Sendable, Equatable {
    case created
    case updated
}

extension Outlet {
    /// A new outlet: OPEN, not busy, visible unless told otherwise.
    public static func new(_ input: OutletInput, id: String, tenantId: String, provider: String, at time: Int64) -> Outlet {
        Outlet(id: id, tenantId: tenantId, name: input.name, status: .open, externalId: input.externalId, provider: provider,
               internalName: input.internalName, slug: input.slug ?? OutletValidator.slug(for: input.name), refCode: input.refCode,
               imageUrl: input.imageUrl, address: input.address, contact: input.contact, isBusy: false, busyUntil: nil,
               visible: input.visible ?? true, timezone: input.timezone, openingHours: input.openingHours, capabilities: input.capabilities,
               locationId: input.locationId, channelLinkId: input.channelLinkId, createdAt: time, updatedAt: time, currency: input.currency)
    }

    /// This outlet with what a sync sent: fields it sent replace, fields it left out stay; status and
    /// busy are the platform's and stay. `updatedAt` moves only when something changed.
    public func merging(_ input: OutletInput, provider: String, at time: Int64) -> Outlet {
        var merged = self
        merged.name = input.name
        merged.provider = provider
        merged.externalId = input.externalId ?? externalId
        merged.internalName = input.internalName ?? internalName
        merged.slug = input.slug ?? slug
        merged.refCode = input.refCode ?? refCode
        merged.imageUrl = input.imageUrl ?? imageUrl
        merged.address = input.address ?? address
        merged.contact = input.contact ?? contact
        merged.visible = input.visible ?? visible
        merged.timezone = input.timezone
        merged.currency = input.currency ?? currency
        merged.openingHours = input.openingHours ?? openingHours
        merged.capabilities = input.capabilities ?? capabilities
        merged.locationId = input.locationId ?? locationId
        merged.channelLinkId = input.channelLinkId ?? channelLinkId
        if merged != self { merged.updatedAt = time }
        return merged
    }

    /// The sync's decision: update the outlet already linked to the external id; else link the
    /// oldest outlet of the same name that has no external id yet (map mode); else create one.
    public static func synced(_ input: OutletInput, provider: String, linked: Outlet?, sameName: Outlet?, newId: String, tenantId: String,
                              at time: Int64) -> (action: OutletSyncAction, outlet: Outlet) {
        if let existing = linked ?? sameName { return (.updated, existing.merging(input, provider: provider, at: time)) }
        return (.created, .new(input, id: newId, tenantId: tenantId, provider: provider, at: time))
    }

    /// The canonical Outlet object of the API (and of `outlet.updated`), as of `now`: a busy period
    /// that has ended shows as not busy.
    public func json(at now: Int64) -> JSONValue {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        let busy = isBusy(at: now)
        return .object([
            ("id", .string(id)),
            ("name", .string(name)),
            ("status", .string(status.rawValue)),
            ("isOpen", .bool(isOpen)),
            ("isBusy", .bool(busy)),
            ("busyUntil", busy ? text(busyUntil.map { RFC3339.format(milliseconds: $0) }) : .null),
            ("externalId", text(externalId)),
            ("provider", .string(provider)),
            ("internalName", text(internalName)),
            ("slug", .string(slug)),
            ("refCode", text(refCode)),
            ("imageUrl", text(imageUrl)),
            ("address", address ?? .null),
            ("contact", contact ?? .null),
            ("visible", .bool(visible)),
            ("timezone", .string(timezone)),
            ("currency", text(currency)),
            ("openingHours", openingHours ?? .array([])),
            ("capabilities", capabilities ?? .object([])),
            ("locationId", text(locationId)),
            ("channelLinkId", text(channelLinkId)),
            ("createdAt", .string(RFC3339.format(milliseconds: createdAt))),
            ("updatedAt", .string(RFC3339.format(milliseconds: updatedAt))),
        ])
    }
}

/// A change the platform makes to an outlet's state (`PATCH /outlets/{id}/status`, `…/busy`).
public enum OutletStateChange: Sendable, Equatable {
    case status(OutletStatus)
    /// Busy until the time (nil: until told otherwise); `false` clears the time.
    case busy(Bool, until: Int64?)

    /// `status` or `busy`, as `outlet.updated` names it.
    public var name: String {
        switch self {
        case .status: "status"
        case .busy: "busy"
        }
    }
}

extension Outlet {
    /// This outlet with the change applied; nil when it would change nothing.
    public func applying(_ change: OutletStateChange, at time: Int64) -> Outlet? {
        var changed = self
        switch change {
        case .status(let status):
            changed.status = status
        case .busy(let busy, let until):
            changed.isBusy = busy
            changed.busyUntil = busy ? until : nil
        }
        guard changed != self else { return nil }
        changed.updatedAt = time
        return changed
    }
}
