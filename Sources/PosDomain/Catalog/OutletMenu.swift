/// One menu of an outlet as `POST /outlets/{outletId}/menu` takes it: the menu-push shape POS
/// middleware already produces (menus with weekly availabilities, categories listing product ids,
/// and products, modifier groups and modifiers keyed by id). Prices there are integers in minor
/// units; `decimalDigits` (default 2) says how many.
public struct OutletMenu: Sendable, Equatable {
    /// `menuType`: 0 delivery and pickup, 1 delivery, 2 pickup, 3 eat-in.
    public static let menuTypes = 0...3

    public struct Category: Sendable, Equatable {
        public var name: String
        /// Product ids, in the menu's order.
        public var productIds: [String]

        public init(name: String, productIds: [String]) {
            self.name = name
            self.productIds = productIds
        }
    }

    /// A product, modifier group or modifier: what the read model shows of it.
    public struct Entry: Sendable, Equatable {
        public var id: String
        /// The PLU: our `itemCode`.
        public var plu: String?
        public var name: String
        /// In minor units of the menu's `decimalDigits`.
        public var priceMinor: Int64?
        /// Child ids: a product's modifier groups, a group's modifiers.
        public var children: [String]
        public var min: Int64?
        public var max: Int64?
    }

    public var menuId: String
    public var name: String
    public var menuType: Int
    /// How many of a price's digits are fractional (`1250` with 2 is 12.50).
    public var decimalDigits: Int
    public var availabilities: [AvailabilityWindow]
    public var categories: [Category]
    public var products: [String: Entry]
    public var modifierGroups: [String: Entry]
    public var modifiers: [String: Entry]
    /// PLU → when its snooze ends (ms since the epoch), as the POS pushed it.
    public var snoozed: [String: Int64]

    /// Reads the array body; every error names its field (`[1].products.p-7.price`).
    public static func menus(from json: JSONValue) throws(ValidationError) -> [OutletMenu] {
        guard case .array(let elements) = json else { throw ValidationError(field: "", message: "must be an array of menus") }
        guard !elements.isEmpty else { throw ValidationError(field: "", message: "must hold at least one menu") }
        var seen: Set<String> = []
        var menus: [OutletMenu] = []
        for (index, element) in elements.enumerated() {
            let menu = try OutletMenu(json: element, path: "[\(index)]")
            guard seen.insert(menu.menuId).inserted else {
                throw ValidationError(field: "[\(index)].menuId", message: "repeats menu \"\(menu.menuId)\"")
            }
            menus.append(menu)
        }
        return menus
    }

    init(json: JSONValue, path: String) throws(ValidationError) {
        guard case .object = json else { throw ValidationError(field: path, message: "must be a menu object") }
        func text(_ key: String) throws(ValidationError) -> String {
            guard let value = json[key]?.stringValue, !value.isEmpty, value.utf8.count <= 256 else {
                throw ValidationError(field: "\(path).\(key)", message: "must be a non-empty string of at most 256 bytes")
            }
            return value
        }
        menuId = try text("menuId")
        name = try text("menu")
        guard let type = json["menuType"]?.integerValue, Self.menuTypes.contains(Int(type)) else {
            throw ValidationError(field: "\(path).menuType", message: "must be 0 (delivery and pickup), 1 (delivery), 2 (pickup) or 3 (eat-in)")
        }
        menuType = Int(type)
        if let node = json["decimalDigits"], node != .null {
            guard let value = node.integerValue, (0...4).contains(value) else {
                throw ValidationError(field: "\(path).decimalDigits", message: "must be an integer from 0 to 4")
            }
            decimalDigits = Int(value)
        } else {
            decimalDigits = 2
        }
        availabilities = try Self.list(json, "availabilities", path: path).enumerated().map { index, window throws(ValidationError) in
            try AvailabilityWindow(json: window, path: "\(path).availabilities[\(index)]")
        }
        products = try Self.entries(json, "products", path: path)
        modifierGroups = try Self.entries(json, "modifierGroups", path: path)
        modifiers = try Self.entries(json, "modifiers", path: path)
        categories = try Self.list(json, "categories", path: path).enumerated().map { index, category throws(ValidationError) in
            let at = "\(path).categories[\(index)]"
            guard let name = category["name"]?.stringValue, !name.isEmpty else { throw ValidationError(field: "\(at).name", message: "must be a non-empty string") }
            let ids = try Self.ids(category["products"], field: "\(at).products")
            return Category(name: name, productIds: ids)
        }
        // Every reference resolves, so the read model never meets a dangling id.
        for (index, category) in categories.enumerated() {
            for (position, id) in category.productIds.enumerated() where products[id] == nil {
                throw ValidationError(field: "\(path).categories[\(index)].products[\(position)]", message: "names no product \"\(id)\"")
            }
        }
        for (id, product) in products {
            for group in product.children where modifierGroups[group] == nil {
                throw ValidationError(field: "\(path).products.\(id).subProducts", message: "names no modifier group \"\(group)\"")
            }
        }
        for (id, group) in modifierGroups {
            for modifier in group.children where modifiers[modifier] == nil {
                throw ValidationError(field: "\(path).modifierGroups.\(id).subProducts", message: "names no modifier \"\(modifier)\"")
            }
        }
        snoozed = [:]
        if case .object(let members)? = json["snoozedProducts"] {
            for (id, entry) in members {
                let at = "\(path).snoozedProducts.\(id)"
                guard let plu = entry["plu"]?.stringValue, !plu.isEmpty else { throw ValidationError(field: "\(at).plu", message: "must be a non-empty string") }
                guard let end = entry["snoozeEnd"]?.stringValue.flatMap(Self.snoozeTime) else {
                    throw ValidationError(field: "\(at).snoozeEnd", message: "must be a date-time (RFC 3339, or \"yyyy-MM-dd HH:mm:ss.SSSSSSZ\")")
                }
                snoozed[plu] = max(snoozed[plu] ?? end, end)
            }
        } else if let node = json["snoozedProducts"], node != .null {
            throw ValidationError(field: "\(path).snoozedProducts", message: "must be an object keyed by id")
        }
    }

    private static func list(_ json: JSONValue, _ key: String, path: String) throws(ValidationError) -> [JSONValue] {
        switch json[key] {
        case .array(let elements)?: return elements
        case nil, .null?: return []
        default: throw ValidationError(field: "\(path).\(key)", message: "must be an array")
        }
    }

    private static func ids(_ node: JSONValue?, field: String) throws(ValidationError) -> [String] {
        switch node {
        case nil, .null?: return []
        case .array(let elements)?:
            return try elements.enumerated().map { index, element throws(ValidationError) in
                guard let id = element.stringValue, !id.isEmpty else { throw ValidationError(field: "\(field)[\(index)]", message: "must be an id string") }
                return id
            }
        default: throw ValidationError(field: field, message: "must be an array of ids")
        }
    }

    private static func entries(_ json: JSONValue, _ key: String, path: String) throws(ValidationError) -> [String: Entry] {
        guard let node = json[key], node != .null else { return [:] }
        guard case .object(let members) = node else { throw ValidationError(field: "\(path).\(key)", message: "must be an object keyed by id") }
        var entries: [String: Entry] = [:]
        for (id, value) in members {
            let at = "\(path).\(key).\(id)"
            guard case .object = value else { throw ValidationError(field: at, message: "must be an object") }
            guard let name = value["name"]?.stringValue, !name.isEmpty else { throw ValidationError(field: "\(at).name", message: "must be a non-empty string") }
            var price: Int64?
            if let node = value["price"], node != .null {
                guard let minor = node.integerValue, minor >= 0 else {
                    throw ValidationError(field: "\(at).price", message: "must be a non-negative integer in minor units")
                }
                price = minor
            }
            func bound(_ key: String) throws(ValidationError) -> Int64? {
                guard let node = value[key], node != .null else { return nil }
                guard let number = node.integerValue, number >= 0 else { throw ValidationError(field: "\(at).\(key)", message: "must be a non-negative integer") }
                return number
            }
            let min = try bound("min"), max = try bound("max")
            if let min, let max, min > max { throw ValidationError(field: "\(at).min", message: "must not exceed max (\(max))") }
            entries[id] = Entry(id: id, plu: value["plu"]?.stringValue, name: name, priceMinor: price,
                                children: try ids(value["subProducts"], field: "\(at).subProducts"), min: min, max: max)
        }
        return entries
    }

    /// `minor` as decimal text with `decimalDigits` fraction digits (`1250` → `12.50`).
    public func decimalText(_ minor: Int64) -> String {
        guard decimalDigits > 0 else { return String(minor) }
        let digits = String(minor.magnitude)
        let padded = String(repeating: "0", count: max(0, decimalDigits + 1 - digits.count)) + digits
        let split = padded.index(padded.endIndex, offsetBy: -decimalDigits)
        return (minor < 0 ? "-" : "") + padded[..<split] + "." + padded[split...]
    }

    /// RFC 3339, or the `yyyy-MM-dd HH:mm:ss.SSSSSSZ` form menu pushes use for snoozes.
    static func snoozeTime(_ text: String) -> Int64? {
        if let parsed = RFC3339.parseMilliseconds(text) { return parsed }
        guard text.count > 19, text[text.index(text.startIndex, offsetBy: 10)] == " " else { return nil }
        var normalised = text
        normalised.replaceSubrange(normalised.index(normalised.startIndex, offsetBy: 10)...normalised.index(normalised.startIndex, offsetBy: 10), with: "T")
        if normalised.hasSuffix("+0000") { normalised = String(normalised.dropLast(5)) + "Z" }
        return RFC3339.parseMilliseconds(normalised)
    }
}
