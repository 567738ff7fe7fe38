/// A menu the platform's editor composes before it goes live: sections of products named by
/// `itemCode`, the weekly hours it is served, and the outlets it is meant for. Publishing turns it
/// into a live menu of each outlet (``MenuDraft/liveMenu(menuId:products:currency:)``); the
/// draft itself never changes what an outlet sells.
public struct MenuDraft: Sendable, Equatable {
    /// A product placed in a section; `price` overrides the product's own price in this menu.
    public struct Item: Sendable, Equatable {
        public var itemCode: String
        public var price: CatalogPrice?

        public init(itemCode: String, price: CatalogPrice? = nil) {
            self.itemCode = itemCode
            self.price = price
        }
    }

    public struct Section: Sendable, Equatable {
        /// Stable across edits, so an editor can address it (`…/sections/{sectionId}/items`).
        public var id: String
        public var name: String
        public var description: String?
        public var items: [Item]

        public init(id: String, name: String, description: String? = nil, items: [Item] = []) {
            self.id = id
            self.name = name
            self.description = description
            self.items = items
        }
    }

    public var name: String
    public var description: String?
    /// As a live menu's `menuType`: 0 delivery and pickup, 1 delivery, 2 pickup, 3 eat-in.
    public var menuType: Int
    public var sections: [Section]
    /// Weekly windows in each outlet's own time zone; none means always served.
    public var operatingHours: [AvailabilityWindow]
    /// The outlets a publish without `outletIds` sends the draft to.
    public var outletIds: [String]

    public init(name: String, description: String? = nil, menuType: Int = 0, sections: [Section] = [],
                operatingHours: [AvailabilityWindow] = [], outletIds: [String] = []) {
        self.name = name
        self.description = description
        self.menuType = menuType
        self.sections = sections
        self.operatingHours = operatingHours
        self.outletIds = outletIds
    }

    public static let maxSections = 200
    public static let maxItemsPerSection = 1_000
    public static let maxOutlets = 1_000

    static let keys: Set<String> = ["name", "description", "menuType", "sections", "operatingHours", "outletIds"]

    /// Reads a draft body (also the stored document), naming the first invalid field by its JSON
    /// path (`sections[1].items[0].itemCode`). A section without an `id` gets one from `makeId`.
    public init(_ reader: FieldReader, makeId: () -> String) throws(ValidationError) {
        try reader.rejectUnknownKeys(allowed: Self.keys, kind: "a menu draft field")
        name = try reader.string("name", maxLength: 256)
        description = try reader.optionalText("description", maxLength: 5_000)
        menuType = reader.isAbsent("menuType") ? 0 : try reader.integer("menuType", in: OutletMenu.menuTypes)
        var sectionIds = Set<String>()
        sections = []
        for element in try reader.optionalArray("sections", maxCount: Self.maxSections) {
            let section = try Self.section(try FieldReader.object(element.node, path: element.path), makeId: makeId)
            guard sectionIds.insert(section.id).inserted else {
                throw ValidationError(field: "\(element.path).id", message: "repeats section \"\(section.id)\"")
            }
            sections.append(section)
        }
        operatingHours = try Self.hours(reader)
        outletIds = try Self.outletIds(reader)
    }

    /// One section body: `{id?, name, description?, items?}`.
    public static func section(_ reader: FieldReader, makeId: () -> String) throws(ValidationError) -> Section {
        try reader.rejectUnknownKeys(allowed: ["id", "name", "description", "items"], kind: "a section field")
        let id = reader.isAbsent("id") ? makeId() : try reader.identifier("id")
        return Section(id: id, name: try reader.string("name", maxLength: 256), description: try reader.optionalText("description", maxLength: 5_000),
                       items: try items(reader))
    }

    /// `items: [{itemCode, price?}]`, each code once.
    public static func items(_ reader: FieldReader) throws(ValidationError) -> [Item] {
        var seen: [String: String] = [:]
        var items: [Item] = []
        for element in try reader.optionalArray("items", maxCount: maxItemsPerSection) {
            let item = try FieldReader.object(element.node, path: element.path)
            try item.rejectUnknownKeys(allowed: ["itemCode", "price"], kind: "a section item field")
            let code = try item.identifier("itemCode")
            if let first = seen[code] {
                throw ValidationError(field: item.path("itemCode"), message: "repeats \(first) (\"\(code)\"); an item appears once in a section")
            }
            seen[code] = item.path("itemCode")
            items.append(Item(itemCode: code, price: try item.optionalPrice("price")))
        }
        return items
    }

    /// `operatingHours: [{dayOfWeek, startTime, endTime}]`.
    public static func hours(_ reader: FieldReader) throws(ValidationError) -> [AvailabilityWindow] {
        try reader.optionalArray("operatingHours", maxCount: 7 * 24).map { element throws(ValidationError) in
            try FieldReader.object(element.node, path: element.path).rejectUnknownKeys(allowed: ["dayOfWeek", "startTime", "endTime"], kind: "an operating hours field")
            return try AvailabilityWindow(json: JSONValue(element.node), path: element.path)
        }
    }

    /// `outletIds: [id]`, each once.
    public static func outletIds(_ reader: FieldReader, key: String = "outletIds") throws(ValidationError) -> [String] {
        var ids: [String] = []
        var seen = Set<String>()
        for element in try reader.optionalArray(key, maxCount: maxOutlets) {
            guard case .string(let id) = element.node.kind, !id.isEmpty, id.utf8.count <= DispatchValidator.maxIdentifierLength else {
                throw ValidationError(field: element.path, message: "must be an outlet id")
            }
            guard seen.insert(id).inserted else { throw ValidationError(field: element.path, message: "repeats outlet \"\(id)\"") }
            ids.append(id)
        }
        return ids
    }

    /// Every `itemCode` the draft names, in order, with the path of its first use.
    public var itemCodes: [(code: String, path: String)] {
        var seen = Set<String>()
        var codes: [(String, String)] = []
        for (index, section) in sections.enumerated() {
            for (position, item) in section.items.enumerated() where seen.insert(item.itemCode).inserted {
                codes.append((item.itemCode, "sections[\(index)].items[\(position)].itemCode"))
            }
        }
        return codes
    }

    /// The canonical document, read back by ``init(_:makeId:)``.
    public var document: JSONValue {
        .object([
            ("name", .string(name)),
            ("description", description.map(JSONValue.string) ?? .null),
            ("menuType", .integer(menuType)),
            ("sections", .array(sections.map { section in
                .object([
                    ("id", .string(section.id)), ("name", .string(section.name)), ("description", section.description.map(JSONValue.string) ?? .null),
                    ("items", .array(section.items.map { .object([("itemCode", .string($0.itemCode)), ("price", $0.price?.json ?? .null)]) })),
                ])
            })),
            ("operatingHours", .array(operatingHours.map(\.json))),
            ("outletIds", .array(outletIds.map(JSONValue.string))),
        ])
    }
}

// MARK: Publishing

extension MenuDraft {
    /// Why a draft cannot become a live menu of one outlet.
    public struct PublishProblem: Error, Equatable, Sendable {
        public var message: String
    }

    /// The draft as a live menu (the menu-push shape ``OutletMenu`` reads) with menu id `menuId`, in
    /// an outlet's `currency` (its minor units). An item's price is the section item's own, else the
    /// product's; an outlet's own price from products sync wins over both when the menu is read.
    /// Each product brings its modifier groups.
    public func liveMenu(menuId: String, products: [String: Product], currency: Currency) throws(PublishProblem) -> JSONValue {
        func minor(_ price: CatalogPrice, _ what: String) throws(PublishProblem) -> Int64 {
            let scale = Self.powerOfTen(CatalogPrice.fractionDigits - currency.exponent)
            guard price.tenThousandths % scale == 0 else {
                throw PublishProblem(message: "\(what) costs \(price.decimalText), which \(currency.code) cannot charge (\(currency.exponent) fraction digits)")
            }
            return price.tenThousandths / scale
        }
        var entries: [(String, JSONValue)] = []
        var groups: [(String, JSONValue)] = []
        var modifiers: [(String, JSONValue)] = []
        var placed = Set<String>()
        func entry(plu: String, name: String, price: Int64?, children: [String]) -> JSONValue {
            .object([("plu", .string(plu)), ("name", .string(name)), ("price", price.map(JSONValue.integer) ?? .null),
                     ("subProducts", .array(children.map(JSONValue.string)))])
        }
        for section in sections {
            for item in section.items where placed.insert(item.itemCode).inserted {
                guard let product = products[item.itemCode] else {
                    throw PublishProblem(message: "no product with itemCode \"\(item.itemCode)\" (it was deleted or never synced)")
                }
                let price = item.price ?? product.price
                var groupIds: [String] = []
                for group in product.modifierGroups {
                    let groupId = "\(product.itemCode)/\(group.code)"
                    groupIds.append(groupId)
                    var optionIds: [String] = []
                    for option in group.options {
                        let optionId = "\(groupId)/\(option.itemCode)"
                        optionIds.append(optionId)
                        modifiers.append((optionId, entry(plu: option.itemCode, name: option.name,
                                                          price: try minor(option.price, "option \(option.itemCode) of \(product.itemCode)"), children: [])))
                    }
                    groups.append((groupId, .object([("name", .string(group.name)), ("min", .integer(group.min)), ("max", .integer(group.max)),
                                                     ("subProducts", .array(optionIds.map(JSONValue.string)))])))
                }
                entries.append((product.itemCode, entry(plu: product.itemCode, name: product.name, price: try minor(price, product.itemCode), children: groupIds)))
            }
        }
        return .object([
            ("menuId", .string(menuId)), ("menu", .string(name)), ("menuType", .integer(menuType)), ("decimalDigits", .integer(currency.exponent)),
            ("availabilities", .array(operatingHours.map(\.json))),
            ("categories", .array(sections.map { section in
                .object([("name", .string(section.name)), ("products", .array(section.items.map { .string($0.itemCode) }))])
            })),
            ("products", .object(entries)), ("modifierGroups", .object(groups)), ("modifiers", .object(modifiers)),
        ])
    }

    private static func powerOfTen(_ exponent: Int) -> Int64 {
        (0..<max(0, exponent)).reduce(1) { value, _ in value * 10 }
    }
}

extension AvailabilityWindow {
    /// `{dayOfWeek, startTime, endTime}`, as ``init(json:path:)`` reads it.
    public var json: JSONValue {
        func time(_ minutes: Int) -> JSONValue {
            let hours = minutes / 60, rest = minutes % 60
            return .string((hours < 10 ? "0" : "") + String(hours) + ":" + (rest < 10 ? "0" : "") + String(rest))
        }
        return .object([("dayOfWeek", .integer(dayOfWeek)), ("startTime", time(startMinute)), ("endTime", time(endMinute))])
    }
}
