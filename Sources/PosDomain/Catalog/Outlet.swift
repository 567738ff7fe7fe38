/// Whether an outlet takes orders now, as the platform set it (`PATCH /outlets/{id}/status`).
public enum OutletStatus: String, Sendable, Codable, CaseIterable {
    case open = "OPEN"
    case closed = "CLOSED"
}

/// An outlet (a restaurant's store) of a tenant: the canonical Outlet object of the API.
/// `address`, `contact`, `openingHours` and `capabilities` are kept as the JSON the caller sent
/// (contact may be a string or an object).
public struct Outlet: Sendable, Equatable {
    public var id: String
    public var tenantId: String
    public var name: String
    public var status: OutletStatus
    /// The POS's id for it, unique per (tenant, provider) when set.
    public var externalId: String?
    /// Which provider's sync created or linked it (`X-Provider`, default `cata`).
    public var provider: String
    public var internalName: String?
    public var slug: String
    public var refCode: String?
    public var imageUrl: String?
    public var address: JSONValue?
    public var contact: JSONValue?
    public var isBusy: Bool
    /// Until when it is busy; nil for "until told otherwise".
    public var busyUntil: Int64?
    public var visible: Bool
    /// IANA time zone name (`Asia/Singapore`): menus' availabilities are read in it.
    public var timezone: String
    /// ISO 4217 code of the outlet's prices, when the POS said.
    public var currency: String?
    public var openingHours: JSONValue?
    public var capabilities: JSONValue?
    public var locationId: String?
    public var channelLinkId: String?
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: String, tenantId: String, name: String, status: OutletStatus, externalId: String?, provider: String, internalName: String?,
                slug: String, refCode: String?, imageUrl: String?, address: JSONValue?, contact: JSONValue?, isBusy: Bool, busyUntil: Int64?,
                visible: Bool, timezone: String, openingHours: JSONValue?, capabilities: JSONValue?, locationId: String?, channelLinkId: String?,
                createdAt: Int64, updatedAt: Int64, currency: String? = nil) {
        self.id = id
        self.tenantId = tenantId
        self.name = name
        self.status = status
        self.externalId = externalId
        self.provider = provider
        self.internalName = internalName
        self.slug = slug
        self.refCode = refCode
        self.imageUrl = imageUrl
        self.address = address
        self.contact = contact
        self.isBusy = isBusy
        self.busyUntil = busyUntil
        self.visible = visible
        self.timezone = timezone
        self.currency = currency
        self.openingHours = openingHours
        self.capabilities = capabilities
        self.locationId = locationId
        self.channelLinkId = channelLinkId
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public var isOpen: Bool { status == .open }

    /// Busy at `time`: set, and not past `busyUntil`.
    public func isBusy(at time: Int64) -> Bool { isBusy && (busyUntil.map { $0 > time } ?? true) }
}
